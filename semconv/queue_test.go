package semconv

import (
	"testing"
	"time"
)

// TestQueueOrderAndBatches: events come out in the order they went in,
// in batches no longer than the batch length, Undo takes back the last
// one, and Len counts what is sent and not yet released.
func TestQueueOrderAndBatches(t *testing.T) {
	q := NewQueue(40, 8)
	if q.Cap() != 40 {
		t.Fatalf("Cap %d, want 40 (5 batches of 8)", q.Cap())
	}
	done := make(chan []int32)
	go func() {
		var pids []int32
		longest := 0
		for b := range q.Batches() {
			longest = max(longest, len(b))
			for i := range b {
				pids = append(pids, b[i].Process.PID)
			}
			q.Release(b)
		}
		if longest > 8 {
			pids = append(pids, -int32(longest))
		}
		done <- pids
	}()
	for pid := int32(1); pid <= 100; pid++ {
		e := q.Next()
		*e = Event{Kind: KindFork, Process: Process{PID: pid}}
		if pid%10 == 0 {
			q.Undo() // every tenth is taken back
		}
		if pid%13 == 0 {
			q.Flush()
		}
	}
	q.Close()
	got := <-done
	var want []int32
	for pid := int32(1); pid <= 100; pid++ {
		if pid%10 != 0 {
			want = append(want, pid)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d is pid %d, want %d (got %v)", i, got[i], want[i], got)
		}
	}
	if q.Len() != 0 {
		t.Errorf("Len %d after everything was released", q.Len())
	}
}

// TestQueueBackPressure: with every batch queued and none released, the
// producer waits; closing its stop channel ends the wait with a failure,
// and nothing already queued is lost.
func TestQueueBackPressure(t *testing.T) {
	q := NewQueue(4, 2)
	stop := make(chan struct{})
	q.StopOn(stop)
	for pid := int32(1); pid <= 4; pid++ {
		if !q.Send(&Event{Kind: KindExit, Process: Process{PID: pid}}) {
			t.Fatalf("send %d of a queue of 4 failed", pid)
		}
	}
	if q.Len() != 2 {
		t.Fatalf("Len %d, want 2 (one full batch handed on, one being filled)", q.Len())
	}
	sent := make(chan bool)
	go func() { sent <- q.Send(&Event{Kind: KindExit, Process: Process{PID: 5}}) }()
	select {
	case ok := <-sent:
		t.Fatalf("a send to a full queue returned %v without waiting", ok)
	case <-time.After(50 * time.Millisecond):
	}
	close(stop)
	if <-sent {
		t.Fatal("a send given up by stop reported success")
	}
	b := <-q.Batches()
	c := <-q.Batches()
	if len(b) != 2 || len(c) != 2 || b[0].Process.PID != 1 || c[1].Process.PID != 4 {
		t.Fatalf("queued batches %v %v", b, c)
	}
}

// TestQueueRecycles: a steady stream through one producer and one
// consumer allocates nothing once the batches exist.
func TestQueueRecycles(t *testing.T) {
	q := NewQueue(64, 16)
	ev := Event{Kind: KindExec, Process: Process{PID: 7}}
	round := func() {
		for range 16 {
			q.Send(&ev)
		}
		q.Flush()
		b := <-q.Batches()
		q.Release(b)
	}
	round()
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Errorf("%v allocations per batch in a steady stream, want 0", n)
	}
}

// TestQueueOf: a fixed list comes out whole and the queue is closed.
func TestQueueOf(t *testing.T) {
	evs := make([]Event, 600)
	for i := range evs {
		evs[i] = Event{Kind: KindFork, Process: Process{PID: int32(i + 1)}}
	}
	var got []int32
	QueueOf(evs...).Consume(func(e *Event) { got = append(got, e.Process.PID) })
	if len(got) != 600 || got[0] != 1 || got[599] != 600 {
		t.Fatalf("got %d events, first %v last %v", len(got), got[:1], got[len(got)-1:])
	}
}

// TestQueueBacklog: a flush that leaves more than a quarter of the queue
// waiting signals Backlog once; flushes up to a quarter do not, and the
// producer never waits on the signal.
func TestQueueBacklog(t *testing.T) {
	q := NewQueue(1024, 64)
	for i := 0; i < 256; i++ {
		q.Send(&Event{Kind: KindFork})
		if i%64 == 63 {
			q.Flush()
		}
	}
	select {
	case <-q.Backlog():
		t.Fatal("backlog signalled with a quarter of the queue waiting")
	default:
	}
	for i := 0; i < 3; i++ { // three flushes past a quarter, nobody listening
		q.Send(&Event{Kind: KindFork})
		q.Flush()
	}
	select {
	case <-q.Backlog():
	default:
		t.Fatal("no backlog signal with 259 of 1024 events waiting")
	}
	select {
	case <-q.Backlog():
		t.Fatal("signals nobody took did not merge into one")
	default:
	}
	// The consumer catches up: releasing brings the queue under a quarter.
	for n := 0; n < 259; {
		b := <-q.Batches()
		n += len(b)
		q.Release(b)
	}
	q.Send(&Event{Kind: KindFork})
	q.Flush()
	select {
	case <-q.Backlog():
		t.Fatal("backlog signalled after the consumer caught up")
	default:
	}
}
