package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procotel/procotel/semconv"
)

// Defaults for Config's zero values.
const (
	DefaultWindow          = 20 * time.Millisecond
	DefaultMaxProcesses    = 65536
	DefaultKeepReaped      = 4096
	DefaultExecPairTimeout = 10 * time.Second
)

// Config configures a Pipeline. The zero value is usable.
type Config struct {
	// Window is how long events are held to be put in kernel-time order;
	// DefaultWindow when zero.
	Window time.Duration
	// RootPolicy decides which processes start a trace. Membership is
	// derived, never stored, from what a procotel restarted at any moment
	// sees too: a process's current state (as its latest event, or the
	// /proc seed, reports it) and its current parent. So a record or span
	// gets the same trace, span and parent span ids whether procotel ran
	// through or was restarted since. A process roots a trace when its
	// parent is unknown, when the Launcher created it, when its
	// environment has a TRACEPARENT its parent's has not, or when the
	// policy says so:
	//   - RootProcessGroup: it leads its process group (PID == PGID), or
	//     its parent is init (pid 1).
	//   - RootSession: it leads its session (PID == SID), or its parent
	//     is init.
	//   - RootContainer: its parent is in another container (ContainerID
	//     differs; "" is the host) or jail (JailID differs).
	//   - RootNone: always.
	// Any other process is in the trace of the nearest root above it,
	// walking up the current parents, and its span's parent is its
	// creator's span while it is its creator's child, its adopter's once
	// re-parented (a restarted procotel sees only the adopter). Thus:
	//   - What makes a process a root (a setsid, a setpgid, a move into
	//     a container) counts, for it and the processes below it, from
	//     its next event on (an exec, its exit, or a fork, since a child
	//     shows its parent's group and session); its earlier records stay
	//     where they were.
	//   - A double-forked daemon, re-parented to init, roots its trace
	//     (under RootContainer it joins init's, the host's); re-parented
	//     to a subreaper or a container's init, it joins the adopter's
	//     trace.
	// A root links to its creator's span: after a restart, a re-parented
	// root links to its adopter's instead. What else a restart can
	// change: records that descendants emit between an ancestor's setsid,
	// setpgid, container move or re-parenting and that ancestor's next
	// event (the restarted procotel already sees the change in /proc);
	// traceparent roots, unless the backend reads TRACEPARENT for the
	// processes it seeds; and a process whose parent a full table
	// evicted. Event.Root and Lifetime.Root are zero when the process is
	// its own root.
	RootPolicy semconv.RootPolicy
	// Launcher is the pid of the process that starts the watched command
	// (procotel itself under "procotel -- CMD"); zero for none. Whatever
	// RootPolicy says, a process the launcher creates roots its own trace,
	// and since the launcher's span is never exported, that root has no
	// parent span (unless an inherited traceparent gives one) and no link
	// to the launcher (Lineage.Unlinked). Its descendants join its trace
	// as RootPolicy decides.
	Launcher int32
	// Filter selects the events and lifetimes sinks receive; nil passes
	// everything. Filtered-out processes are still tracked.
	Filter *Filter
	// Redact scrubs argv before sinks see it; nil means DefaultRedactor().
	Redact *Redactor
	// MaxProcesses bounds the table: live, exited and reaped entries
	// together (DefaultMaxProcesses when zero). When full, reaped entries
	// are evicted first (reaped longest ago first), then exited ones, and
	// only then the least recently active live one.
	MaxProcesses int
	// KeepReaped is how many reaped processes the table remembers after
	// their reap, for views such as the console's show and ps
	// (DefaultKeepReaped when zero, none when negative). Older ones are
	// forgotten, which is not an eviction: nothing about them is pending.
	// It keeps the table, and procotel's memory, small under a storm of
	// short-lived processes.
	KeepReaped int
	// FlushIncomplete makes Run emit, at shutdown, a lifetime with
	// Incomplete set for every process still alive.
	FlushIncomplete bool
	// Clock converts kernel time to wall time for the start of seeded
	// processes until an event carries both Time and BootNS; from then
	// on the pipeline follows the conversion of the latest such event,
	// so that it moves when the backend's does (the wall clock was set).
	Clock semconv.Clock
	// ExecPairTimeout is how long (kernel time) an exec attempt waits for
	// its result before it is counted as unpaired and forgotten;
	// DefaultExecPairTimeout when zero.
	ExecPairTimeout time.Duration
	// CredsComplete says the backend reports credentials in every event
	// (backends.Capabilities.Creds). All-zero credentials are then root's;
	// otherwise they are taken as missing and filled from the table.
	CredsComplete bool
}

