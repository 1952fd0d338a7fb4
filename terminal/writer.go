// Package terminal owns procotel's human and JSON-lines output: the live
// text stream that `procotel` prints when no OTLP endpoint is configured,
// and the `--output json` stream. Both write through a bounded buffer so
// a slow terminal or pipe never blocks the pipeline; what does not fit is
// dropped and counted.
package terminal

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// asyncWriter collects output in memory and writes it from its own
// goroutine. Append never blocks; when more than limit bytes are waiting
// the new line is dropped and counted.
type asyncWriter struct {
	w     io.Writer
	limit int

	mu      sync.Mutex
	buf     []byte
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	written atomic.Uint64
	err     error
	// told is set by the first flush: from then on the owner says when to
	// write, appends do not wake the writer and it does not wait
	// writeEvery.
	told atomic.Bool
}

func newAsyncWriter(w io.Writer, limit int) *asyncWriter {
	a := &asyncWriter{w: w, limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go a.loop()
	return a
}

// append adds one line built by fill; fill appends to the slice it is
// given and returns it. It reports false if the line was dropped.
func (a *asyncWriter) append(fill func([]byte) []byte) bool {
	return a.appendOrDrop(func(b []byte) ([]byte, bool) { return fill(b), true })
}

// appendOrDrop is append with a fill that may fail: it then returns the
// slice as it was given and false, and the line counts as dropped.
func (a *asyncWriter) appendOrDrop(fill func([]byte) ([]byte, bool)) bool {
	a.mu.Lock()
	if a.closed || len(a.buf) > a.limit {
		a.mu.Unlock()
		a.dropped.Add(1)
		return false
	}
	var ok bool
	a.buf, ok = fill(a.buf)
	a.mu.Unlock()
	if !ok {
		a.dropped.Add(1)
		return false
	}
	a.written.Add(1)
	if !a.told.Load() {
		a.poke()
	}
	return true
}

// poke wakes the writer goroutine.
func (a *asyncWriter) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// flush has the writer write what is buffered now. Once called, writes
// happen only on flush and close.
func (a *asyncWriter) flush() {
	a.told.Store(true)
	a.mu.Lock()
	pending := len(a.buf) > 0
	a.mu.Unlock()
	if pending {
		a.poke()
	}
}

// writeEvery is the least time between two writes: lines that come
// meanwhile are written together, so a storm costs one write (and one
// wakeup of the writer) per interval, not per line. A line after a quiet
// spell is written at once. A writer its owner flushes writes on each
// flush instead: the owner already gathers the lines.
const writeEvery = 10 * time.Millisecond

func (a *asyncWriter) loop() {
	defer close(a.done)
	var spare []byte
	var last time.Time
	for range a.wake {
		if wait := writeEvery - time.Since(last); wait > 0 && !a.told.Load() {
			a.mu.Lock()
			closed := a.closed
			a.mu.Unlock()
			if !closed {
				time.Sleep(wait)
			}
		}
		last = time.Now()
		a.mu.Lock()
		out := a.buf
		a.buf = spare[:0]
		closed := a.closed
		a.mu.Unlock()
		if len(out) > 0 {
			if _, err := a.w.Write(out); err != nil && a.err == nil {
				a.err = err
			}
		}
		spare = out
		if closed {
			a.mu.Lock()
			empty := len(a.buf) == 0
			a.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

// close flushes what is buffered, within ctx, and stops the writer.
func (a *asyncWriter) close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.done
		return a.err
	}
	a.closed = true
	a.mu.Unlock()
	a.poke()
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
