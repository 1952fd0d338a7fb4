package pipeline

import (
	"testing"

	"github.com/procotel/procotel/semconv"
)

// TestLauncherChildRootsItsTrace: under "procotel -- CMD" procotel (pid
// 500, its own job in the shell) forks CMD (501), which stays in
// procotel's process group and execs make; make forks cc (502) and a job
// of its own (503). procotel's span is never exported, so CMD must root a
// trace of its own with no parent span and no link, and its descendants
// must hang below it.
func TestLauncherChildRootsItsTrace(t *testing.T) {
	const launcher = 500
	evs := append(seedInitAndShell(),
		existing(launcher, 100, 900*ms, launcher, 100, "/usr/bin/procotel", "procotel", "--", "make"),
		withGroup(fork(1000*ms, 501, launcher), launcher, 100),
		execOK(1001*ms, 501, "/usr/bin/make", "make"),
		withGroup(fork(1002*ms, 502, 501), launcher, 100),
		execOK(1003*ms, 502, "/usr/bin/cc", "cc", "-c", "x.c"),
		withGroup(fork(1004*ms, 503, 501), 503, 100), // a job leader of its own
		exit(1005*ms, 503, 0, 0),
		exit(1006*ms, 502, 0, 0),
		exit(1007*ms, 501, 0, 0),
	)
	// The same stream without the setting shows the defect: CMD is in
	// procotel's process group, so it hangs below procotel's span.
	for _, c := range []struct {
		name     string
		launcher int32
	}{{"without launcher", 0}, {"with launcher", launcher}} {
		t.Run(c.name, func(t *testing.T) {
			rec, _ := run(t, Config{Launcher: c.launcher}, evs...)
			ids := map[int32]semconv.SpanIDs{}
			for i := range rec.lifetimes {
				lt := &rec.lifetimes[i]
				ids[lt.Process.PID] = semconv.SpanContextIDs("b", &lt.Process, lt.Lineage)
			}
			if len(ids) != 3 {
				t.Fatalf("lifetimes of %d processes, want 3 (501, 502, 503)", len(ids))
			}
			// procotel leads its process group: it roots its own trace.
			self := semconv.KeyOf(launcher, 900*ms)
			procotel := semconv.SpanIDs{TraceID: semconv.TraceID("b", self), SpanID: semconv.SpanID("b", self)}
			cmd, cc, job := ids[501], ids[502], ids[503]
			if c.launcher == 0 {
				if cmd.ParentSpanID != procotel.SpanID {
					t.Fatalf("without a launcher CMD's parent is %x, want procotel's span %x (the defect this setting fixes)",
						cmd.ParentSpanID, procotel.SpanID)
				}
				return
			}
			if cmd.ParentSpanID != ([8]byte{}) {
				t.Errorf("CMD's span has parent %x, want none (procotel's span %x is never exported)", cmd.ParentSpanID, procotel.SpanID)
			}
			if cmd.TraceID == procotel.TraceID {
				t.Errorf("CMD is in procotel's trace %x, want a trace of its own", cmd.TraceID)
			}
			if want := semconv.TraceID("b", semconv.KeyOf(501, 1000*ms)); cmd.TraceID != want {
				t.Errorf("CMD's trace %x, want the one it roots %x", cmd.TraceID, want)
			}
			if cmd.HasLink {
				t.Errorf("CMD's span links to %x, which is never exported", cmd.LinkSpanID)
			}
			if cc.TraceID != cmd.TraceID || cc.ParentSpanID != cmd.SpanID {
				t.Errorf("cc: trace %x parent %x, want CMD's trace %x and span %x", cc.TraceID, cc.ParentSpanID, cmd.TraceID, cmd.SpanID)
			}
			// A job CMD starts roots its own trace, linked to CMD as usual.
			if job.ParentSpanID != ([8]byte{}) || !job.HasLink || job.LinkSpanID != cmd.SpanID || job.LinkTraceID != cmd.TraceID {
				t.Errorf("CMD's job: parent %x link %v %x/%x, want no parent and a link to CMD %x/%x",
					job.ParentSpanID, job.HasLink, job.LinkTraceID, job.LinkSpanID, cmd.TraceID, cmd.SpanID)
			}
			// The log records carry the span ids of their process.
			for i := range rec.events {
				e := &rec.events[i]
				if want, ok := ids[e.Process.PID]; ok {
					if got := semconv.SpanContextIDs("b", &e.Process, e.Lineage); got.TraceID != want.TraceID || got.ParentSpanID != want.ParentSpanID {
						t.Errorf("%s of %d: trace %x parent %x, want %x %x", e.Kind, e.Process.PID, got.TraceID, got.ParentSpanID, want.TraceID, want.ParentSpanID)
					}
				}
			}
		})
	}
}

// TestLauncherChildSeededByTheScan: the command procotel starts right
// after attaching can be in the /proc scan of existing processes, before
// or instead of its fork's report. It must root its own trace all the
// same (seen with Jaeger: CMD's span hung below procotel's, which is never
// exported, about one run in three).
func TestLauncherChildSeededByTheScan(t *testing.T) {
	const launcher = 500
	base := append(seedInitAndShell(),
		existing(launcher, 100, 900*ms, launcher, 100, "/usr/bin/procotel", "procotel", "--", "sh"))
	cmd := existing(501, launcher, 1000*ms, launcher, 100, "/bin/sh", "sh", "-c", "true")
	for _, c := range []struct {
		name string
		evs  []semconv.Event
	}{
		{"scan, then the fork", []semconv.Event{cmd, withGroup(fork(1000*ms, 501, launcher), launcher, 100), exit(1007*ms, 501, 0, 0)}},
		{"scan only", []semconv.Event{cmd, exit(1007*ms, 501, 0, 0)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, _ := run(t, Config{Launcher: launcher}, append(append([]semconv.Event(nil), base...), c.evs...)...)
			if len(rec.lifetimes) != 1 || rec.lifetimes[0].Process.PID != 501 {
				t.Fatalf("lifetimes %d, want CMD's", len(rec.lifetimes))
			}
			lt := &rec.lifetimes[0]
			ids := semconv.SpanContextIDs("b", &lt.Process, lt.Lineage)
			if ids.ParentSpanID != ([8]byte{}) || ids.HasLink {
				t.Errorf("CMD's span has parent %x (link %v), want none: procotel's span is never exported", ids.ParentSpanID, ids.HasLink)
			}
			if want := semconv.TraceID("b", semconv.KeyOf(501, 1000*ms)); ids.TraceID != want {
				t.Errorf("CMD's trace %x, want the one it roots %x", ids.TraceID, want)
			}
		})
	}
}