// Stats are the pipeline's counters, per event kind where it matters.
type Stats struct {
	// In counts events received from the backend, per kind.
	In [semconv.NumKinds]uint64
	// Out counts events handed to sinks, per kind.
	Out [semconv.NumKinds]uint64
	// Filtered counts events the filter kept from sinks, per kind.
	Filtered [semconv.NumKinds]uint64
	// Unmatched counts events about a process the table did not know
	// (an exit without fork or seed, say), per kind. Exec, exec_failed
	// and exit events then add the process to the table, as seeded.
	Unmatched [semconv.NumKinds]uint64
	// UnmatchedFirst is the first few of those events, to tell what they
	// were about (UnmatchedSamples of them at most).
	UnmatchedFirst []Unmatched
	// Invalid counts events with an invalid kind; they are dropped.
	Invalid uint64
	// Reordered counts events that arrived after an event with a later
	// kernel time; Late counts those that arrived too late for the
	// window and were handled out of order.
	Reordered, Late uint64
	// Duplicates counts forks of a process already known and exits of a
	// process already exited.
	Duplicates uint64
	// Reparented counts processes moved to a new parent.
	Reparented uint64
	// PairedExecs counts exec results merged with their attempt;
	// UnpairedExecAttempts counts attempts that never met a result.
	PairedExecs, UnpairedExecAttempts uint64
	// ExecRecordsDropped counts exec records a process had beyond the 64
	// a lifetime keeps (the first 63 and the latest are kept).
	ExecRecordsDropped uint64
	// LostExits counts processes found gone without their exit event (a
	// reap of a live process, or its pid reused by a fork).
	LostExits uint64
	// Lifetimes counts lifetimes handed to sinks, LifetimesFiltered those
	// the filter kept back, Incomplete those flushed at shutdown.
	Lifetimes, LifetimesFiltered, Incomplete uint64
	// Table: entries by state, total, and evictions (EvictedLive of
	// processes still alive, whose lifetimes are lost).
	Live, Exited, Reaped, TableSize int
	Evicted, EvictedLive            uint64
	// Forgotten counts reaped entries dropped beyond Config.KeepReaped.
	Forgotten uint64
	// Buffered is the number of events in the ordering window.
	Buffered int
}

// UnmatchedSamples is how many unmatched events Stats.UnmatchedFirst keeps.
const UnmatchedSamples = 4

// Unmatched is an event about a process the table did not know, as the
// backend gave it: which process, and when.
type Unmatched struct {
	Kind       semconv.Kind
	PID, PPID  int32
	Start      uint64 // ns since boot
	BootNS     uint64 // the event's kernel time
	Comm, Exe  string
	SinceStart time.Duration // from the pipeline's first event to this one
}

// String describes u in one line.
func (u Unmatched) String() string {
	exe := u.Exe
	if exe == "" {
		exe = "?"
	}
	started := "start unknown"
	if u.Start != 0 && u.Start <= u.BootNS {
		started = fmt.Sprintf("started %.3fs before it", float64(u.BootNS-u.Start)/1e9)
	}
	return fmt.Sprintf("%v of pid %d (%s, %s, parent %d, %s), %v after the first event",
		u.Kind, u.PID, u.Comm, exe, u.PPID, started, u.SinceStart.Round(time.Millisecond))
}

