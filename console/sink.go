package console

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// Defaults for SinkOptions' zero values.
const (
	DefaultRingSize   = 8192
	DefaultViewBuffer = 4096
	// maxGroups bounds how many distinct containers and jails the sink
	// counts ended processes for; more are counted in GroupsDropped.
	maxGroups = 4096
)

// SinkOptions configure a Sink. The zero value is usable.
type SinkOptions struct {
	// RingSize is how many recent events the sink keeps for tail's
	// backlog and top's first window; DefaultRingSize when zero.
	RingSize int
	// ViewBuffer is how many events may wait for a slow view (tail, top)
	// before new ones are dropped and counted; DefaultViewBuffer when zero.
	ViewBuffer int
	// Now stamps the time each event was received; time.Now when nil.
	Now func() time.Time
}

// Sink is the console's pipeline.Sink. It keeps a bounded ring of recent
// events and hands every event to the view that is running (tail, top)
// without ever blocking the pipeline: when a view falls behind, events
// are dropped for it and counted. It also counts, per container and per
// jail, the processes whose lifetimes ended. All methods are safe for
// concurrent use.
type Sink struct {
	opts SinkOptions

	mu     sync.Mutex
	ring   []stamped // circular; next is the slot to write
	next   int
	full   bool
	views  map[*subscription]struct{}
	closed bool
	// Ended processes per container id and per jail id.
	containersEnded map[string]group
	jailsEnded      map[int32]group

	events        [semconv.NumKinds]atomic.Uint64
	viewDropped   atomic.Uint64
	groupsDropped atomic.Uint64
	lifetimes     atomic.Uint64
}

var _ pipeline.Sink = (*Sink)(nil)

// stamped is an event with the time the console received it. Views
// measure their windows in receive time, so top works on a replay whose
// events carry times long past.
type stamped struct {
	at time.Time
	ev semconv.Event
}

// NewSink returns an empty sink.
func NewSink(opts SinkOptions) *Sink {
	if opts.RingSize <= 0 {
		opts.RingSize = DefaultRingSize
	}
	if opts.ViewBuffer <= 0 {
		opts.ViewBuffer = DefaultViewBuffer
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sink{
		opts:            opts,
		ring:            make([]stamped, opts.RingSize),
		views:           map[*subscription]struct{}{},
		containersEnded: map[string]group{},
		jailsEnded:      map[int32]group{},
	}
}

// SinkStats are the sink's counters.
type SinkStats struct {
	// Events counts the events received, per kind.
	Events [semconv.NumKinds]uint64
	// Lifetimes counts the lifetimes received.
	Lifetimes uint64
	// Ring is the number of events held in the ring now, RingSize its bound.
	Ring, RingSize int
	// ViewDropped counts events a slow view did not take.
	ViewDropped uint64
	// GroupsDropped counts lifetimes in containers or jails beyond the
	// number the sink keeps counts for.
	GroupsDropped uint64
}

// Stats returns the counters so far.
func (s *Sink) Stats() SinkStats {
	s.mu.Lock()
	st := SinkStats{Ring: s.ringLen(), RingSize: len(s.ring)}
	s.mu.Unlock()
	for k := range st.Events {
		st.Events[k] = s.events[k].Load()
	}
	st.Lifetimes = s.lifetimes.Load()
	st.ViewDropped = s.viewDropped.Load()
	st.GroupsDropped = s.groupsDropped.Load()
	return st
}

// Event copies e into the ring and offers it to the running views. It
// never blocks.
func (s *Sink) Event(e *semconv.Event) {
	if !e.Kind.Valid() {
		return
	}
	s.events[e.Kind].Add(1)
	st := stamped{at: s.opts.Now(), ev: *e}
	// The pipeline's slices are valid only during the call.
	st.ev.Process.Argv = slices.Clone(e.Process.Argv)
	st.ev.Exec.Argv = slices.Clone(e.Exec.Argv)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.ring[s.next] = st
	s.next++
	if s.next == len(s.ring) {
		s.next, s.full = 0, true
	}
	for v := range s.views {
		select {
		case v.ch <- st:
		default:
			v.dropped.Add(1)
			s.viewDropped.Add(1)
		}
	}
}

// Lifetime counts an ended process for its container or jail.
func (s *Sink) Lifetime(l *semconv.Lifetime) {
	s.lifetimes.Add(1)
	p := &l.Process
	if p.ContainerID == "" && p.JailID == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.ContainerID != "" {
		g, ok := s.containersEnded[p.ContainerID]
		if ok || len(s.containersEnded) < maxGroups {
			g.ended++
			g.name = pickName(p.ContainerName, g.name)
			g.runtime = pickName(p.ContainerRuntime, g.runtime)
			s.containersEnded[p.ContainerID] = g
		} else {
			s.groupsDropped.Add(1)
		}
	}
	if p.JailID != 0 {
		g, ok := s.jailsEnded[p.JailID]
		if ok || len(s.jailsEnded) < maxGroups {
			g.ended++
			g.name = pickName(p.JailName, g.name)
			s.jailsEnded[p.JailID] = g
		} else {
			s.groupsDropped.Add(1)
		}
	}
}

// Close stops delivery to views and ends their streams. It is idempotent.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for v := range s.views {
		close(v.ch)
		delete(s.views, v)
	}
	return nil
}

func (s *Sink) ringLen() int {
	if s.full {
		return len(s.ring)
	}
	return s.next
}

// recent returns the ring's events, oldest first.
func (s *Sink) recentLocked() []stamped {
	n := s.ringLen()
	out := make([]stamped, 0, n)
	if s.full {
		out = append(out, s.ring[s.next:]...)
	}
	return append(out, s.ring[:s.next]...)
}

// subscription is one view's feed of live events.
type subscription struct {
	s       *Sink
	ch      chan stamped
	dropped atomic.Uint64
}

// subscribe returns the ring's events (oldest first) and a feed of every
// event after them: the two are taken under one lock, so nothing is missed
// or repeated between backlog and feed. The feed's channel is closed when
// the sink closes. Call cancel when the view ends.
func (s *Sink) subscribe() (backlog []stamped, sub *subscription) {
	sub = &subscription{s: s, ch: make(chan stamped, s.opts.ViewBuffer)}
	s.mu.Lock()
	defer s.mu.Unlock()
	backlog = s.recentLocked()
	if s.closed {
		close(sub.ch)
		return backlog, sub
	}
	s.views[sub] = struct{}{}
	return backlog, sub
}

// cancel stops the feed.
func (sub *subscription) cancel() {
	s := sub.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.views[sub]; ok {
		delete(s.views, sub)
		close(sub.ch)
	}
}

// recent returns a copy of the ring's events, oldest first.
func (s *Sink) recent() []stamped {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recentLocked()
}

// group is what the sink knows of one container or jail.
type group struct {
	ended         uint64 // processes whose lifetime ended
	name, runtime string
}

func pickName(latest, known string) string {
	if latest != "" {
		return latest
	}
	return known
}

// ended returns copies of the per-container and per-jail counts of ended
// processes.
func (s *Sink) ended() (map[string]group, map[int32]group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(map[string]group, len(s.containersEnded))
	for k, v := range s.containersEnded {
		c[k] = v
	}
	j := make(map[int32]group, len(s.jailsEnded))
	for k, v := range s.jailsEnded {
		j[k] = v
	}
	return c, j
}
