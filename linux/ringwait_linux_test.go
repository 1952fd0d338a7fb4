//go:build linux

package linux

import (
	"errors"
	"os"
	"testing"
	"time"
)

// The waiter is exercised on a pipe, which the poller treats like the ring
// buffer's descriptor: readable wakes it, nothing lets the deadline pass.
func TestRingWaiter(t *testing.T) {
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer wr.Close()
	w, err := newRingWaiter(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := w.wait(30 * time.Millisecond); err != nil {
		t.Fatalf("wait on an idle descriptor: %v", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("wait on an idle descriptor returned after %v, before its 30ms deadline", d)
	}

	go func() {
		time.Sleep(50 * time.Millisecond)
		wr.Write([]byte{1})
	}()
	start = time.Now()
	if err := w.wait(10 * time.Second); err != nil {
		t.Fatalf("wait for a readable descriptor: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a readable descriptor woke the waiter only after %v", d)
	}

	// interrupt ends a wait in progress.
	var b [1]byte
	r.Read(b[:]) // level back to empty; the poller is edge-triggered anyway
	go func() {
		time.Sleep(50 * time.Millisecond)
		w.interrupt()
	}()
	start = time.Now()
	if err := w.wait(10 * time.Second); err != nil {
		t.Fatalf("interrupted wait: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("interrupt ended the wait only after %v", d)
	}

	go func() {
		time.Sleep(50 * time.Millisecond)
		w.close()
	}()
	if err := w.wait(10 * time.Second); !errors.Is(err, errRingClosed) {
		t.Fatalf("wait across close: got %v, want errRingClosed", err)
	}
	if err := w.wait(time.Second); !errors.Is(err, errRingClosed) {
		t.Fatalf("wait after close: got %v, want errRingClosed", err)
	}
}

// TestNextPoll follows the reader's interval through a quiet spell, a
// storm and back: doubling to idlePollInterval while nothing arrives,
// busyPollInterval while a look finds busyRecords or more, pollInterval
// otherwise.
func TestNextPoll(t *testing.T) {
	steps := []struct {
		found int
		want  time.Duration
	}{
		{0, 2 * pollInterval}, {0, 4 * pollInterval}, {0, 8 * pollInterval}, {0, idlePollInterval},
		{0, idlePollInterval}, {1, pollInterval}, {busyRecords - 1, pollInterval},
		{busyRecords, busyPollInterval}, {5000, busyPollInterval}, {3, pollInterval},
		{busyRecords, busyPollInterval}, {0, 2 * busyPollInterval}, {0, idlePollInterval},
	}
	poll := pollInterval
	for i, s := range steps {
		poll = nextPoll(poll, s.found)
		if poll != s.want {
			t.Fatalf("step %d: after a look that found %d records: wait %v, want %v", i, s.found, poll, s.want)
		}
	}
}