// Loss is one reason the pipeline lost events or lifetimes, and how many.
type Loss struct {
	Reason string
	N      uint64
}

// Losses returns what the pipeline lost, by reason: events of no valid
// kind (invalid_event), processes found gone without their exit, whose
// lifetimes end unseen (lost_exit), and live processes evicted from a full
// table, whose lifetimes are lost (evicted_live). The self-metrics and the
// Collector receiver's telemetry report them by these names.
func (s *Stats) Losses() [3]Loss {
	return [3]Loss{{"invalid_event", s.Invalid}, {"lost_exit", s.LostExits}, {"evicted_live", s.EvictedLive}}
}

// Pipeline orders a backend's events, keeps the process table, and hands
// enriched, filtered, redacted events and lifetimes to its sinks. Run
// drives it from one goroutine; Stats and the read-only views (Snapshot,
// Lookup, LookupKey, Tree, Descends) are safe to call concurrently with it,
// including from a sink's methods.
type Pipeline struct {
	cfg    Config
	sinks  []Sink
	redact *Redactor
	now    func() time.Time

	// flushers are the sinks that are Flushers; handed says whether the
	// current pass of Run handed the sinks anything. Run's goroutine
	// alone uses them.
	flushers []Flusher
	handed   bool
	// onTimer, when set (by tests), is called each time Run wakes for its
	// window timer.
	onTimer func()

	running   atomic.Bool
	buffered  atomic.Int64 // events in the window, for Stats
	closeOnce sync.Once
	closeErr  error

	// mu guards everything below.
	mu    sync.Mutex
	t     *table
	att   *attempts
	stats Stats
	// firstBootNS is the kernel time of the first event received after
	// the seed, for Unmatched.SinceStart.
	firstBootNS uint64
	clock       semconv.Clock
	os          semconv.OS

	// Owned by the Run goroutine (the window and output scratch).
	win     window
	scratch semconv.Event
	lts     []lifetimeOut
}

type lifetimeOut struct {
	lt   semconv.Lifetime
	pass bool
}

// New returns a pipeline that delivers to sinks.
func New(cfg Config, sinks ...Sink) *Pipeline {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxProcesses <= 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	switch {
	case cfg.KeepReaped == 0:
		cfg.KeepReaped = DefaultKeepReaped
	case cfg.KeepReaped < 0:
		cfg.KeepReaped = 0
	}
	if cfg.ExecPairTimeout <= 0 {
		cfg.ExecPairTimeout = DefaultExecPairTimeout
	}
	red := cfg.Redact
	if red == nil {
		red = DefaultRedactor()
	}
	var flushers []Flusher
	for _, s := range sinks {
		if f, ok := s.(Flusher); ok {
			flushers = append(flushers, f)
		}
	}
	return &Pipeline{
		cfg:      cfg,
		sinks:    sinks,
		flushers: flushers,
		redact:   red,
		now:      time.Now,
		t:        newTable(cfg.MaxProcesses, cfg.KeepReaped, cfg.RootPolicy, cfg.Launcher),
		att:      newAttempts(cfg.ExecPairTimeout),
		clock:    cfg.Clock,
		win:      window{length: cfg.Window},
	}
}

