package console

import (
	"bytes"
	"io"
	"sync"
)

// Key bytes the console acts on while a view runs.
const (
	keyInterrupt = 0x03 // Ctrl-C
	keyQuit      = 'q'
	// maxPending bounds the bytes typed ahead of the line editor.
	maxPending = 64 << 10
)

// keyboard sits between the console's input and the line editor. It reads
// the input from its own goroutine. While no view runs, it hands the
// bytes to the line editor one line at a time (so keys typed after Enter
// are not swallowed by the editor's buffer before the command they
// follow has run). While a view runs, the editor gets nothing: the
// keyboard looks for Ctrl-C (or q), discards the keys before it, stops
// the view, and keeps the keys after it for the next prompt.
type keyboard struct {
	src io.ReadCloser

	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte
	err     error // input error or io.EOF, after pending is used up
	closed  bool
	// view is non-nil while a view runs; the keyboard closes it (once)
	// on Ctrl-C, q or end of input.
	view chan struct{}
}

func newKeyboard(src io.ReadCloser) *keyboard {
	k := &keyboard{src: src}
	k.cond = sync.NewCond(&k.mu)
	go k.read()
	return k
}

// read copies the input into pending until it ends.
func (k *keyboard) read() {
	buf := make([]byte, 4096)
	for {
		n, err := k.src.Read(buf)
		k.mu.Lock()
		if n > 0 && len(k.pending)+n <= maxPending {
			k.pending = append(k.pending, buf[:n]...)
		}
		if err != nil {
			k.err = err
		}
		k.scanLocked()
		k.cond.Broadcast()
		k.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// scanLocked stops the running view when Ctrl-C or q is pending, or the
// input has ended.
func (k *keyboard) scanLocked() {
	if k.view == nil {
		return
	}
	if i := bytes.IndexAny(k.pending, string([]byte{keyInterrupt, keyQuit})); i >= 0 {
		k.pending = k.pending[i+1:]
		k.stopViewLocked()
		return
	}
	k.pending = k.pending[:0] // keys typed into a view are not commands
	if k.err != nil || k.closed {
		k.stopViewLocked()
	}
}

func (k *keyboard) stopViewLocked() {
	if k.view != nil {
		close(k.view)
		k.view = nil
	}
}

// beginView marks a view as running and returns a channel closed when the
// user stops it. Keys already typed ahead count.
func (k *keyboard) beginView() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	stop := make(chan struct{})
	k.view = stop
	k.scanLocked()
	return stop
}

// endView marks the view as finished.
func (k *keyboard) endView() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopViewLocked()
	k.cond.Broadcast()
}

// interrupt stops the running view, as Ctrl-C does. It reports whether a
// view was running.
func (k *keyboard) interrupt() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	running := k.view != nil
	k.stopViewLocked()
	k.cond.Broadcast()
	return running
}

// Read gives the line editor pending input, up to the end of the first
// line. It waits while a view runs.
func (k *keyboard) Read(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for !k.closed && (k.view != nil || len(k.pending) == 0 && k.err == nil) {
		k.cond.Wait()
	}
	if k.closed {
		return 0, io.EOF
	}
	if len(k.pending) == 0 {
		return 0, k.err
	}
	n := len(k.pending)
	if i := bytes.IndexAny(k.pending, "\r\n"); i >= 0 {
		n = i + 1
	}
	n = copy(p, k.pending[:n])
	k.pending = k.pending[n:]
	return n, nil
}

// Close makes Read return io.EOF and closes the input. It is idempotent.
func (k *keyboard) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	k.stopViewLocked()
	k.cond.Broadcast()
	k.mu.Unlock()
	return k.src.Close()
}
