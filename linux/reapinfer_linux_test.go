package linux

import (
	"os"
	"testing"
	"time"

	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

// TestInferReaps: a process whose exit was delivered, which is gone from
// /proc, and whose reap the kernel has not reported after reapLate gets
// one inferred reap; a process still in /proc (a zombie, or alive) gets
// none; the kernel's late report of the inferred one is left out and
// counted, and every reap is counted once as received.
func TestInferReaps(t *testing.T) {
	out := semconv.NewQueue(4, 0)
	b := &Backend{closing: make(chan struct{})}
	r := &ringRun{b: b, out: out, unreaped: map[procKey]exited{}, inferred: map[procKey]struct{}{}}
	gone := semconv.Process{PID: 1 << 30, TID: 1 << 30, Start: 5e9, Comm: "gone"} // beyond pid_max: not in /proc
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	pid := int32(os.Getpid())
	self := semconv.Process{PID: pid, TID: pid, Start: st.startTick * tickNS, Comm: "test"} // alive: in /proc
	old := time.Now().Add(-3 * time.Second)
	for _, p := range []semconv.Process{gone, self} {
		r.unreaped[procKey{p.PID, p.Start}] = exited{comm: p.Comm, os: semconv.OSLinux, at: old}
	}
	fresh := semconv.Process{PID: 1<<30 + 1, TID: 1<<30 + 1, Start: 6e9}
	r.unreaped[procKey{fresh.PID, fresh.Start}] = exited{at: time.Now()}

	if !r.inferReaps(reapLate) {
		t.Fatal("closed")
	}
	got := testenv.Queued(out)
	if len(got) != 1 {
		t.Fatalf("%d reaps inferred, want 1 (the process gone from /proc for over %v)", len(got), reapLate)
	}
	ev := got[0]
	if ev.Kind != semconv.KindReap || !ev.Reap.Inferred || ev.Process.PID != gone.PID || ev.Process.Start != gone.Start ||
		ev.Process.Comm != "gone" || ev.Exit.Code != 0 || ev.Time.IsZero() {
		t.Errorf("inferred reap %+v", ev)
	}
	if _, ok := r.unreaped[procKey{self.PID, self.Start}]; !ok {
		t.Error("a process still in /proc was given up")
	}
	if _, ok := r.unreaped[procKey{fresh.PID, fresh.Start}]; !ok {
		t.Error("a process that exited just now was given up")
	}
	if got := b.reapsInferred.Load(); got != 1 {
		t.Errorf("ReapsInferred %d, want 1", got)
	}
	// The kernel's report comes late: left out, counted once.
	b.received[semconv.KindReap].Add(1) // what read does before it asks reaped
	if r.reaped(procKey{gone.PID, gone.Start}) {
		t.Error("the late kernel reap of an inferred one was delivered again")
	}
	// (Received counts the inferred reap once: +1 when inferred, +1 when
	// the ring's record is decoded, -1 when it is left out.)
	if late, got := b.lateReaps.Load(), b.received[semconv.KindReap].Load(); late != 1 || got != 1 {
		t.Errorf("late reaps dropped %d, received reaps %d; want 1 and 1", late, got)
	}
	// At stop, age does not matter.
	delete(r.unreaped, procKey{self.PID, self.Start})
	if !r.inferReaps(0) {
		t.Fatal("closed")
	}
	if got := testenv.Queued(out); len(got) != 1 {
		t.Fatalf("at stop: %d reaps inferred, want 1", len(got))
	}
}