// Run consumes events from in until ctx is done or in is closed. KindExisting
// events go to the table at once (they bypass the ordering window) and
// never reach sinks; KindExecAttempt events are merged into their results
// and never reach sinks either. Every other event is released from the
// window in kernel-time order, enriched, filtered and handed to the sinks,
// followed by any lifetime it closed. When done, Run
// shuts down: it takes the events already queued in in (without waiting
// for more), releases everything in the ordering window, forgets exec
// attempts still waiting (counting them), and with FlushIncomplete emits
// the lifetimes of live processes. It returns nil then. Run does not close
// the sinks: call Close, with a context that still has time, after Run
// returns. Run may be called once.
func (p *Pipeline) Run(ctx context.Context, in *semconv.Queue) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("run pipeline: already running")
	}
	batches := in.Batches()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var armedFor time.Time // deadline the timer is set for; zero when stopped
	// When the last arrival began and the gap between the last two: while
	// arrivals come at a steady pace, the next one releases what is due by
	// then. An arrival is the batches of one backend pass: those that come
	// within burstLen of its first.
	var lastBatch time.Time
	var gap time.Duration
	for {
		select {
		case <-ctx.Done():
			for n := len(batches); n > 0; n-- {
				p.receiveBatch(in, <-batches, p.now())
			}
			p.shutdown()
			return nil
		case b, ok := <-batches:
			if !ok {
				p.shutdown()
				return nil
			}
			// One clock reading for what is queued now: a storm arrives
			// in bursts, and a clock reading per event costs more than
			// the event. Each event is still released as if it had come
			// alone.
			now := p.now()
			if lastBatch.IsZero() {
				lastBatch = now
			} else if since := now.Sub(lastBatch); since >= burstLen {
				gap, lastBatch = since, now
			}
			p.receiveBatch(in, b, now)
			for n := len(batches); n > 0; n-- {
				p.receiveBatch(in, <-batches, now)
			}
		case <-timer.C:
			armedFor = time.Time{}
			if p.onTimer != nil {
				p.onTimer()
			}
		}
		now := p.now()
		p.releaseReady(now)
		p.flush()
		if p.win.len() == 0 {
			continue
		}
		d := p.win.deadline()
		if gap > 0 && gap <= maxCoalesce {
			// A storm: the backend hands over its batches every gap.
			d = coalesce(d, lastBatch, gap)
		}
		// Reset also postpones: a timer left for the deadline a batch
		// has since released would only wake Run for nothing.
		if !d.Equal(armedFor) {
			wait := d.Sub(now)
			if wait < time.Millisecond {
				wait = time.Millisecond
			}
			timer.Reset(wait)
			armedFor = d
		}
	}
}

// While arrivals come at most maxCoalesce apart (more than the Linux
// reader's longest interval in a storm), a window deadline is left to the
// first arrival expected at or after it (coalesce). Batches that come
// within burstLen of the first of an arrival belong to it: a backend
// hands over a pass of a storm in batches as they fill, a few hundred
// microseconds apart, and taking each for an arrival would make the gap
// theirs and the timer fire between passes.
const (
	maxCoalesce   = 100 * time.Millisecond
	coalesceSlack = 5 * time.Millisecond
	burstLen      = 5 * time.Millisecond
)

// coalesce returns when Run's timer is to fire for the window deadline d
// while arrivals come every gap, the last at last. The first arrival at
// or after d releases what is due then, which saves a wake-up per
// arrival; the timer is a fallback should arrivals stop, and fires
// coalesceSlack after the arrival that follows that one was due. So in a
// storm every arrival moves the timer on before it is due, and the time
// it is moved from lies past the next arrival: the Go runtime keeps a
// postponed timer at its old time until it next sorts its timers, which
// it does when one fires (the backend's own poll timer, which paces the
// arrivals), and a timer left due between two arrivals would wake the
// process for nothing, twice, since the runtime's poller sleeps in whole
// milliseconds and then waits out the rest (measured in an exec storm:
// 3.6 sleeps per pass of the ring buffer, 2.5 with this). An event waits
// at most two gaps and coalesceSlack longer than the window when a storm
// stops.
func coalesce(d, last time.Time, gap time.Duration) time.Time {
	k := (d.Sub(last) + gap - 1) / gap
	return later(d, last.Add(time.Duration(k+1)*gap+coalesceSlack))
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// receiveBatch receives the events of b, arrived at now, releasing what
// the window lets go before each, and hands b back to in.
func (p *Pipeline) receiveBatch(in *semconv.Queue, b []semconv.Event, now time.Time) {
	for i := range b {
		if i > 0 {
			p.releaseReady(now)
		}
		p.receiveAt(&b[i], now)
	}
	in.Release(b)
}

// Close closes every sink within ctx and returns their errors joined. It
// is idempotent; call it after Run has returned.
func (p *Pipeline) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		var errs []error
		for _, s := range p.sinks {
			if err := s.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			p.closeErr = errors.Join(errs...)
		}
	})
	return p.closeErr
}

