//go:build linux

package linux

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

// cgroup2Root returns where the cgroup v2 hierarchy is mounted, skipping
// loudly when there is none.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	t.Skip("SKIP LOUDLY: no cgroup v2 hierarchy mounted; throttling is per cgroup v2 id")
	return ""
}

// newCgroup creates a cgroup for the test and returns its directory and
// id; it is removed at the end of the test.
func newCgroup(t *testing.T, name string) (dir string, id uint64) {
	t.Helper()
	dir = filepath.Join(cgroup2Root(t), fmt.Sprintf("procotel-test-%s-%d", name, os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("remove cgroup %s: still in use", dir)
	})
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, st.Sys().(*syscall.Stat_t).Ino
}

// inCgroup returns a shell that moves itself into the cgroup dir and
// runs /bin/true n times.
func inCgroup(dir string, n int) *exec.Cmd {
	script := fmt.Sprintf(`echo $$ > %s/cgroup.procs || exit 99; i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done`, dir, n)
	return exec.Command("/bin/sh", "-c", script)
}

// TestBackendThrottlesExecStorm: with a limit of 50 execs a second, a
// cgroup running 500 execs gets about 50 a second reported and a
// throttle start and stop whose count is the rest; every exit and reap is
// reported; a cgroup running 30 execs at the same time is not throttled.
func TestBackendThrottlesExecStorm(t *testing.T) {
	const limit, storm, calm = 50, 500, 30
	stormDir, stormID := newCgroup(t, "storm")
	calmDir, calmID := newCgroup(t, "calm")
	b, c := startBackend(t, backends.Options{ExecRateLimit: limit})

	start := time.Now()
	stormCmd, calmCmd := inCgroup(stormDir, storm), inCgroup(calmDir, calm)
	if err := stormCmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := calmCmd.Run(); err != nil {
		t.Fatalf("calm cgroup: %v", err)
	}
	if err := stormCmd.Wait(); err != nil {
		t.Fatalf("storm cgroup: %v", err)
	}
	took := time.Since(start)

	stop := c.wait(t, "throttle stop", func(e *semconv.Event) bool {
		return e.Kind == semconv.KindThrottle && e.Throttle.CgroupID == stormID && e.Throttle.Phase == semconv.ThrottleStop
	})
	// The reaps of the true processes come from sched_process_free, or
	// are inferred 2 s after the exit.
	count := func(kind semconv.Kind, cg uint64) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := 0
		for i := range c.events {
			e := &c.events[i]
			if e.Kind == kind && e.Process.CgroupID == cg && e.Process.Comm == "true" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (count(semconv.KindReap, stormID) < storm || count(semconv.KindReap, calmID) < calm) {
		time.Sleep(50 * time.Millisecond)
	}

	c.mu.Lock()
	var starts, stops int
	for i := range c.events {
		e := &c.events[i]
		if e.Kind != semconv.KindThrottle {
			continue
		}
		if e.Throttle.CgroupID == calmID {
			t.Errorf("calm cgroup throttled: %+v", e.Throttle)
		}
		if e.Throttle.CgroupID != stormID {
			continue
		}
		if e.Throttle.Limit != limit || e.Process.CgroupID != stormID || e.Process.PID != 0 {
			t.Errorf("throttle event: %+v, process %+v", e.Throttle, e.Process)
		}
		switch e.Throttle.Phase {
		case semconv.ThrottleStart:
			starts++
		case semconv.ThrottleStop:
			stops++
		}
	}
	c.mu.Unlock()
	execs := count(semconv.KindExec, stormID)
	windows := int(took/time.Second) + 2
	t.Logf("storm of %d execs in %v: %d reported, %d counted; throttles %d started, %d stopped", storm, took, execs, stop.Throttle.Suppressed, starts, stops)
	if starts != 1 || stops != 1 {
		t.Errorf("throttles of the storm cgroup: %d starts, %d stops, want 1 and 1", starts, stops)
	}
	if uint64(execs)+stop.Throttle.Suppressed != storm {
		t.Errorf("storm: %d execs reported + %d counted = %d, want %d", execs, stop.Throttle.Suppressed, uint64(execs)+stop.Throttle.Suppressed, storm)
	}
	if execs < limit || execs > limit*windows {
		t.Errorf("storm: %d execs reported in %v, want %d to %d", execs, took, limit, limit*windows)
	}
	if n := count(semconv.KindExec, calmID); n != calm {
		t.Errorf("calm cgroup: %d execs reported, want %d", n, calm)
	}
	for _, cg := range []struct {
		id uint64
		n  int
	}{{stormID, storm}, {calmID, calm}} {
		if n := count(semconv.KindExit, cg.id); n != cg.n {
			t.Errorf("cgroup %d: %d exits, want %d", cg.id, n, cg.n)
		}
		if n := count(semconv.KindReap, cg.id); n != cg.n {
			t.Errorf("cgroup %d: %d reaps, want %d", cg.id, n, cg.n)
		}
	}
	// Other cgroups of the host may be throttled too.
	st := b.Stats()
	if st.Throttled < stop.Throttle.Suppressed {
		t.Errorf("Stats.Throttled = %d, below the storm's stop count %d", st.Throttled, stop.Throttle.Suppressed)
	}
	if lost := st.TotalLost(); lost != 0 {
		t.Errorf("lost %d events", lost)
	}
}

// TestBackendThrottleStopAtEnd: a throttle still in progress when Run's
// context ends gets its stop, with the count so far.
func TestBackendThrottleStopAtEnd(t *testing.T) {
	const limit, storm = 20, 200
	dir, id := newCgroup(t, "end")
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING eBPF backend test: needs root (CAP_BPF, CAP_PERFMON) to load programs")
	}
	be, err := New("", backends.Options{ExecRateLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := be.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out := semconv.NewQueue(1<<14, 0)
	done := make(chan error, 1)
	go func() { done <- be.Run(ctx, out); out.Close() }()
	time.Sleep(200 * time.Millisecond) // past the seeding
	if err := inCgroup(dir, storm).Run(); err != nil {
		t.Fatal(err)
	}
	cancel() // before the throttle's timer, a second away at least, ends it
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var execs, stops int
	var counted uint64
	for _, e := range testenv.Queued(out) {
		switch {
		case e.Kind == semconv.KindExec && e.Process.CgroupID == id && e.Process.Comm == "true":
			execs++
		case e.Kind == semconv.KindThrottle && e.Throttle.CgroupID == id && e.Throttle.Phase == semconv.ThrottleStop:
			stops++
			counted = e.Throttle.Suppressed
		}
	}
	if stops != 1 || uint64(execs)+counted != storm {
		t.Errorf("%d stops; %d execs reported + %d counted, want 1 stop and %d", stops, execs, counted, storm)
	}
}
