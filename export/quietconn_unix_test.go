//go:build unix

package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// quietPair returns a quietConn dialed to a loopback listener and the
// server's side of it.
func quietPair(t *testing.T) (*quietConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := quietDial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	qc, ok := c.(*quietConn)
	if !ok {
		t.Fatalf("quietDial gave a %T, not a *quietConn", c)
	}
	srv, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { qc.Close(); srv.Close() })
	return qc, srv
}

// TestQuietConnTransfers writes more than the socket buffers hold in one
// Write (so that the write meets EAGAIN and waits in the poller) while the
// other side reads slowly, then reads the reply and the end of stream.
func TestQuietConnTransfers(t *testing.T) {
	qc, srv := quietPair(t)
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for b.Len() < len(want) {
			n, err := srv.Read(buf)
			if err != nil {
				break
			}
			b.Write(buf[:n])
			if b.Len()%(1<<20) < 4096 {
				time.Sleep(5 * time.Millisecond) // let the sender's buffer fill
			}
		}
		got <- b.Bytes()
		srv.Write([]byte("reply"))
		srv.Close()
	}()
	n, err := qc.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(want))
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("server read %d bytes, not the %d written (or not the same)", len(b), len(want))
	}
	reply, err := io.ReadAll(qc)
	if err != nil || string(reply) != "reply" {
		t.Fatalf("ReadAll = %q, %v; want \"reply\", nil (io.EOF at the end)", reply, err)
	}
	if n, err := qc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end = %d, %v; want 0, io.EOF", n, err)
	}
}

// TestQuietConnDeadlineAndClose: a read deadline that passes and a closed
// connection give the errors package net gives, which gRPC and net/http
// look for.
func TestQuietConnDeadlineAndClose(t *testing.T) {
	qc, _ := quietPair(t)
	if err := qc.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := qc.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v; want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline: %v is not a net.Error timeout", err)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("Read returned after %v, before its 20ms deadline", d)
	}
	qc.Close()
	if _, err := qc.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v; want net.ErrClosed", err)
	}
	if _, err := qc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v; want net.ErrClosed", err)
	}
}

// TestQuietConnPeerGone: writing to a connection the peer reset reports
// the system's error instead of hanging or claiming success.
func TestQuietConnPeerGone(t *testing.T) {
	qc, srv := quietPair(t)
	srv.(*net.TCPConn).SetLinger(0) // close with a reset
	srv.Close()
	buf := make([]byte, 64<<10)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = qc.Write(buf)
		time.Sleep(time.Millisecond)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("Write to a reset connection: %v; want a write *net.OpError", err)
	}
}

// TestQuietDialOptionsProxy: with a proxy for the endpoint in the
// environment, gRPC keeps its own dialer (only it dials through a proxy).
func TestQuietDialOptionsProxy(t *testing.T) {
	// http.ProxyFromEnvironment reads the environment once per process,
	// so this runs in a child with the variable set.
	if os.Getenv("PROCOTEL_QUIET_PROXY_CHILD") == "" {
		if len(quietDialOptions("collector.example:4317")) != 1 {
			t.Fatal("no proxy set: want the quiet dialer")
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestQuietDialOptionsProxy$")
		cmd.Env = append(os.Environ(), "PROCOTEL_QUIET_PROXY_CHILD=1", "HTTPS_PROXY=http://proxy.example:3128", "NO_PROXY=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	if n := len(quietDialOptions("collector.example:4317")); n != 0 {
		t.Fatalf("HTTPS_PROXY set: %d dial options, want gRPC's own dialer", n)
	}
}
