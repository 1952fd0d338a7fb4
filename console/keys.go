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
	// maxPending bounds the bytes typed ahead of the line editor; the
	// keyboard reads no more input while that many wait.
	maxPending = 64 << 10
	// MaxLine is the longest command line the console takes, in bytes
	// typed (editing keys included); a longer line is dropped before the
	// editor sees more of it than this, and the console says so. The line
	// editor redraws the whole line for every key, so a line costs time
	// and output quadratic in its length: on a pty, 1 KB takes 0.2 s and
	// 0.5 MB of redraws, 4 KB 2 s and 8 MB, 100 KB minutes. A command
	// line with the longest filter is a few hundred bytes.
	MaxLine = 1024
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
	// lineLen is the length of the current line so far (since the last
	// line end or Ctrl-C), given to the editor or pending; its last
	// linePending bytes are the tail of pending.
	lineLen, linePending int
	// discarding is set while the rest of a line longer than MaxLine is
	// dropped, up to its line end.
	discarding bool
	// tooLong counts the lines dropped for their length that the console
	// has not reported yet.
	tooLong int
}

func newKeyboard(src io.ReadCloser) *keyboard {
	k := &keyboard{src: src}
	k.cond = sync.NewCond(&k.mu)
	go k.read()
	return k
}

// read copies the input into pending until it ends. While maxPending
// bytes wait, it reads no more: typed-ahead input waits in the terminal
// instead of being lost.
func (k *keyboard) read() {
	buf := make([]byte, 4096)
	for {
		k.mu.Lock()
		for len(k.pending) >= maxPending && !k.closed && k.view == nil {
			k.cond.Wait()
		}
		closed := k.closed
		k.mu.Unlock()
		if closed {
			return
		}
		n, err := k.src.Read(buf)
		k.mu.Lock()
		k.addLocked(buf[:n])
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

// addLocked appends input to pending, cutting every line longer than
// MaxLine: what pends of such a line is dropped, and the rest of it as it
// comes, up to its line end, and a Ctrl-C takes its place, so the editor
// abandons what it has of the line and the console reports it. Each byte
// is looked at once.
func (k *keyboard) addLocked(in []byte) {
	for len(in) > 0 {
		end := bytes.IndexAny(in, "\r\n\x03")
		if k.discarding {
			if end < 0 {
				return
			}
			in, k.discarding = in[end+1:], false
			continue
		}
		seg := in
		if end >= 0 {
			seg = in[:end+1]
		}
		in = in[len(seg):]
		body := len(seg)
		if end >= 0 {
			body-- // the line end or Ctrl-C
		}
		if k.lineLen+body > MaxLine {
			k.pending = append(k.pending[:len(k.pending)-k.linePending], keyInterrupt)
			k.tooLong++
			k.discarding = end < 0
			k.lineLen, k.linePending = 0, 0
			continue
		}
		k.pending = append(k.pending, seg...)
		if end >= 0 {
			k.lineLen, k.linePending = 0, 0
		} else {
			k.lineLen += len(seg)
			k.linePending += len(seg)
		}
	}
}

// takeTooLong returns how many lines were dropped for being longer than
// MaxLine since it was last called.
func (k *keyboard) takeTooLong() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.tooLong
	k.tooLong = 0
	return n
}

// scanLocked stops the running view when Ctrl-C or q is pending, or the
// input has ended.
func (k *keyboard) scanLocked() {
	if k.view == nil {
		return
	}
	// Keys typed into a view are not commands, and a line dropped for its
	// length there (its Ctrl-C stops the view) is not reported. The editor
	// holds no line while a view runs.
	k.tooLong = 0
	if i := bytes.IndexAny(k.pending, string([]byte{keyInterrupt, keyQuit})); i >= 0 {
		k.takeLocked(i + 1)
		k.lineLen = k.linePending
		k.stopViewLocked()
		return
	}
	k.takeLocked(len(k.pending))
	k.lineLen = 0
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
	k.takeLocked(n)
	return n, nil
}

// takeLocked removes the first n bytes of pending, which the editor got
// or a view discarded.
func (k *keyboard) takeLocked(n int) {
	k.pending = k.pending[n:]
	k.linePending = min(k.linePending, len(k.pending))
	k.cond.Broadcast() // read may wait for pending to drain
}

// isClosed reports whether Close was called.
func (k *keyboard) isClosed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed
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
