package pipeline

import (
	"time"

	"github.com/procotel/procotel/semconv"
)

// pending is one event waiting in the ordering window, in its slot.
type pending struct {
	ev semconv.Event
}

// heapEntry orders one slot: events are large, so the heap moves these
// small entries and each event is copied only into its slot and out. The
// arrival time is here too, so that deciding whether the oldest event may
// go does not touch its slot.
type heapEntry struct {
	order   uint64 // BootNS used for ordering (BootNS, or the newest seen when the event has none)
	seq     uint64 // arrival sequence, breaks ties so equal times keep arrival order
	arrived int64  // when the pipeline received it: monotonic ns since window.base
	slot    int32  // index in window.slots
}

// window is a min-heap of events ordered by kernel time. Events are
// released once they are older than the newest event seen minus the window
// length, or once they have waited the window length, so a quiet system
// still flushes promptly. The heap is hand-written over small entries that
// point into a pool of event slots, so pushing and popping neither
// allocates (once the arrays have grown) nor moves whole events around:
// the pipeline receives an event into a slot (reserve, pushSlot) and
// handles it there (popSlot, freeSlot).
type window struct {
	length  time.Duration
	heap    []heapEntry
	slots   []pending
	free    []int32 // slots not in use
	seq     uint64
	base    time.Time // arrival times count from here (set at the first push)
	newest  uint64    // largest ordering time received
	release uint64    // ordering time of the last released event
	started bool      // an event has been released
}

func (w *window) len() int { return len(w.heap) }

// reserve returns a free slot for the caller to write an event into (see
// event), then to push or free (freeSlot). The pointer event returns stays valid
// until the next reserve.
func (w *window) reserve() int32 {
	if n := len(w.free); n > 0 {
		slot := w.free[n-1]
		w.free = w.free[:n-1]
		return slot
	}
	w.slots = append(w.slots, pending{})
	return int32(len(w.slots) - 1)
}

// event is the event in slot.
func (w *window) event(slot int32) *semconv.Event { return &w.slots[slot].ev }

// push adds e, received at now. It reports whether e arrived after an
// event with a later kernel time (it is being reordered).
func (w *window) push(e *semconv.Event, now time.Time) (reordered bool) {
	slot := w.reserve()
	w.slots[slot].ev = *e
	return w.pushSlot(slot, now)
}

// pushSlot adds the event written into slot (reserved), received at now;
// it reports what push does.
func (w *window) pushSlot(slot int32, now time.Time) (reordered bool) {
	order := w.slots[slot].ev.BootNS
	if order == 0 {
		order = w.newest
	}
	if order < w.newest {
		reordered = true
	} else {
		w.newest = order
	}
	w.seq++
	if w.base.IsZero() {
		w.base = now
	}
	w.heap = append(w.heap, heapEntry{order: order, seq: w.seq, arrived: int64(now.Sub(w.base)), slot: slot})
	w.up(len(w.heap) - 1)
	return reordered
}

// ready reports whether the oldest buffered event may be released at now.
func (w *window) ready(now time.Time) bool {
	if len(w.heap) == 0 {
		return false
	}
	top := &w.heap[0]
	if top.order+uint64(w.length) <= w.newest {
		return true
	}
	return int64(now.Sub(w.base))-top.arrived >= int64(w.length)
}

// deadline is when the oldest buffered event will have waited the window
// length; zero when the window is empty.
func (w *window) deadline() time.Time {
	if len(w.heap) == 0 {
		return time.Time{}
	}
	return w.base.Add(time.Duration(w.heap[0].arrived) + w.length)
}

// pop removes the oldest event into dst. It reports whether the event is
// late: older than one already released, so it could not be put in order.
func (w *window) pop(dst *semconv.Event) (late bool) {
	slot, late := w.popSlot()
	*dst = w.slots[slot].ev
	w.freeSlot(slot)
	return late
}

// popSlot takes the oldest event off the heap and returns its slot, for
// the caller to handle in place and then free (freeSlot); late is as for pop.
func (w *window) popSlot() (slot int32, late bool) {
	top := w.heap[0]
	n := len(w.heap) - 1
	w.heap[0] = w.heap[n]
	w.heap = w.heap[:n]
	if n > 0 {
		w.down(0)
	}
	order := top.order
	if w.started && order < w.release {
		late = true
	} else {
		w.release = order
		w.started = true
	}
	return top.slot, late
}

// freeSlot frees slot, reserved and not (or no longer) in the heap.
func (w *window) freeSlot(slot int32) {
	w.slots[slot] = pending{} // drop references to argv and strings
	w.free = append(w.free, slot)
	if len(w.free) == len(w.slots) {
		// Empty: start the pool over so a burst does not pin memory
		// beyond the slots it needed.
		w.slots = w.slots[:0]
		w.free = w.free[:0]
	}
}

func (w *window) less(i, j int) bool {
	a, b := &w.heap[i], &w.heap[j]
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
		w.heap[i], w.heap[parent] = w.heap[parent], w.heap[i]
		i = parent
	}
}

func (w *window) down(i int) {
	n := len(w.heap)
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
		w.heap[i], w.heap[m] = w.heap[m], w.heap[i]
		i = m
	}
}
