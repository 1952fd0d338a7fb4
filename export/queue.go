package export

import (
	"context"
	"sync"
	"time"

	"github.com/procotel/procotel/semconv"
)

// maxBatchBytes caps the encoded records of one request, far below the
// 4 MiB a Collector's OTLP/gRPC receiver accepts by default: a batch
// buffer is what the exporter holds per request being filled, sent or
// kept for reuse, and 512 KiB (about 500 storm records) is still few
// requests a second under a storm.
const maxBatchBytes = 512 << 10

// firstBatchBytes is the room a new batch buffer starts with; it grows
// to maxBatchBytes as records come.
const firstBatchBytes = 64 << 10

// keptSlack is the unused room a sealed batch may keep; a batch with more
// (sealed by the interval, or by its record count) is copied into a
// buffer of its size, so that what waits for export is its records.
const keptSlack = 4 << 10

// freeBatches is how many emptied batch buffers a batcher keeps for
// reuse: enough for a storm's steady state.
const freeBatches = 4

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
// the records queued or being exported, and the bytes of the batches
// that hold them (header room included).
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
	free   [][]byte // emptied batch buffers, cut to the header room
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
		gate:     gate{limit: int64(limit), maxBytes: int64(o.QueueBytes)},
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
// Resource key (its gate slot already acquired) and counts it in c:
// handed, or dropped because the queue's bytes are full or the batcher
// is closed (the slot is released then). Records of different Resources
// go to different batches.
func (q *batcher) add(k semconv.Kind, key semconv.ResourceKey, field int, rec []byte, c *counters) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shut {
		c.droppedClosed.Add(1)
		q.gate.release(1, 0)
		return
	}
	size := sizeLenField(field, len(rec))
	b := q.open(key)
	if b != nil && b.n > 0 && b.recordsLen()+size > maxBatchBytes {
		q.sealLocked(key, b)
		b = nil
	}
	// A new batch's header room is charged with its first record.
	charge := size
	if b == nil {
		charge += q.head
	}
	if !q.gate.acquireBytes(charge) {
		c.droppedQueueFull.Add(1)
		q.gate.release(1, 0)
		return
	}
	if b == nil {
		b = q.openNew(key)
	}
	b.grow(size)
	b.buf = append(appendLenHeader(b.buf, field, len(rec)), rec...)
	b.n++
	b.kinds[k]++
	c.handed.Add(1)
	if b.n >= q.maxN || b.recordsLen() >= maxBatchBytes {
		q.sealLocked(key, b)
	}
}

// open returns the open batch of key's Resource, or nil.
func (q *batcher) open(key semconv.ResourceKey) *batch {
	if key.IsHost() {
		return q.cur
	}
	return q.others[key]
}

// openNew opens a batch for key's Resource.
func (q *batcher) openNew(key semconv.ResourceKey) *batch {
	if key.IsHost() {
		q.cur = q.newBatch(q.env)
		return q.cur
	}
	b := q.newBatch(q.envelopeOf(key))
	if q.others == nil {
		q.others = map[semconv.ResourceKey]*batch{}
	}
	q.others[key] = b
	return b
}

// sealLocked closes key's open batch b and queues it for export.
func (q *batcher) sealLocked(key semconv.ResourceKey, b *batch) {
	if key.IsHost() {
		q.cur = nil
	} else {
		delete(q.others, key)
	}
	q.readyLocked(b)
}

// grow makes room for n more bytes, doubling the buffer up to a full
// batch's size (a single larger record gets the room it needs).
func (b *batch) grow(n int) {
	if len(b.buf)+n <= cap(b.buf) {
		return
	}
	c := max(min(2*cap(b.buf), b.head+maxBatchBytes), len(b.buf)+n)
	buf := make([]byte, len(b.buf), c)
	copy(buf, b.buf)
	b.buf = buf
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
	b := &batch{head: q.head, env: env}
	if n := len(q.free); n > 0 {
		b.buf = q.free[n-1]
		q.free[n-1] = nil
		q.free = q.free[:n-1]
	} else {
		b.buf = make([]byte, q.head, q.head+firstBatchBytes)
	}
	return b
}

// recordsLen is the size of the encoded records.
func (b *batch) recordsLen() int { return len(b.buf) - b.head }

// sealAllLocked moves every open batch to the ready list.
func (q *batcher) sealAllLocked() {
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

// readyLocked queues b for export and wakes the exporting goroutine. A
// batch with much unused room is copied into a buffer of its size first,
// and its buffer kept for the next batch: what waits for export, for as
// long as an outage lasts, is its records and header room.
func (q *batcher) readyLocked(b *batch) {
	if cap(b.buf)-len(b.buf) > keptSlack {
		buf := b.buf
		b.buf = append(make([]byte, 0, len(buf)), buf...)
		q.keepLocked(buf)
	}
	q.ready = append(q.ready, b)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// recycle keeps b's buffer for a later batch.
func (q *batcher) recycle(b *batch) {
	q.mu.Lock()
	q.keepLocked(b.buf)
	q.mu.Unlock()
}

// keepLocked keeps buf for a later batch, when there is room for it
// among the free buffers and it is of a batch's usual size.
func (q *batcher) keepLocked(buf []byte) {
	if len(q.free) < freeBatches && cap(buf) >= q.head+firstBatchBytes && cap(buf) <= q.head+maxBatchBytes {
		q.free = append(q.free, buf[:q.head])
	}
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
			q.sealAllLocked()
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
	q.gate.release(b.n, len(b.buf))
	q.recycle(b)
}

// close refuses further records, exports what is queued within ctx and
// stops the goroutine. Records it could not export by then are counted
// as dropped at shutdown.
func (q *batcher) close(ctx context.Context) error {
	q.mu.Lock()
	q.shut = true
	q.sealAllLocked()
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