// Stats returns the counters so far. Safe for concurrent use.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.UnmatchedFirst = slices.Clone(s.UnmatchedFirst)
	s.Live = p.t.lists[stateLive].n
	s.Exited = p.t.lists[stateExited].n
	s.Reaped = p.t.lists[stateReaped].n
	s.TableSize = p.t.size()
	s.Evicted = p.t.evicted
	s.EvictedLive = p.t.evictedLive
	s.Forgotten = p.t.forgotten
	s.UnpairedExecAttempts = p.att.unpaired
	s.Buffered = int(p.buffered.Load())
	return s
}

// receive takes one event from the backend: seeds go to the table at
// once, everything else into the ordering window.
func (p *Pipeline) receive(e *semconv.Event) { p.receiveAt(e, p.now()) }

// receiveAt is receive with the time of arrival given.
func (p *Pipeline) receiveAt(e *semconv.Event, now time.Time) {
	slot := p.win.reserve()
	*p.win.event(slot) = *e
	p.receiveSlot(slot, now)
}

// receiveSlot takes the event written into slot, received at now: it
// goes into the ordering window, or to the table and the slot is freed.
func (p *Pipeline) receiveSlot(slot int32, now time.Time) {
	e := p.win.event(slot)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !e.Kind.Valid() {
		p.stats.Invalid++
		p.win.freeSlot(slot)
		return
	}
	p.stats.In[e.Kind]++
	if p.os == semconv.OSUnknown {
		p.os = e.OS
	}
	if !e.Time.IsZero() && e.BootNS != 0 {
		// Follow the backend's conversion, which follows the wall
		// clock when it is set.
		p.clock.BootWall = e.Time.Add(-time.Duration(e.BootNS))
	}
	if e.Kind != semconv.KindExisting && p.firstBootNS == 0 {
		p.firstBootNS = e.BootNS
	}
	if e.Kind == semconv.KindExisting {
		p.seed(e)
		p.win.freeSlot(slot)
		return
	}
	if p.win.pushSlot(slot, now) {
		p.stats.Reordered++
	}
	p.buffered.Store(int64(p.win.len()))
}

// releaseReady hands on every event the window lets go at now.
func (p *Pipeline) releaseReady(now time.Time) {
	for p.win.ready(now) {
		p.handleOldest()
	}
}

// handleOldest takes the oldest event off the window and handles it in
// its slot.
func (p *Pipeline) handleOldest() {
	slot, late := p.win.popSlot()
	p.buffered.Store(int64(p.win.len()))
	p.handle(p.win.event(slot), late)
	p.win.freeSlot(slot)
}

// handle runs one ordered event through the table, the filter and the
// sinks. The lock is not held while sinks run, so a sink may use the
// pipeline's read-only views.
func (p *Pipeline) handle(e *semconv.Event, late bool) {
	p.mu.Lock()
	if late {
		p.stats.Late++
	}
	p.lts = p.lts[:0]
	emit := p.apply(e)
	pass := false
	if emit {
		pass = p.cfg.Filter == nil || p.cfg.Filter.Match(e, p.t)
		if pass {
			p.stats.Out[e.Kind]++
		} else {
			p.stats.Filtered[e.Kind]++
		}
	}
	p.mu.Unlock()
	if pass {
		p.handed = true
		for _, s := range p.sinks {
			s.Event(e)
		}
	}
	p.deliverLifetimes()
}

