package agent

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/semconv"
)

// collect is a sink that keeps copies of what it is handed.
type collect struct {
	mu        sync.Mutex
	events    []semconv.Event
	lifetimes []semconv.Lifetime
	closed    int
}

func (c *collect) Event(e *semconv.Event) {
	c.mu.Lock()
	c.events = append(c.events, *e)
	c.mu.Unlock()
}
func (c *collect) Lifetime(l *semconv.Lifetime) {
	c.mu.Lock()
	c.lifetimes = append(c.lifetimes, *l)
	c.mu.Unlock()
}
func (c *collect) Close(context.Context) error { c.mu.Lock(); c.closed++; c.mu.Unlock(); return nil }

// recording writes a job of two processes: sh (pid 500) forks 501, which
// execs false and exits 1; sh exits 3; both are reaped by pid 1. It returns
// the path.
func recording(t *testing.T) string {
	t.Helper()
	boot := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	clock := semconv.Clock{BootWall: boot}
	path := filepath.Join(t.TempDir(), "job.jsonl")
	var events []semconv.Event
	creds := semconv.Creds{UID: 0, EUID: 0, GID: 0, EGID: 0}
	sh := semconv.Process{PID: 500, TID: 500, PPID: 1, Start: 100e9, Creds: creds, PGID: 500, SID: 500, Comm: "sh", Exe: "/bin/sh", Argv: []string{"sh", "-c", "false; exit 3"}}
	child := sh
	child.PID, child.TID, child.PPID, child.Start, child.ParentStart = 501, 501, 500, 101e9, 100e9
	write := func(k semconv.Kind, atS float64, p semconv.Process, fill func(*semconv.Event)) {
		ns := uint64(atS * 1e9)
		e := semconv.Event{Kind: k, Time: clock.Wall(ns), BootNS: ns, OS: semconv.OSLinux, Process: p}
		if fill != nil {
			fill(&e)
		}
		events = append(events, e)
	}
	write(semconv.KindExisting, 99, sh, nil)
	write(semconv.KindFork, 101, child, nil)
	child.Comm, child.Exe, child.Argv = "false", "/bin/false", []string{"false"}
	write(semconv.KindExec, 101.1, child, func(e *semconv.Event) { e.Exec.Filename, e.Exec.Argv = child.Exe, child.Argv })
	write(semconv.KindExit, 101.2, child, func(e *semconv.Event) { e.Exit.Code = 1 })
	write(semconv.KindReap, 101.3, child, func(e *semconv.Event) { e.Reap.ReaperPID = 500 })
	write(semconv.KindExit, 102, sh, func(e *semconv.Event) { e.Exit.Code = 3 })
	write(semconv.KindReap, 102.1, sh, func(e *semconv.Event) { e.Reap.ReaperPID = 1 })
	caps := backends.Capabilities{OS: semconv.OSLinux, Boot: "agent-test", Clock: clock}
	if err := replay.WriteFile(path, "test", caps, events, backends.Stats{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func plan(t *testing.T, edit func(*config.Receiver)) Plan {
	t.Helper()
	r := config.DefaultReceiver()
	if edit != nil {
		edit(&r)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunDeliversEverythingAndStops(t *testing.T) {
	path := recording(t)
	p := plan(t, func(r *config.Receiver) { r.Backend = "replay:" + path })
	a, err := Open(context.Background(), p, Factories())
	if err != nil {
		t.Fatal(err)
	}
	sink := &collect{}
	a.Run(sink)
	select {
	case <-a.Ended():
	case <-time.After(10 * time.Second):
		t.Fatal("the replay never ended")
	}
	if err := a.Err(); err != nil {
		t.Fatalf("replay ended with %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// Ground truth: 501 exited 1, 500 exited 3, each reaped once.
	exits := map[int32]int32{}
	reaps := map[int32]int{}
	for _, e := range sink.events {
		switch e.Kind {
		case semconv.KindExit:
			exits[e.Process.PID] = e.Exit.Code
		case semconv.KindReap:
			reaps[e.Process.PID]++
		}
	}
	if exits[500] != 3 || exits[501] != 1 || len(exits) != 2 {
		t.Errorf("exits %v, want 500:3 501:1", exits)
	}
	if reaps[500] != 1 || reaps[501] != 1 {
		t.Errorf("reaps %v", reaps)
	}
	if len(sink.lifetimes) != 2 {
		t.Errorf("%d lifetimes, want 2", len(sink.lifetimes))
	}
	if sink.closed != 1 {
		t.Errorf("sink closed %d times, want once", sink.closed)
	}
	if got := a.Stats().Received[semconv.KindExit]; got != 2 {
		t.Errorf("backend stats: %d exits received, want 2", got)
	}
}

func TestRunRawHandsOnBackendEvents(t *testing.T) {
	path := recording(t)
	a, err := Open(context.Background(), plan(t, func(r *config.Receiver) { r.Backend = "replay:" + path }), Factories())
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	a.RunRaw(func(e *semconv.Event) { kinds = append(kinds, e.Kind.String()) })
	<-a.Ended()
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(kinds, " "), "existing fork exec exit reap exit reap"; got != want {
		t.Errorf("raw kinds %q, want %q", got, want)
	}
	if a.Pipeline() != nil {
		t.Error("raw mode built a pipeline")
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(context.Background(), plan(t, func(r *config.Receiver) { r.Backend = "replay:/nonexistent/x.jsonl" }), Factories())
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x.jsonl") {
		t.Errorf("missing recording: %v", err)
	}
	var se *SelectError
	if errors.As(err, &se) {
		t.Errorf("a missing file is not a selection error: %v", err)
	}
	p := plan(t, nil)
	p.Backend = "nosuch"
	_, err = Open(context.Background(), p, Factories())
	if !errors.As(err, &se) {
		t.Errorf("unknown backend: %v (%T), want a *SelectError", err, err)
	}
}

func TestStopWithoutRun(t *testing.T) {
	a, err := Open(context.Background(), plan(t, func(r *config.Receiver) { r.Backend = "replay:" + recording(t) }), Factories())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNewPlan(t *testing.T) {
	r := config.DefaultReceiver()
	r.Capture.ExecFailures = false
	r.Capture.ArgvMax = 4096
	r.Capture.ExecRateLimit = 50
	r.Traces.RootPolicy = "session"
	r.Filter = "comm=sh"
	p, err := NewPlan(r)
	if err != nil {
		t.Fatal(err)
	}
	if !p.BackendOptions.NoExecFailures || p.BackendOptions.ArgvMax != 4096 || p.BackendOptions.ExecRateLimit != 50 {
		t.Errorf("backend options %+v", p.BackendOptions)
	}
	if p.Pipeline.RootPolicy != semconv.RootSession || p.Pipeline.Filter == nil || p.Pipeline.Redact == nil {
		t.Errorf("pipeline config %+v", p.Pipeline)
	}
	r.Filter = "nosuchcolumn=1"
	if _, err := NewPlan(r); err == nil || !strings.HasPrefix(err.Error(), "filter: ") {
		t.Errorf("bad filter: %v", err)
	}
}
