//go:build linux

package linux

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

// TestBackendDrainsOnCancel: when Run's context ends right after a burst
// of processes, the exits and reaps already in the ring buffer are still
// delivered, every one of them, before Run returns.
func TestBackendDrainsOnCancel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING eBPF backend test: needs root (CAP_BPF, CAP_PERFMON) to load programs")
	}
	be, err := New("", backends.Options{NoExecFailures: true})
	if err != nil {
		t.Fatal(err)
	}
	b := be.(*Backend)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("start as root: %v", err)
	}
	// Large enough that Run never waits for the test.
	q := semconv.NewQueue(1<<16, 0)
	out := testenv.Events(q, 1<<16)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, q); q.Close() }()
	self := int32(os.Getpid())
	for seeded := false; !seeded; {
		select {
		case ev := <-out:
			seeded = ev.Kind == semconv.KindExisting && ev.Process.PID == self
		case <-time.After(5 * time.Second):
			t.Fatal("not seeded within 5s")
		}
	}

	const n = 300
	pids := make(map[int32]bool, n)
	for i := 0; i < n; i++ {
		cmd := exec.Command("/bin/true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pids[int32(cmd.Process.Pid)] = true
	}
	cancel() // at once: the last exits and reaps are still in the ring
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of its context ending")
	}
	exits, reaps := map[int32]bool{}, map[int32]bool{}
	for ev := range out {
		if !pids[ev.Process.PID] {
			continue
		}
		switch ev.Kind {
		case semconv.KindExit:
			exits[ev.Process.PID] = true
		case semconv.KindReap:
			reaps[ev.Process.PID] = true
		}
	}
	if len(exits) != n || len(reaps) != n {
		t.Errorf("of %d processes, %d exits and %d reaps delivered (stats %+v)", n, len(exits), len(reaps), b.Stats())
	}
	if lost := b.Stats().TotalLost(); lost != 0 {
		t.Errorf("lost %d in the kernel", lost)
	}
}
