package pipeline

import (
	"time"

	"github.com/procotel/procotel/semconv"
)

// pending is one event waiting in the ordering window.
type pending struct {
	ev      semconv.Event
	order   uint64    // BootNS used for ordering (BootNS, or the newest seen when the event has none)
	seq     uint64    // arrival sequence, breaks ties so equal times keep arrival order
	arrived time.Time // when the pipeline received it (monotonic)
}

// window is a min-heap of events ordered by kernel time. Events are
// released once they are older than the newest event seen minus the window
// length, or once they have waited the window length, so a quiet system
// still flushes promptly. The heap is hand-written over values so pushing
// and popping does not allocate once the backing array has grown.
type window struct {
	length  time.Duration
	items   []pending
	seq     uint64
	newest  uint64 // largest ordering time received
	release uint64 // ordering time of the last released event
	started bool   // an event has been released
}

func (w *window) len() int { return len(w.items) }

// push adds e, received at now. It reports whether e arrived after an
// event with a later kernel time (it is being reordered).
func (w *window) push(e *semconv.Event, now time.Time) (reordered bool) {
	order := e.BootNS
	if order == 0 {
		order = w.newest
	}
	if order < w.newest {
		reordered = true
	} else {
		w.newest = order
	}
	w.seq++
	w.items = append(w.items, pending{ev: *e, order: order, seq: w.seq, arrived: now})
	w.up(len(w.items) - 1)
	return reordered
}

// ready reports whether the oldest buffered event may be released at now.
func (w *window) ready(now time.Time) bool {
	if len(w.items) == 0 {
		return false
	}
	top := &w.items[0]
	if top.order+uint64(w.length) <= w.newest {
		return true
	}
	return now.Sub(top.arrived) >= w.length
}

// deadline is when the oldest buffered event will have waited the window
// length; zero when the window is empty.
func (w *window) deadline() time.Time {
	if len(w.items) == 0 {
		return time.Time{}
	}
	return w.items[0].arrived.Add(w.length)
}

// pop removes the oldest event into dst. It reports whether the event is
// late: older than one already released, so it could not be put in order.
func (w *window) pop(dst *semconv.Event) (late bool) {
	n := len(w.items) - 1
	w.items[0], w.items[n] = w.items[n], w.items[0]
	it := &w.items[n]
	*dst = it.ev
	order := it.order
	it.ev = semconv.Event{} // drop references to argv and strings
	w.items = w.items[:n]
	if n > 0 {
		w.down(0)
	}
	if w.started && order < w.release {
		late = true
	} else {
		w.release = order
		w.started = true
	}
	return late
}

func (w *window) less(i, j int) bool {
	a, b := &w.items[i], &w.items[j]
	if a.order != b.order {
		return a.order < b.order
	}
	return a.seq < b.seq
}

func (w *window) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !w.less(i, parent) {
			return
		}
		w.items[i], w.items[parent] = w.items[parent], w.items[i]
		i = parent
	}
}

func (w *window) down(i int) {
	n := len(w.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && w.less(r, l) {
			m = r
		}
		if !w.less(m, i) {
			return
		}
		w.items[i], w.items[m] = w.items[m], w.items[i]
		i = m
	}
}
