package semconv

import "sync/atomic"

// Queue carries events from one producer (a backend) to one consumer (the
// pipeline) in batches. A channel of single events costs a channel
// operation per event, and at storm rates a wake-up of the consumer's
// goroutine per event too: it keeps up, parks, and the next send wakes it.
// A batch costs one of each for up to BatchLen events, and the producer
// decodes straight into the batch, so an event is not copied on the way.
//
// Batches are recycled: a steady stream allocates nothing, and the queue
// never holds more than its capacity (batches × batch length events). A
// producer with no free batch waits for the consumer (or its stop
// channel): back pressure, as a full channel gives.
//
// The producer uses Next, Undo, Send and Flush, then Close; the consumer
// ranges over Batches and hands each batch back with Release once it is
// done with its events (or uses Consume). Each side is one goroutine. A
// consumer must keep taking batches until the queue is closed: a producer
// draining its source at stop waits for free batches.
type Queue struct {
	full, free chan []Event
	batchLen   int
	made       int // batches allocated so far, at most cap(free)
	cur        []Event
	queued     atomic.Int64 // events sent and not yet released
	stop       <-chan struct{}
	backlog    chan struct{} // see Backlog
}

// DefaultBatchLen is the batch length NewQueue uses for a length ≤ 0:
// large enough that a storm's wake-ups are few, small enough that a
// batch's 170 KB stays in cache.
const DefaultBatchLen = 256

// NewQueue returns a queue of up to capacity events (at least one batch)
// in batches of batchLen (DefaultBatchLen when ≤ 0).
func NewQueue(capacity, batchLen int) *Queue {
	if batchLen <= 0 {
		batchLen = DefaultBatchLen
	}
	batches := max(1, (capacity+batchLen-1)/batchLen)
	return &Queue{full: make(chan []Event, batches), free: make(chan []Event, batches),
		batchLen: batchLen, backlog: make(chan struct{}, 1)}
}

// Backlog receives when a flush leaves the queue Backlogged: the consumer
// falls behind. The producer never waits on it; signals nobody took yet
// merge into one.
func (q *Queue) Backlog() <-chan struct{} { return q.backlog }

// Backlogged reports whether more than a quarter of the queue's capacity
// waits for the consumer.
func (q *Queue) Backlogged() bool { return q.Len() > q.Cap()/4 }

// StopOn makes the producer give up waiting for the consumer once c is
// closed (a backend's Close, a replay's context): Next and Send then
// report failure instead of waiting for a free batch (Flush never waits).
// Call it before producing.
func (q *Queue) StopOn(c <-chan struct{}) { q.stop = c }

// Next returns the place of the next event, in the batch being filled. It
// holds an earlier event: the caller overwrites all of it. It returns nil
// when the producer must stop (see StopOn) while every batch was in use.
func (q *Queue) Next() *Event {
	if len(q.cur) == q.batchLen {
		q.Flush()
	}
	if q.cur == nil {
		if !q.take() {
			return nil
		}
	}
	q.cur = q.cur[:len(q.cur)+1]
	return &q.cur[len(q.cur)-1]
}

// Undo takes back the event Next gave last: it is not sent.
func (q *Queue) Undo() {
	if len(q.cur) > 0 {
		q.cur = q.cur[:len(q.cur)-1]
	}
}

// Send queues a copy of ev; it reports false when the producer must stop
// (see StopOn).
func (q *Queue) Send(ev *Event) bool {
	slot := q.Next()
	if slot == nil {
		return false
	}
	*slot = *ev
	return true
}

// Flush hands the batch being filled to the consumer, if it holds any
// event. A producer flushes whenever it has nothing more at hand (its
// source is empty), so that no event waits for a batch to fill. It never
// blocks: the producer holds one of the queue's batches, so the stream
// always has room for it.
func (q *Queue) Flush() {
	if len(q.cur) == 0 {
		return
	}
	q.queued.Add(int64(len(q.cur)))
	backlogged := q.Backlogged()
	q.full <- q.cur
	q.cur = nil
	if backlogged {
		select {
		case q.backlog <- struct{}{}:
		default:
		}
	}
}

// take gets a free batch into cur: a recycled one, a new one while fewer
// than the queue's batches exist, or else the next one released.
func (q *Queue) take() bool {
	select {
	case b := <-q.free:
		q.cur = b[:0]
		return true
	default:
	}
	if q.made < cap(q.free) {
		q.made++
		q.cur = make([]Event, 0, q.batchLen)
		return true
	}
	select {
	case b := <-q.free:
		q.cur = b[:0]
		return true
	case <-q.stop:
		return false
	}
}

// Close flushes what is left and ends the stream: Batches ends once the
// consumer has received every batch. Call it once, from the producer.
func (q *Queue) Close() {
	q.Flush()
	close(q.full)
}

// Batches is the stream of batches, in the order they were sent.
func (q *Queue) Batches() <-chan []Event { return q.full }

// Release hands a received batch back for reuse; the consumer must not
// touch its events afterwards.
func (q *Queue) Release(b []Event) {
	q.queued.Add(-int64(len(b)))
	select {
	case q.free <- b:
	default: // cannot happen: at most cap(free) batches exist
	}
}

// Len is how many events were sent and not yet released.
func (q *Queue) Len() int { return int(q.queued.Load()) }

// Cap is how many events the queue holds at most.
func (q *Queue) Cap() int { return cap(q.free) * q.batchLen }

// Consume hands every event to f, in order, releasing each batch after
// its events, until the queue is closed and empty.
func (q *Queue) Consume(f func(*Event)) {
	for b := range q.full {
		for i := range b {
			f(&b[i])
		}
		q.Release(b)
	}
}

// QueueOf returns a closed queue that holds evs, in order: a fixed list
// for a consumer to take (tests, a replayed slice).
func QueueOf(evs ...Event) *Queue {
	q := NewQueue(len(evs), 0)
	for i := range evs {
		q.Send(&evs[i])
	}
	q.Close()
	return q
}
