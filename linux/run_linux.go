//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/procotel/procotel/semconv"
)

// reapGrace bounds how long a stopping Run waits for the reaps of
// processes the kernel has already released (see awaitReaps). On a busy
// 2-core VM most arrive within 30 ms of the release; RCU callbacks run
// late when their CPU is saturated.
const reapGrace = 500 * time.Millisecond

// maxUnreaped bounds the exits Run remembers while it waits for their
// reaps; beyond it (a host of zombies, or reaps lost in the kernel) the
// rest are not waited for at stop.
const maxUnreaped = 1 << 16

// procKey is a process's identity: pid and start time.
type procKey struct {
	pid   int32
	start uint64
}

// ringRun is the state of one Run: the ring buffer reader and what it has
// decoded.
type ringRun struct {
	b     *Backend
	rings *ringSet
	w     *ringWaiter
	out   *semconv.Queue
	clock followClock
	dec   decoder
	// unreaped holds the processes whose exit was delivered and whose
	// reap was not yet, with that exit.
	unreaped map[procKey]exited
	// inferred holds the processes whose reap was inferred, so that the
	// kernel's late report is left out (at most maxUnreaped; cleared when
	// full).
	inferred  map[procKey]struct{}
	lastCheck time.Time
	// throttleStops, once stop began, holds the cgroups whose throttle
	// stop the kernel reported.
	throttleStops map[uint64]struct{}
	// taken counts the records the last read took.
	taken int
}

// Run sends one KindExisting event per process alive at Start, then the
// events of the ring buffer, until ctx ends. When ctx ends it still sends
// what the kernel had produced by then and returns (see stop). It must be
// called once, after Start; Close ends a Run blocked on out.
func (b *Backend) Run(ctx context.Context, out *semconv.Queue) error {
	b.mu.Lock()
	rings, w, clock := b.rings, b.waiter, b.caps.Clock
	b.mu.Unlock()
	if rings == nil {
		return errors.New("run ebpf backend: not started")
	}
	stop := context.AfterFunc(ctx, w.interrupt)
	defer stop()
	out.StopOn(b.closing)
	defer out.Flush()

	if ok, err := b.seed(out, clock); !ok {
		return err
	}
	r := &ringRun{b: b, rings: rings, w: w, out: out, clock: followClock{Clock: clock, sampledAt: bootNow(), sample: bootClock}, unreaped: map[procKey]exited{},
		inferred: map[procKey]struct{}{}}
	r.dec.env, r.dec.traceParent = b.env, b.opts.TraceParent
	// The programs submit without waking the reader (a wakeup costs the
	// producing hook an interrupt); the reader drains the ring at the
	// interval nextPoll picks, and the kernel wakes it early when the
	// buffer fills past a quarter.
	poll := pollInterval
	for {
		r.taken = 0
		more, err := r.read(ctx, -1)
		if !more || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return r.stop()
		}
		if more := r.inferReaps(reapLate); !more {
			return nil
		}
		poll = nextPoll(poll, r.taken)
		if more, err := r.wait(poll); !more || err != nil {
			return err
		}
	}
}

// reaped takes the kernel's reap of k and reports whether to deliver it:
// not when the reap was inferred already (then it is counted as late).
func (r *ringRun) reaped(k procKey) bool {
	if _, ok := r.inferred[k]; ok {
		delete(r.inferred, k)
		r.b.received[semconv.KindReap].Add(^uint64(0)) // counted when inferred
		r.b.lateReaps.Add(1)
		return false
	}
	delete(r.unreaped, k)
	return true
}

// exited is what a process's reap is inferred from: the identity its exit
// event gave (the pipeline knows the rest of the process by it), and when
// that event was delivered. Kept small: one is stored per exit.
type exited struct {
	ppid              int32
	parentStart, cgID uint64
	comm              string
	os                semconv.OS
	at                time.Time
}

// reapLate is how long after a process's exit its reap may take before
// the backend infers it. The kernel reports a reap through
// sched_process_free, when the task's last RCU user drops it: usually
// milliseconds after the release, but on a busy host it was measured not
// to come for minutes (2 of 300 processes a Go program started and
// waited for, none in 150 s; bpftrace saw the same), and without fentry
// on release_task there is no hook at the release itself.
const reapLate = 2 * time.Second

