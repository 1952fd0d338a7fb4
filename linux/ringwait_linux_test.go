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
// storm and back: doubling to idlePollInterval while nothing arrives;
// while records come at busyRate or faster (judged over the wait they
// came in, so a rate just under it stays at pollInterval whichever
// interval measured it), the time busyRecords take at their rate, kept
// between pollInterval and busyPollInterval; pollInterval otherwise.
func TestNextPoll(t *testing.T) {
	per := func(d time.Duration) int { return int(busyRate * d / time.Second) } // records at busyRate
	steps := []struct {
		found int
		want  time.Duration
	}{
		{0, 2 * pollInterval}, {0, 4 * pollInterval}, {0, 8 * pollInterval}, {0, idlePollInterval},
		{0, idlePollInterval},
		{per(idlePollInterval) - 1, pollInterval}, // after 100 ms: just under the rate
		{1, pollInterval}, {per(pollInterval) - 1, pollInterval},
		{per(pollInterval), busyPollInterval},     // at the rate over 10 ms
		{per(busyPollInterval) - 1, pollInterval}, // just under it over 80 ms
		{per(pollInterval), busyPollInterval},
		{busyRecords, busyPollInterval},         // 1024 in 80 ms: 80 ms
		{2 * busyRecords, busyPollInterval / 2}, // twice the rate: half the time
		{2 * busyRecords, busyPollInterval / 4}, // 2048 in 40 ms: 20 ms
		{100 * busyRecords, pollInterval},       // never under pollInterval
		{busyRecords / 8, busyPollInterval},     // the storm eases: 80 ms at most
		{0, idlePollInterval}, {0, idlePollInterval},
		{per(idlePollInterval), busyPollInterval}, // a storm starts during the back-off
	}
	poll := pollInterval
	for i, s := range steps {
		next := nextPoll(poll, s.found)
		if next != s.want {
			t.Fatalf("step %d: after a wait of %v that found %d records: wait %v, want %v", i, poll, s.found, next, s.want)
		}
		poll = next
	}
}