// flush tells the sinks that are Flushers to write what this pass handed
// them, if it handed them anything.
func (p *Pipeline) flush() {
	if !p.handed {
		return
	}
	p.handed = false
	for _, f := range p.flushers {
		f.Flush()
	}
}

func (p *Pipeline) deliverLifetimes() {
	for i := range p.lts {
		if !p.lts[i].pass {
			continue
		}
		p.handed = true
		for _, s := range p.sinks {
			s.Lifetime(&p.lts[i].lt)
		}
	}
	for i := range p.lts {
		p.lts[i] = lifetimeOut{}
	}
	p.lts = p.lts[:0]
}

// shutdown releases the window and, when configured, the lifetimes of
// processes still alive.
func (p *Pipeline) shutdown() {
	for p.win.len() > 0 {
		p.handleOldest()
	}
	p.mu.Lock()
	p.att.flush()
	p.lts = p.lts[:0]
	if p.cfg.FlushIncomplete {
		end := p.now()
		live := make([]*entry, 0, p.t.lists[stateLive].n)
		for en := p.t.lists[stateLive].head; en != nil; en = en.lnext {
			live = append(live, en)
		}
		sortEntries(live)
		for _, en := range live {
			p.closeLifetime(en, true, end)
		}
	}
	p.mu.Unlock()
	p.deliverLifetimes()
	p.flush()
}

// wall returns the wall-clock time of e.
func (p *Pipeline) wall(e *semconv.Event) time.Time {
	if !e.Time.IsZero() {
		return e.Time
	}
	if !p.clock.BootWall.IsZero() && e.BootNS != 0 {
		return p.clock.Wall(e.BootNS)
	}
	return time.Time{}
}

// closeLifetime queues the lifetime of en for the sinks (after the
// filter). Incomplete marks a process whose exit was not seen.
func (p *Pipeline) closeLifetime(en *entry, incomplete bool, end time.Time) {
	lt := semconv.Lifetime{
		Process:    en.proc,
		Lineage:    p.t.lineage(en, en.traceParent),
		OS:         p.os,
		Start:      en.startWall,
		End:        end,
		Exited:     en.exitSeen,
		Exit:       en.exit,
		Incomplete: incomplete,
		Seeded:     en.seeded,
		Execs:      en.execs,
		Children:   en.forks,
	}
	lt.Process.TID = lt.Process.PID
	if lt.Start.IsZero() && en.startNS != 0 && !p.clock.BootWall.IsZero() {
		lt.Start = p.clock.Wall(en.startNS)
	}
	// The creation time the process's log records carry
	// (semconv.EventCreationTime: the kernel's start time on this clock).
	if lt.Process.Start != 0 && !p.clock.BootWall.IsZero() {
		lt.Created = p.clock.Wall(lt.Process.Start)
	}
	pass := p.cfg.Filter == nil || p.matchLifetime(&lt)
	switch {
	case !pass:
		p.stats.LifetimesFiltered++
	case incomplete:
		p.stats.Incomplete++
		p.stats.Lifetimes++
	default:
		p.stats.Lifetimes++
	}
	p.lts = append(p.lts, lifetimeOut{lt: lt, pass: pass})
}

// matchLifetime reports whether the process's exit, or its exec of its
// final image, passes the filter.
func (p *Pipeline) matchLifetime(lt *semconv.Lifetime) bool {
	s := &p.scratch
	*s = semconv.Event{Kind: semconv.KindExit, OS: p.os, Process: lt.Process, Exit: lt.Exit, Lineage: lt.Lineage}
	ok := p.cfg.Filter.Match(s, p.t)
	if !ok {
		s.Kind = semconv.KindExec
		s.Exit = semconv.ExitInfo{}
		if n := len(lt.Execs); n > 0 {
			s.Exec.Filename = lt.Execs[n-1].Filename
			s.Exec.Argv = lt.Execs[n-1].Argv
		}
		ok = p.cfg.Filter.Match(s, p.t)
	}
	*s = semconv.Event{}
	return ok
}
