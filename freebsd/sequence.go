package freebsd

import (
	"sort"

	"github.com/procotel/procotel/semconv"
)

// Sequencer puts decoded events in kernel-timestamp order and attaches argv
// frames to their exec events. Per-CPU buffers reach user space in batches,
// so an event may arrive after a later one from another CPU; the sequencer
// holds events for Window nanoseconds of kernel time (measured against the
// newest timestamp seen) before releasing them. It is not safe for
// concurrent use.
type Sequencer struct {
	// Window is how long, in kernel nanoseconds, an event is held back.
	Window uint64

	pending []semconv.Event
	newest  uint64
	// Orphans counts argv frames whose exec event was not found.
	Orphans uint64
}

// Push adds a decoded frame.
func (s *Sequencer) Push(d Decoded) {
	if d.ArgsOnly {
		s.attachArgs(d.Event)
		return
	}
	if d.Event.BootNS > s.newest {
		s.newest = d.Event.BootNS
	}
	s.pending = append(s.pending, d.Event)
}

// attachArgs finds the exec event of the same firing: the argv clause runs
// right after the exec-success clause on the same probe, so the two share
// the thread and the timestamp.
func (s *Sequencer) attachArgs(a semconv.Event) {
	for i := len(s.pending) - 1; i >= 0; i-- {
		e := &s.pending[i]
		if e.Kind == semconv.KindExec && e.Process.TID == a.Process.TID &&
			e.Process.PID == a.Process.PID && e.BootNS == a.BootNS {
			e.Process.Argv = a.Process.Argv
			e.Process.ArgvTruncated = a.Process.ArgvTruncated
			e.Exec.Argv = a.Exec.Argv
			e.Exec.ArgvTruncated = a.Exec.ArgvTruncated
			return
		}
	}
	s.Orphans++
}

// Ready appends to out, in timestamp order, the events older than the
// window, and forgets them.
func (s *Sequencer) Ready(out []semconv.Event) []semconv.Event {
	var limit uint64
	if s.newest > s.Window {
		limit = s.newest - s.Window
	}
	return s.release(out, limit)
}

// Flush appends every held event to out in timestamp order.
func (s *Sequencer) Flush(out []semconv.Event) []semconv.Event {
	return s.release(out, ^uint64(0))
}

// Len returns the number of held events.
func (s *Sequencer) Len() int { return len(s.pending) }

func (s *Sequencer) release(out []semconv.Event, limit uint64) []semconv.Event {
	if len(s.pending) == 0 {
		return out
	}
	sort.SliceStable(s.pending, func(i, j int) bool { return s.pending[i].BootNS < s.pending[j].BootNS })
	n := sort.Search(len(s.pending), func(i int) bool { return s.pending[i].BootNS > limit })
	out = append(out, s.pending[:n]...)
	rest := copy(s.pending, s.pending[n:])
	clear(s.pending[rest:])
	s.pending = s.pending[:rest]
	return out
}
