package agent

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// GCPercent is procotel's GOGC unless the environment sets one. Its live
// heap is small (the process table, the ordering window, export batches)
// and collections are rare under a storm (a few per second), so halving
// Go's default headroom costs little CPU and keeps the resident size down.
const GCPercent = 50

// MemoryLimit is procotel's soft memory limit (the Go runtime's, see
// runtime/debug.SetMemoryLimit) unless GOMEMLIMIT sets one. Under a storm
// procotel's Go memory stays far below it (about 25 MiB printing, 40 MiB
// exporting OTLP), so it costs no CPU then; during an OTLP outage the
// export queues fill to their bound (about 37 MiB of records, see
// export.DefaultQueueSize), and the limit keeps the collector's headroom
// on top of that from growing the process past it.
const MemoryLimit = 64 << 20

// ownProcs is the processor count OwnProcess found, to grow back to under
// a backlog; zero when the processors are not procotel's to manage.
var ownProcs atomic.Int32

// OwnProcess tunes the Go runtime of a process that is procotel's own (the
// procotel binary, the storm harness's monitor) — never of a Collector
// that hosts the receiver. Each setting applies unless its environment
// variable (GOGC, GOMEMLIMIT, GOMAXPROCS) says otherwise:
//
//   - GOGC GCPercent and a soft memory limit of MemoryLimit;
//   - one processor for Go code. The backend's reader and the pipeline
//     then take turns on one thread: a batch handed on waits for the
//     reader to park, instead of waking a second thread, and no thread
//     spins looking for work. On the 2-core VM of docs/storm.md that cut
//     procotel's CPU per event by about a third (exec storm, A/B in one
//     run). An agent whose queue backs up (a storm beyond what one core
//     decodes and handles) is given the processors back: see
//     growUnderBacklog.
func OwnProcess() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		if n := runtime.GOMAXPROCS(1); n > 1 {
			ownProcs.Store(int32(n))
		}
	}
}

// backlogConfirm is how long a backlog the queue signalled must last
// before growUnderBacklog acts on it.
const backlogConfirm = 100 * time.Millisecond

// growUnderBacklog gives the process back the processors OwnProcess took,
// once the queue between backend and pipeline stays over a quarter full:
// one core no longer keeps up, and the reader and the pipeline run in
// parallel from then on. It waits for the queue's Backlog signal, not on
// a timer, so that a quiet agent is not woken to look; then it looks
// again backlogConfirm later, because on one processor a single read of
// the kernel buffer can queue that much before the pipeline gets to run.
// It returns when done is closed or it grew them.
func growUnderBacklog(q interface {
	Backlog() <-chan struct{}
	Backlogged() bool
}, done <-chan struct{}) {
	n := ownProcs.Load()
	if n <= 1 {
		return
	}
	confirm := time.NewTimer(time.Hour)
	confirm.Stop()
	defer confirm.Stop()
	for {
		select {
		case <-done:
			return
		case <-q.Backlog():
		}
		confirm.Reset(backlogConfirm)
		select {
		case <-done:
			return
		case <-confirm.C:
		}
		if q.Backlogged() {
			if ownProcs.CompareAndSwap(n, 0) {
				runtime.GOMAXPROCS(int(n))
				grownProcs.Store(n)
			}
			return
		}
	}
}

// grownProcs is the processor count growUnderBacklog restored; zero while
// procotel runs on one.
var grownProcs atomic.Int32

// GrownProcs says whether a backlog made procotel take back the processors
// OwnProcess limited it to, and how many it runs on then.
func GrownProcs() (n int, grown bool) {
	g := grownProcs.Load()
	return int(g), g > 0
}