// inferReaps delivers, at most once a second, a reap marked Inferred for
// every process whose exit was delivered more than late ago and which is
// gone from /proc (released), so no reap is silently missing. It reports
// false when the backend was closed.
func (r *ringRun) inferReaps(late time.Duration) bool {
	now := time.Now()
	if late > 0 && now.Sub(r.lastCheck) < time.Second {
		return true
	}
	r.lastCheck = now
	for k, x := range r.unreaped {
		if now.Sub(x.at) < late || !released(k) {
			continue
		}
		ev := semconv.Event{Kind: semconv.KindReap, Reap: semconv.ReapInfo{Inferred: true},
			BootNS: bootNow(), Time: now, CPU: -1, OS: x.os,
			Process: semconv.Process{PID: k.pid, TID: k.pid, PPID: x.ppid, Start: k.start, ParentStart: x.parentStart,
				Comm: x.comm, CgroupID: x.cgID}}
		r.b.addCgroup(&ev.Process)
		delete(r.unreaped, k)
		if len(r.inferred) >= maxUnreaped {
			clear(r.inferred)
		}
		r.inferred[k] = struct{}{}
		r.b.reapsInferred.Add(1)
		r.b.received[semconv.KindReap].Add(1)
		if !r.out.Send(&ev) {
			return false
		}
	}
	return true
}

// stop delivers, once Run's context ended, what the kernel had produced
// by then: the records in the ring buffer at that moment (not the ones the
// programs, still attached, keep adding), and the reaps of processes the
// kernel had already released. Without fentry on release_task a reap is
// reported from sched_process_free, which runs an RCU grace period after
// the release; stop waits up to reapGrace for those.
func (r *ringRun) stop() error {
	open, ok := r.openThrottles()
	if !ok {
		return nil // closed: the ring buffer is gone
	}
	r.throttleStops = map[uint64]struct{}{}
	if more, err := r.read(context.Background(), r.rings.available()); !more || err != nil {
		return err
	}
	if more := r.endThrottles(open); !more {
		return nil
	}
	if more, err := r.awaitReaps(); !more || err != nil {
		return err
	}
	// What the kernel still has not reported of the processes it has
	// released is inferred now, whatever their age.
	r.inferReaps(0)
	return nil
}

// openThrottles returns the throttles in progress in the kernel; false
// when the backend was closed.
func (r *ringRun) openThrottles() ([]procotelThrottleState, bool) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.b.coll == nil || r.b.closed {
		return nil, false
	}
	var (
		open []procotelThrottleState
		cg   uint64
		t    procotelThrottleState
	)
	it := r.b.coll.Maps[procotelMapThrottles].Iterate()
	for it.Next(&cg, &t) {
		if t.Throttling != 0 {
			open = append(open, t)
		}
	}
	return open, true
}

// endThrottles delivers, at stop, the stop of each throttle of open the
// kernel has not reported: its timer would report it up to two seconds
// later, after the programs are gone. It reports false when the backend
// was closed.
func (r *ringRun) endThrottles(open []procotelThrottleState) bool {
	for _, t := range open {
		if _, ok := r.throttleStops[t.CgroupId]; ok {
			continue
		}
		now := bootNow()
		ev := semconv.Event{Kind: semconv.KindThrottle, BootNS: now, Time: r.clock.Wall(now), CPU: -1,
			OS: semconv.OSLinux, Process: semconv.Process{CgroupID: t.CgroupId},
			Throttle: semconv.ThrottleInfo{CgroupID: t.CgroupId, Phase: semconv.ThrottleStop,
				Suppressed: t.Suppressed, Limit: uint32(r.b.opts.ExecRateLimit)}}
		r.b.addCgroup(&ev.Process)
		r.b.received[semconv.KindThrottle].Add(1)
		if !r.out.Send(&ev) {
			return false
		}
	}
	return true
}

// awaitReaps reads the ring until every process whose exit was delivered
// and which is gone from /proc (released, its reap due from
// sched_process_free) has had its reap delivered, or reapGrace passed.
// Processes still in /proc (zombies nobody waited for) are not waited for.
func (r *ringRun) awaitReaps() (more bool, err error) {
	due := map[procKey]struct{}{}
	for k := range r.unreaped {
		if released(k) {
			due[k] = struct{}{}
		}
	}
	deadline := time.Now().Add(reapGrace)
	for len(due) > 0 {
		if more, err := r.read(context.Background(), r.rings.available()); !more || err != nil {
			return more, err
		}
		for k := range due {
			if _, ok := r.unreaped[k]; !ok {
				delete(due, k)
			}
		}
		if len(due) == 0 || time.Now().After(deadline) {
			break
		}
		if more, err := r.wait(pollInterval); !more || err != nil {
			return more, err
		}
	}
	return true, nil
}

