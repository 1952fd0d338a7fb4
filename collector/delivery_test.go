package collector

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
)

// batchOf is a test batch: its size is its value.
type batchOf int

func newTestDeliverer(queue int, retryFor time.Duration, consume func(context.Context, batchOf) error) *deliverer[batchOf] {
	d := newDeliverer(queue, retryFor, func(b batchOf) int { return int(b) }, consume)
	d.backoff0 = time.Millisecond
	return d
}

func TestDeliverRetriesThenSucceeds(t *testing.T) {
	var calls atomic.Int64
	d := newTestDeliverer(4, time.Minute, func(context.Context, batchOf) error {
		if calls.Add(1) <= 3 {
			return errors.New("next consumer busy")
		}
		return nil
	})
	d.enqueue(7)
	if err := d.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 4 || d.sent.Load() != 7 {
		t.Errorf("calls %d, sent %d; want 4 and 7", calls.Load(), d.sent.Load())
	}
	for _, r := range dropReasons {
		if n := d.drops.get(r); n != 0 {
			t.Errorf("dropped %d (%s)", n, r)
		}
	}
}

func TestDeliverPermanentErrorDrops(t *testing.T) {
	var calls atomic.Int64
	d := newTestDeliverer(4, time.Minute, func(context.Context, batchOf) error {
		calls.Add(1)
		return consumererror.NewPermanent(errors.New("bad data"))
	})
	d.enqueue(5)
	d.enqueue(2)
	_ = d.close(context.Background())
	if calls.Load() != 2 || d.drops.get(dropRefused) != 7 || d.sent.Load() != 0 {
		t.Errorf("calls %d, refused %d, sent %d; want 2, 7, 0", calls.Load(), d.drops.get(dropRefused), d.sent.Load())
	}
}

func TestDeliverRetriesAreBounded(t *testing.T) {
	var calls atomic.Int64
	d := newTestDeliverer(4, 30*time.Millisecond, func(context.Context, batchOf) error {
		calls.Add(1)
		return errors.New("still down")
	})
	start := time.Now()
	d.enqueue(3)
	_ = d.close(context.Background())
	if d.drops.get(dropRetriesExhausted) != 3 || calls.Load() < 2 {
		t.Errorf("retries_exhausted %d after %d calls", d.drops.get(dropRetriesExhausted), calls.Load())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("gave up after %v; retry_for is 30ms", el)
	}
}

// TestEnqueueNeverBlocks fills the queue behind a stuck consumer: enqueue
// returns at once and counts what did not fit; shutdown with an expired
// context stops the stuck delivery and counts what was left.
func TestEnqueueNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	d := newTestDeliverer(2, time.Minute, func(ctx context.Context, _ batchOf) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	d.enqueue(1) // taken by the consumer, which blocks
	<-entered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 10; i++ {
			d.enqueue(10) // two fit in the queue, eight are dropped
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("enqueue blocked behind a stuck consumer")
	}
	if n := d.drops.get(dropQueueFull); n != 80 {
		t.Errorf("queue_full drops %d, want 80", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close = %v, want the deadline", err)
	}
	if n := d.drops.get(dropShutdown); n != 21 {
		t.Errorf("shutdown drops %d, want 21 (the stuck batch and the two queued)", n)
	}
	d.enqueue(4)
	if n := d.drops.get(dropShutdown); n != 25 {
		t.Errorf("enqueue after close: shutdown drops %d, want 25", n)
	}
	close(release)
}
