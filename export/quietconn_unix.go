//go:build unix

package export

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
)

// quietConn is a TCP connection whose reads and writes leave the Go
// runtime's system-call bookkeeping out. A read or write through package
// net enters the runtime as a system call that may block, and that wakes
// the runtime's monitor thread (sysmon) whenever it was asleep; awake, it
// checks every 20 µs for as long as the process is busy. An exporter's
// socket is written a few hundred times a second and read about as often
// (replies, flow-control updates), so under a storm the monitor never
// got to sleep: its wake-ups were 14–18 % of procotel's CPU time
// exporting OTLP (perf, exec storm; each wake-up of a thread costs tens of
// microseconds on a VM). The socket is non-blocking, so neither call can
// block: each is made directly, and only an EAGAIN waits, in the runtime's
// network poller as package net would. Deadlines and closing are the
// underlying connection's.
type quietConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

// quietDialOptions are the dial options that make an OTLP/gRPC
// connection to hostPort a quietConn. None when a proxy from the
// environment (HTTPS_PROXY, NO_PROXY) applies to it: gRPC dials through the
// proxy only with its own dialer.
func quietDialOptions(hostPort string) []grpc.DialOption {
	proxy, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: "https", Host: hostPort}})
	if err != nil || proxy != nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return quietDial(ctx, "tcp", addr)
	})}
}

// quietHTTPDial is the OTLP/HTTP transport's DialContext: its connections
// (to the receiver, or to the proxy the transport chose) are quietConns.
var quietHTTPDial = quietDial

// quietDial dials addr and returns a quietConn, or the plain connection
// when it is not TCP or its descriptor cannot be reached.
func quietDial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: quietKeepAlive}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &quietConn{TCPConn: tc, rc: rc}, nil
}

// quietKeepAlive is the TCP keep-alive period of a quietConn: what
// net/http's default transport uses.
const quietKeepAlive = 30 * time.Second

// rawIO makes one read or write system call on fd without telling the
// scheduler; fd is non-blocking.
func rawIO(trap uintptr, fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := unix.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

func (c *quietConn) Read(p []byte) (int, error) {
	var n int
	var errno error
	err := c.rc.Read(func(fd uintptr) bool {
		n, errno = rawIO(unix.SYS_READ, fd, p)
		return errno != unix.EAGAIN
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != nil:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *quietConn) Write(p []byte) (int, error) {
	var done int
	var errno error
	err := c.rc.Write(func(fd uintptr) bool {
		errno = nil
		for done < len(p) {
			n, e := rawIO(unix.SYS_WRITE, fd, p[done:])
			if e != nil {
				errno = e
				return e != unix.EAGAIN
			}
			done += n
		}
		return true
	})
	switch {
	case err != nil:
		return done, c.opError("write", err)
	case errno != nil:
		return done, c.opError("write", os.NewSyscallError("write", errno))
	}
	return done, nil
}

// opError wraps err as package net does, so that callers that look for
// a closed connection or a passed deadline find them.
func (c *quietConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
