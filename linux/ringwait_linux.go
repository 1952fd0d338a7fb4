//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ringWaiter waits for the ring buffers (the ringSet's epoll descriptor,
// readable when any ring woke its readers) through the Go runtime's
// network poller. Blocking in epoll_wait from a goroutine, as a ring buffer reader
// does on its own, makes the runtime hand the goroutine's processor to
// another thread after 20µs and keeps its monitor thread waking every 20µs
// to do so: under an exec storm that cost more CPU than decoding the
// events. Through the poller the reading goroutine parks like any network
// read and the runtime's idle thread does the waiting.
type ringWaiter struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// newRingWaiter registers a duplicate of ringFD (the ringSet's epoll
// descriptor; in tests any pollable one) with the runtime poller.
func newRingWaiter(ringFD int) (*ringWaiter, error) {
	fd, err := unix.FcntlInt(uintptr(ringFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicate ring buffer descriptor: %w", err)
	}
	// O_NONBLOCK is what makes os.NewFile hand the descriptor to the poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ring buffer descriptor: %w", err)
	}
	f := os.NewFile(uintptr(fd), "ring buffer")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ring buffer descriptor: %w", err)
	}
	// A descriptor the poller refused has no deadlines: find out now.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("ring buffer descriptor is not pollable: %w", err)
	}
	return &ringWaiter{f: f, rc: rc}, nil
}

// errRingClosed reports that the waiter was closed.
var errRingClosed = errors.New("ring buffer closed")

// wait returns nil when the kernel woke the ring buffer's waiters or d
// passed, and errRingClosed once close was called.
func (w *ringWaiter) wait(d time.Duration) error {
	if err := w.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		if w.closed.Load() {
			return errRingClosed
		}
		return err
	}
	first := true
	err := w.rc.Read(func(uintptr) bool {
		// The first call asks for a wait; the poller calls again once the
		// descriptor is readable.
		if first {
			first = false
			return false
		}
		return true
	})
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	case w.closed.Load(): // the poller's "use of closed file" is not exported
		return errRingClosed
	}
	return err
}

// interrupt makes a running or the next wait return at once.
func (w *ringWaiter) interrupt() { _ = w.f.SetReadDeadline(time.Unix(1, 0)) }

func (w *ringWaiter) close() error {
	w.closed.Store(true)
	return w.f.Close()
}