// released reports whether the process k is gone from /proc: the kernel
// released it (or its pid now names a later process).
func released(k procKey) bool {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(int(k.pid)) + "/stat")
	if err != nil {
		return true
	}
	st, err := parseStat(b)
	return err == nil && st.startTick*tickNS != k.start/tickNS*tickNS
}

// wait waits for the ring buffer to wake the reader or d to pass. It
// reports false when the backend was closed.
func (r *ringRun) wait(d time.Duration) (more bool, err error) {
	if err := r.w.wait(d); err != nil {
		if errors.Is(err, errRingClosed) {
			return false, nil
		}
		return false, fmt.Errorf("run ebpf backend: wait for ring buffer: %w", err)
	}
	r.rings.drain()
	return true, nil
}

// read delivers the records of the ring buffers, oldest first across
// them, until they are empty, ctx ends, or, when limit >= 0, records of
// limit bytes were taken. It reports false when the backend was closed.
func (r *ringRun) read(ctx context.Context, limit int) (more bool, err error) {
	b := r.b
	defer r.out.Flush()     // nothing more at hand
	defer r.rings.publish() // the space read goes back to the kernel
	r.clock.refresh(bootNow())
	// When the exits of this pass were read, for reap inference (which
	// counts in seconds): one clock reading per pass, not per exit.
	readAt := time.Now()
	for limit != 0 && ctx.Err() == nil {
		if r.taken&1023 == 1023 { // a long read follows the clocks too
			r.clock.refresh(bootNow())
			readAt = time.Now()
		}
		sample, from, err := r.rings.next()
		if err != nil {
			return false, fmt.Errorf("run ebpf backend: read ring buffer: %w", err)
		}
		if sample == nil { // empty
			return true, nil
		}
		if limit > 0 {
			// A record takes an 8-byte header and is padded to 8 bytes.
			limit = max(0, limit-(ringHeaderSize+(len(sample)+7)&^7))
		}
		r.taken++
		ev := r.out.Next()
		if ev == nil {
			return false, nil
		}
		// Decoded where the kernel wrote it (the decoder copies what it
		// keeps), then the space is the kernel's again.
		truncated, err := r.dec.decode(sample, ev)
		from.take()
		if err != nil {
			r.out.Undo()
			b.decodeErrors.Add(1)
			continue
		}
		if truncated {
			b.truncated.Add(1)
		}
		b.received[ev.Kind].Add(1)
		ev.Time = r.clock.Wall(ev.BootNS)
		b.addCgroup(&ev.Process)
		switch ev.Kind {
		case semconv.KindExec:
			r.execFacts(ev)
		case semconv.KindExit:
			if len(r.unreaped) < maxUnreaped {
				p := &ev.Process
				r.unreaped[procKey{p.PID, p.Start}] = exited{ppid: p.PPID, parentStart: p.ParentStart,
					cgID: p.CgroupID, comm: p.Comm, os: ev.OS, at: readAt}
			}
		case semconv.KindReap:
			if !r.reaped(procKey{ev.Process.PID, ev.Process.Start}) {
				r.out.Undo()
				continue
			}
		case semconv.KindThrottle:
			if r.throttleStops != nil && ev.Throttle.Phase == semconv.ThrottleStop {
				r.throttleStops[ev.Throttle.CgroupID] = struct{}{}
			}
		}
	}
	return true, nil
}

// execFacts adds to an exec event what user space knows: the
// executable's hashes and TRACEPARENT when it lay past what the kernel
// copied of the environment. (The parent's executable is the pipeline's:
// its table has the parent, seen to fork, exec or in the /proc scan.)
func (r *ringRun) execFacts(ev *semconv.Event) {
	b, p, x := r.b, &ev.Process, &ev.Exec
	if h, ok := b.hashes.Lookup(r.dec.exe, p.PID, p.Exe); ok {
		x.HTLHash, x.SHA256 = h.HTL, h.SHA256
	}
	if b.opts.TraceParent && ev.TraceParent == "" && r.dec.envTruncated {
		ev.TraceParent = b.traceParent(p.PID)
	}
}
