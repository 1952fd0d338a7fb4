package export

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procotel/procotel/semconv"
)

// maxBatchBytes caps the encoded records of one request below the 4 MiB
// a Collector's OTLP/gRPC receiver accepts by default.
const maxBatchBytes = 3 << 20

// batch is a run of encoded records (each already tagged as a repeated
// field of the scope message) behind room for the request header, so
// that a request is built in place.
type batch struct {
	buf   []byte // buf[:head] is header room; records follow
	head  int
	n     int
	kinds [semconv.NumKinds]uint32
	env   *envelope // the Resource the records belong to
}

// batcher queues encoded records in batches and exports them from one
// goroutine. add is called from the pipeline's goroutine; the gate bounds
// the records queued or being exported.
type batcher struct {
	gate     gate
	head     int // header room of a batch
	maxN     int
	interval time.Duration
	env      *envelope // the host's; batches of containers and jails carry their own
	send     func(ctx context.Context, body []byte) (partialSuccess, error)
	timeout  time.Duration // one attempt
	policy   retryPolicy
	rep      *reporter
	// done counts a batch's records by outcome; rejected of them (at
	// most b.n) the server rejected in a partial success.
	done func(b *batch, o outcome, rejected uint64)

	mu  sync.Mutex
	cur *batch // the host's open batch
	// others are the open batches of containers and jails, and envs their
	// envelopes (at most maxResources; beyond, they are made again).
	others map[semconv.ResourceKey]*batch
	envs   map[semconv.ResourceKey]*envelope
	ready  []*batch
	free   []*batch
	shut   bool

	wake    chan struct{}
	closing chan struct{}
	stopped chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

func newBatcher(o Options, limit, head int, env *envelope, out sender, rep *reporter, done func(*batch, outcome, uint64)) *batcher {
	ctx, cancel := context.WithCancel(context.Background())
	q := &batcher{
		gate:     gate{limit: int64(limit)},
		head:     head,
		maxN:     o.BatchSize,
		interval: o.ExportInterval,
		env:      env,
		send:     out.send,
		timeout:  o.Timeout,
		policy:   retryPolicy{initial: o.RetryInitial, max: o.RetryMax, maxElapsed: o.RetryFor},
		rep:      rep,
		done:     done,
		wake:     make(chan struct{}, 1),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
	go q.run()
	return q
}

// maxResources bounds the container and jail envelopes a batcher keeps.
const maxResources = 1024

// add queues one encoded record of kind k whose process belongs to the
// Resource key (its gate slot already acquired) and counts it in handed;
// false after close, when the caller counts it as dropped and releases
// the slot. Records of different Resources go to different batches.
func (q *batcher) add(k semconv.Kind, key semconv.ResourceKey, field int, rec []byte, handed *atomic.Uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shut {
		return false
	}
	var b *batch
	if key.IsHost() {
		if b = q.cur; b == nil {
			b = q.newBatch(q.env)
			q.cur = b
		}
	} else {
		b = q.others[key]
		if b == nil {
			b = q.newBatch(q.envelopeOf(key))
			if q.others == nil {
				q.others = map[semconv.ResourceKey]*batch{}
			}
			q.others[key] = b
		}
	}
	b.buf = append(appendLenHeader(b.buf, field, len(rec)), rec...)
	b.n++
	b.kinds[k]++
	handed.Add(1)
	if b.n >= q.maxN || b.recordsLen() >= maxBatchBytes {
		if key.IsHost() {
			q.cur = nil
		} else {
			delete(q.others, key)
		}
		q.readyLocked(b)
	}
	return true
}

// envelopeOf returns the envelope of a container's or jail's Resource.
func (q *batcher) envelopeOf(key semconv.ResourceKey) *envelope {
	if env, ok := q.envs[key]; ok {
		return env
	}
	if q.envs == nil || len(q.envs) >= maxResources {
		q.envs = map[semconv.ResourceKey]*envelope{}
	}
	env := q.env.forKey(key)
	q.envs[key] = env
	return env
}

func (q *batcher) newBatch(env *envelope) *batch {
	if n := len(q.free); n > 0 {
		b := q.free[n-1]
		q.free = q.free[:n-1]
		b.env = env
		return b
	}
	return &batch{buf: make([]byte, q.head, q.head+64<<10), head: q.head, env: env}
}

// recordsLen is the size of the encoded records.
func (b *batch) recordsLen() int { return len(b.buf) - b.head }

// sealLocked moves every open batch to the ready list.
func (q *batcher) sealLocked() {
	if q.cur != nil && q.cur.n > 0 {
		q.readyLocked(q.cur)
		q.cur = nil
	}
	for key, b := range q.others {
		if b.n > 0 {
			q.readyLocked(b)
		}
		delete(q.others, key)
	}
}

// readyLocked queues b for export and wakes the exporting goroutine.
func (q *batcher) readyLocked(b *batch) {
	q.ready = append(q.ready, b)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *batcher) recycle(b *batch) {
	b.buf = b.buf[:q.head]
	b.n = 0
	b.kinds = [semconv.NumKinds]uint32{}
	q.mu.Lock()
	// Keep a few batches: enough for a storm's steady state.
	if len(q.free) < 4 && cap(b.buf) <= 2*maxBatchBytes {
		q.free = append(q.free, b)
	}
	q.mu.Unlock()
}

// run exports ready batches, and the current one every interval, until
// close; then it exports what is left, or, once close's context ended,
// counts it as dropped at shutdown.
func (q *batcher) run() {
	defer close(q.stopped)
	tick := time.NewTicker(q.interval)
	defer tick.Stop()
	for {
		closing := false
		select {
		case <-q.wake:
		case <-tick.C:
			q.mu.Lock()
			q.sealLocked()
			q.mu.Unlock()
		case <-q.closing:
			closing = true
		}
		for {
			q.mu.Lock()
			if len(q.ready) == 0 {
				q.mu.Unlock()
				break
			}
			b := q.ready[0]
			q.ready[0] = nil
			q.ready = q.ready[1:]
			q.mu.Unlock()
			if q.ctx.Err() != nil {
				q.finish(b, outcomeShutdown, 0) // closing gave up
				continue
			}
			q.export(b)
		}
		if closing {
			return
		}
	}
}

// export sends b, retrying retryable failures as the policy allows,
// and counts the outcome.
func (q *batcher) export(b *batch) {
	body := b.env.build(b)
	var ps partialSuccess
	err := q.policy.retry(q.ctx, q.timeout, func(ctx context.Context) error {
		var err error
		ps, err = q.send(ctx, body)
		return err
	}, q.rep.failure)
	o := outcomeExported
	switch {
	case err == nil:
		q.rep.success()
		q.rep.partial(ps, b.n)
	case q.ctx.Err() != nil:
		o = outcomeShutdown
	case !classify(err).retryable:
		o = outcomePermanent
	default:
		o = outcomeExportFailed
	}
	if o != outcomeExported {
		q.rep.drop(uint64(b.n))
	}
	q.finish(b, o, uint64(max(ps.rejected, 0)))
}

// finish counts b's outcome and frees its room in the queue.
func (q *batcher) finish(b *batch, o outcome, rejected uint64) {
	q.done(b, o, min(rejected, uint64(b.n)))
	q.gate.release(b.n)
	q.recycle(b)
}

// close refuses further records, exports what is queued within ctx and
// stops the goroutine. Records it could not export by then are counted
// as dropped at shutdown.
func (q *batcher) close(ctx context.Context) error {
	q.mu.Lock()
	q.shut = true
	q.sealLocked()
	q.mu.Unlock()
	close(q.closing)
	select {
	case <-q.stopped:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		<-q.stopped
		return ctx.Err()
	}
}
