package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// countSink counts what it is given and keeps nothing.
type countSink struct{ events, lifetimes int }

func (s *countSink) Event(*semconv.Event)        { s.events++ }
func (s *countSink) Lifetime(*semconv.Lifetime)  { s.lifetimes++ }
func (s *countSink) Close(context.Context) error { return nil }

// feed drives the pipeline as Run does, without the channel.
func feed(p *Pipeline, e *semconv.Event, now time.Time) {
	p.receive(e)
	p.releaseReady(now)
}

func benchPipeline(b *testing.B, cfg Config) {
	sink := &countSink{}
	p := New(cfg, sink)
	now := time.Now()
	p.now = func() time.Time { return now }
	init := existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init")
	feed(p, &init, now)
	argv := []string{"curl", "-s", "-o", "/dev/null", "https://example.com/api"}
	storm(b, p, now, 2, func(ts uint64, pid int32) (semconv.Event, semconv.Event) {
		return fork(ts, pid, 1), execOK(ts+ms/4, pid, "/usr/bin/curl", argv...)
	})
	if st := p.Stats(); st.Lifetimes+st.LifetimesFiltered != uint64(b.N) {
		b.Fatalf("%d lifetimes for %d processes", st.Lifetimes+st.LifetimesFiltered, b.N)
	}
}

// storm feeds b.N short lives through p: the fork and exec spawn makes
// for pid at ts, then the exit and the reap. It shuts p down at the end.
func storm(b *testing.B, p *Pipeline, now time.Time, firstPID int32, spawn func(ts uint64, pid int32) (fork, exec semconv.Event)) {
	ts := 1000 * ms
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pid := firstPID + int32(i%30000)
		f, x := spawn(ts, pid)
		x.Exec.Argv = x.Process.Argv
		ex := exit(ts+ms/2, pid, 0, 0)
		r := reap(ts+3*ms/4, pid)
		feed(p, &f, now)
		feed(p, &x, now)
		feed(p, &ex, now)
		feed(p, &r, now)
		ts += 11 * ms // pids come back only after the key granularity
	}
	b.StopTimer()
	p.shutdown()
}

// BenchmarkPipelineForkExecExit measures one process's life: fork, exec,
// exit and reap through the window, table, redaction and sinks.
func BenchmarkPipelineForkExecExit(b *testing.B) { benchPipeline(b, Config{}) }

// BenchmarkPipelineForkExecExitFiltered adds a filter most events fail.
func BenchmarkPipelineForkExecExitFiltered(b *testing.B) {
	f, err := ParseFilter("kind=exec,exit exe=*/wget uid!=0")
	if err != nil {
		b.Fatal(err)
	}
	benchPipeline(b, Config{Filter: f})
}

// BenchmarkPipelineRun measures the same through Run and a channel.
func BenchmarkPipelineRun(b *testing.B) {
	sink := &countSink{}
	p := New(Config{}, sink)
	in := semconv.NewQueue(1024, 0)
	send := func(e semconv.Event) { in.Send(&e) }
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), in) }()
	send(existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"))
	argv := []string{"curl", "-s", "https://example.com"}
	ts := 1000 * ms
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pid := int32(2 + i%30000)
		send(fork(ts, pid, 1))
		send(execOK(ts+ms/4, pid, "/usr/bin/curl", argv...))
		send(exit(ts+ms/2, pid, 0, 0))
		send(reap(ts+3*ms/4, pid))
		ts += 11 * ms
	}
	in.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

func BenchmarkRedactArgvClean(b *testing.B) {
	r := DefaultRedactor()
	argv := []string{"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "8080"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Argv(argv)
	}
}

func BenchmarkRedactArgvSecret(b *testing.B) {
	r := DefaultRedactor()
	argv := []string{"curl", "-H", "Authorization: Bearer abc.def", "https://bob:pw@example.com/x"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Argv(argv)
	}
}

func BenchmarkFilterMatch(b *testing.B) {
	f, err := ParseFilter("kind=exec,exit exe=*/curl uid!=0 pid=1+")
	if err != nil {
		b.Fatal(err)
	}
	e := execOK(1000*ms, 200, "/usr/bin/curl", "curl", "x")
	e.Process.UID = 1000
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Match(&e, fakeLineage{})
	}
}

// BenchmarkWindowFull measures one push and one pop through an ordering
// window holding 2,000 events (20 ms of a 100,000 events/s storm), with
// arrival slightly out of kernel-time order as per-CPU buffers deliver it.
func BenchmarkWindowFull(b *testing.B) {
	w := window{length: DefaultWindow}
	now := time.Now()
	var ev, out semconv.Event
	ts := uint64(1)
	for i := 0; i < 2000; i++ {
		ev.BootNS = ts + uint64(i%7)*1000
		w.push(&ev, now)
		ts += 10_000
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.BootNS = ts + uint64(i%7)*1000
		ts += 10_000
		w.push(&ev, now)
		w.pop(&out)
	}
}

// benchDeepTree is a storm of short-lived processes forked at the bottom
// of a chain of depth live processes in one process group (a CI runner's
// shell, make, sub-makes, shells): the events walk the chain to find
// their trace root. With jobs, each child makes its own process group
// before it execs, as a job-control shell's jobs do.
func benchDeepTree(b *testing.B, depth int, jobs bool) {
	sink := &countSink{}
	p := New(Config{}, sink)
	now := time.Now()
	p.now = func() time.Time { return now }
	init := existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init")
	feed(p, &init, now)
	const top = 100
	for i := 0; i < depth; i++ {
		pid, ppid := int32(top+i), int32(top+i-1)
		if i == 0 {
			ppid = 1
		}
		e := existing(pid, ppid, uint64(10+i)*ms, top, top, "/bin/sh", "sh")
		feed(p, &e, now)
	}
	bottom := int32(top + depth - 1)
	argv := []string{"cc", "-c", "x.c"}
	storm(b, p, now, 1000, func(ts uint64, pid int32) (semconv.Event, semconv.Event) {
		x := execOK(ts+ms/4, pid, "/usr/bin/cc", argv...)
		if jobs {
			x.Process.PGID, x.Process.SID = pid, top
		}
		return withGroup(fork(ts, pid, bottom), top, top), x
	})
	if st := p.Stats(); st.Lifetimes != uint64(b.N) {
		b.Fatalf("%d lifetimes for %d processes", st.Lifetimes, b.N)
	}
}

// BenchmarkPipelineDeepTree: children of the 12th process of one group.
func BenchmarkPipelineDeepTree(b *testing.B) { benchDeepTree(b, 12, false) }

// BenchmarkPipelineDeepTreeJobs: the same children, each its own job.
func BenchmarkPipelineDeepTreeJobs(b *testing.B) { benchDeepTree(b, 12, true) }
