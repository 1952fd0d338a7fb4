package collector

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
)

// Reasons an item is dropped after the pipeline handed it over.
const (
	dropQueueFull        = "queue_full"        // the queue to the next consumer was full
	dropRefused          = "refused"           // the next consumer refused it permanently
	dropRetriesExhausted = "retries_exhausted" // retryable refusals outlasted Delivery.RetryFor
	dropShutdown         = "shutdown"          // still queued or retrying when shutdown ran out of time
)

var dropReasons = []string{dropQueueFull, dropRefused, dropRetriesExhausted, dropShutdown}

// dropCounts counts dropped items by reason.
type dropCounts struct {
	queueFull, refused, retriesExhausted, shutdown atomic.Uint64
}

func (d *dropCounts) add(reason string, n int) {
	switch reason {
	case dropQueueFull:
		d.queueFull.Add(uint64(n))
	case dropRefused:
		d.refused.Add(uint64(n))
	case dropRetriesExhausted:
		d.retriesExhausted.Add(uint64(n))
	case dropShutdown:
		d.shutdown.Add(uint64(n))
	}
}

func (d *dropCounts) get(reason string) uint64 {
	switch reason {
	case dropQueueFull:
		return d.queueFull.Load()
	case dropRefused:
		return d.refused.Load()
	case dropRetriesExhausted:
		return d.retriesExhausted.Load()
	case dropShutdown:
		return d.shutdown.Load()
	}
	return 0
}

// deliverer hands batches of one signal to the next consumer from its own
// goroutine, through a bounded queue. enqueue never blocks: a batch that
// does not fit is dropped and counted. A batch the consumer refuses with
// a retryable error is retried with backoff for at most retryFor; a
// permanent refusal drops it at once. Every item is either delivered or
// counted in drops.
type deliverer[T any] struct {
	queue    chan T
	size     func(T) int
	consume  func(ctx context.Context, batch T) error
	retryFor time.Duration

	// stopCtx ends when shutdown runs out of time: retries stop and what
	// is still queued is dropped.
	stopCtx  context.Context
	stopNow  context.CancelFunc
	closeMu  sync.Mutex
	closed   bool
	done     chan struct{}
	sent     atomic.Uint64
	drops    dropCounts
	backoff0 time.Duration

	// observe, when set, wraps the delivery of one batch (all its
	// attempts) for the Collector's receiver observability: it is called
	// with the batch and returns the function that reports the outcome.
	observe func(ctx context.Context) (context.Context, func(n int, err error))
}

func newDeliverer[T any](queueSize int, retryFor time.Duration, size func(T) int, consume func(context.Context, T) error) *deliverer[T] {
	ctx, cancel := context.WithCancel(context.Background())
	d := &deliverer[T]{
		queue: make(chan T, queueSize), size: size, consume: consume, retryFor: retryFor,
		stopCtx: ctx, stopNow: cancel, done: make(chan struct{}), backoff0: 50 * time.Millisecond,
	}
	go d.run()
	return d
}

// enqueue queues batch for delivery, or drops and counts it when the
// queue is full or the deliverer closed. It never blocks.
func (d *deliverer[T]) enqueue(batch T) {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		d.drops.add(dropShutdown, d.size(batch))
		return
	}
	select {
	case d.queue <- batch:
	default:
		d.drops.add(dropQueueFull, d.size(batch))
	}
}

func (d *deliverer[T]) run() {
	defer close(d.done)
	for batch := range d.queue {
		if d.stopCtx.Err() != nil {
			d.drops.add(dropShutdown, d.size(batch))
			continue
		}
		d.deliver(batch)
	}
}

// deliver consumes one batch, retrying retryable errors with exponential
// backoff (50 ms doubling to 5 s) until retryFor has passed.
func (d *deliverer[T]) deliver(batch T) {
	n := d.size(batch)
	ctx := d.stopCtx
	var err error
	if d.observe != nil {
		var end func(int, error)
		ctx, end = d.observe(ctx)
		defer func() { end(n, err) }()
	}
	deadline := time.Now().Add(d.retryFor)
	wait := d.backoff0
	for {
		err = d.consume(ctx, batch)
		if err == nil {
			d.sent.Add(uint64(n))
			return
		}
		if consumererror.IsPermanent(err) {
			d.drops.add(dropRefused, n)
			return
		}
		if d.stopCtx.Err() != nil {
			d.drops.add(dropShutdown, n)
			return
		}
		if time.Now().Add(wait).After(deadline) {
			d.drops.add(dropRetriesExhausted, n)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.stopCtx.Done():
			t.Stop()
			d.drops.add(dropShutdown, n)
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// close stops accepting batches and waits until the queued ones are
// delivered. When ctx ends first, retries stop, what is left is dropped
// and counted, and close returns ctx's error. It is idempotent.
func (d *deliverer[T]) close(ctx context.Context) error {
	d.closeMu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.closeMu.Unlock()
	defer d.stopNow()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		d.stopNow()
		<-d.done
		return ctx.Err()
	}
}
