package agent

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// TestOwnProcess: procotel's GOGC, soft memory limit and single processor
// apply unless the environment sets its own, which the runtime has then
// read and which stays.
func TestOwnProcess(t *testing.T) {
	prevGC, prevLimit, prevProcs := debug.SetGCPercent(100), debug.SetMemoryLimit(-1), runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
		runtime.GOMAXPROCS(prevProcs)
		ownProcs.Store(0)
		grownProcs.Store(0)
	})

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(3)
	OwnProcess()
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("without GOGC: %d, want %d", got, GCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != MemoryLimit {
		t.Errorf("without GOMEMLIMIT: limit %d, want %d", got, MemoryLimit)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("without GOMAXPROCS: %d processors, want 1", got)
	}
	if got := ownProcs.Load(); got != 3 {
		t.Errorf("processors to grow back to: %d, want 3", got)
	}

	ownProcs.Store(0)
	t.Setenv("GOGC", "200")
	t.Setenv("GOMEMLIMIT", "200MiB")
	t.Setenv("GOMAXPROCS", "2")
	debug.SetGCPercent(200) // what the runtime read at start-up
	debug.SetMemoryLimit(200 << 20)
	runtime.GOMAXPROCS(2)
	OwnProcess()
	if got := debug.SetGCPercent(200); got != 200 {
		t.Errorf("with GOGC=200: %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Errorf("with GOMEMLIMIT=200MiB: limit %d, want %d", got, 200<<20)
	}
	if got := runtime.GOMAXPROCS(0); got != 2 || ownProcs.Load() != 0 {
		t.Errorf("with GOMAXPROCS=2: %d processors (to grow back to: %d), want 2 and none", got, ownProcs.Load())
	}
}

// TestGrowUnderBacklog: a queue a quarter full or less keeps procotel on
// one processor; over a quarter, it gets back the processors OwnProcess
// took.
func TestGrowUnderBacklog(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev); ownProcs.Store(0); grownProcs.Store(0) })
	ownProcs.Store(2)

	q := semconv.NewQueue(8192, 256) // nobody consumes: the queue only fills
	send := func(n int) {
		for range n {
			if !q.Send(&semconv.Event{Kind: semconv.KindFork}) {
				t.Fatal("Send failed")
			}
		}
		q.Flush()
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() { growUnderBacklog(q, done); close(ended) }()
	send(2048) // a quarter
	time.Sleep(2 * backlogConfirm)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("a queue a quarter full grew the processors to %d", got)
	}
	// A burst over a quarter that the consumer takes at once is no
	// backlog.
	send(1)
	for n := 0; n < 2049; {
		b := <-q.Batches()
		n += len(b)
		q.Release(b)
	}
	time.Sleep(2 * backlogConfirm)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("a burst the consumer took at once grew the processors to %d", got)
	}
	send(2049) // and nobody takes it
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("a queue over a quarter full did not grow the processors")
	}
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("a backlog left %d processors, want 2", got)
	}
	if n, grown := GrownProcs(); !grown || n != 2 {
		t.Errorf("GrownProcs %d %v, want 2 true", n, grown)
	}
	close(done)
}
