package testenv

import "github.com/procotel/procotel/semconv"

// Events consumes q and hands its events on one at a time, on a channel
// of buffer events that is closed once q is closed and drained: for a
// test that waits for single events of a backend. The test closes q
// after the backend's Run returned.
func Events(q *semconv.Queue, buffer int) <-chan semconv.Event {
	ch := make(chan semconv.Event, buffer)
	go func() {
		defer close(ch)
		q.Consume(func(e *semconv.Event) { ch <- *e })
	}()
	return ch
}

// Queued flushes q from the producer's side and takes every event queued
// in it without waiting: for a test that is both producer and consumer.
func Queued(q *semconv.Queue) []semconv.Event {
	q.Flush()
	var evs []semconv.Event
	for len(q.Batches()) > 0 {
		b := <-q.Batches()
		evs = append(evs, b...)
		q.Release(b)
	}
	return evs
}
