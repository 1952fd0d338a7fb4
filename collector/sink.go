package collector

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// pdataSink is the pipeline sink of the receiver: it maps events to log
// records and lifetimes to spans (pdata.go), collects them into batches of
// up to Delivery.MaxBatch, and hands a batch to its signal's deliverer when
// it is full or Delivery.FlushInterval has passed. Event and Lifetime are
// called from the pipeline goroutine and never block; the flush timer
// runs on its own goroutine, so the open batches are guarded by mu.
type pdataSink struct {
	res      []attribute.KeyValue
	version  string
	maxBatch int

	logs   *deliverer[plog.Logs]     // nil when no logs pipeline uses the receiver
	traces *deliverer[ptrace.Traces] // nil when no traces pipeline uses the receiver

	// mu guards the open batches.
	mu        sync.Mutex
	m         *mapper
	logBatch  openBatch[plog.Logs, plog.LogRecordSlice]
	spanBatch openBatch[ptrace.Traces, ptrace.SpanSlice]
	closed    bool
	resAttrs  []attribute.KeyValue // scratch for a container's Resource

	stopFlush chan struct{}
	flushDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ pipeline.Sink = (*pdataSink)(nil)

// newPdataSink starts the sink's flush timer; logs and traces may be nil.
func newPdataSink(boot semconv.BootID, res []attribute.KeyValue, version string, d Delivery,
	logs *deliverer[plog.Logs], traces *deliverer[ptrace.Traces]) *pdataSink {
	s := &pdataSink{
		res: res, version: version, maxBatch: d.MaxBatch,
		logs: logs, traces: traces, m: newMapper(boot),
		logBatch:  openBatch[plog.Logs, plog.LogRecordSlice]{begin: plog.NewLogs, addResource: appendResourceLogs},
		spanBatch: openBatch[ptrace.Traces, ptrace.SpanSlice]{begin: ptrace.NewTraces, addResource: appendResourceSpans},
		stopFlush: make(chan struct{}), flushDone: make(chan struct{}),
	}
	go s.flushEvery(d.FlushInterval)
	return s
}

// Event adds e's log record to the open batch.
func (s *pdataSink) Event(e *semconv.Event) {
	if s.logs == nil || semconv.EventName(e.Kind) == "" {
		return // exec attempts and snapshots are never records
	}
	if !s.lockOpen(&s.logs.drops) {
		return
	}
	defer s.mu.Unlock()
	dst := s.logBatch.slice(semconv.ResourceKeyOf(&e.Process), s.resource, s.version)
	if s.m.appendLogRecord(dst, e) {
		s.logBatch.added(s.maxBatch, s.logs)
	}
}

// Lifetime adds l's span to the open batch.
func (s *pdataSink) Lifetime(l *semconv.Lifetime) {
	if s.traces == nil || !s.lockOpen(&s.traces.drops) {
		return
	}
	defer s.mu.Unlock()
	dst := s.spanBatch.slice(semconv.ResourceKeyOf(&l.Process), s.resource, s.version)
	s.m.appendSpan(dst, l)
	s.spanBatch.added(s.maxBatch, s.traces)
}

// lockOpen locks s and reports whether it still takes records; once s is
// closed it unlocks, counts the record in drops as dropped at shutdown and
// reports false.
func (s *pdataSink) lockOpen(drops *dropCounts) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		drops.add(dropShutdown, 1)
		return false
	}
	return true
}

// resource returns the Resource attributes of key: the observer's, plus
// the container's or jail's.
func (s *pdataSink) resource(key semconv.ResourceKey) []attribute.KeyValue {
	if key.IsHost() {
		return s.res
	}
	s.resAttrs = key.Attributes(append(s.resAttrs[:0], s.res...))
	return s.resAttrs
}

// flush hands the open batches on.
func (s *pdataSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs != nil {
		s.logBatch.flush(s.logs)
	}
	if s.traces != nil {
		s.spanBatch.flush(s.traces)
	}
}

func (s *pdataSink) flushEvery(interval time.Duration) {
	defer close(s.flushDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flush()
		case <-s.stopFlush:
			return
		}
	}
}

// Close flushes the open batches and waits, within ctx, until everything
// queued was delivered; what is left when ctx ends is dropped and
// counted. Records handed over after Close are dropped and counted. It is
// idempotent.
func (s *pdataSink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.stopFlush)
		<-s.flushDone
		s.flush()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		var errs []error
		if s.logs != nil {
			errs = append(errs, s.logs.close(ctx))
		}
		if s.traces != nil {
			errs = append(errs, s.traces.close(ctx))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// openBatch is one signal's batch being filled: T is plog.Logs or
// ptrace.Traces, S the slice its records or spans go to. It is open from
// its first item until it is flushed, and holds one resource per
// Resource key seen since it opened.
type openBatch[T, S any] struct {
	begin func() T // a new, empty batch
	// addResource adds a resource with the attributes and the scope
	// version given, and returns where its items go.
	addResource func(T, []attribute.KeyValue, string) S
	open        bool
	batch       T
	byKey       map[semconv.ResourceKey]S
	n           int
}

// slice returns where the items of key's resource go, opening the batch
// and adding the resource, with the attributes res(key) and the scope
// version version, when needed.
func (b *openBatch[T, S]) slice(key semconv.ResourceKey, res func(semconv.ResourceKey) []attribute.KeyValue, version string) S {
	if !b.open {
		b.batch, b.byKey, b.n, b.open = b.begin(), map[semconv.ResourceKey]S{}, 0, true
	}
	dst, ok := b.byKey[key]
	if !ok {
		dst = b.addResource(b.batch, res(key), version)
		b.byKey[key] = dst
	}
	return dst
}

// added counts one item added to the batch and hands the batch to d when
// it holds full.
func (b *openBatch[T, S]) added(full int, d *deliverer[T]) {
	if b.n++; b.n >= full {
		b.flush(d)
	}
}

// flush hands the batch to d, if it is open and holds an item.
func (b *openBatch[T, S]) flush(d *deliverer[T]) {
	if !b.open || b.n == 0 {
		return
	}
	b.open = false
	d.enqueue(b.batch)
}
