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

	// mu guards the open batches. A batch is open when its has* flag is
	// set; it holds one ResourceLogs (ResourceSpans) per Resource key seen
	// since it opened, and records go to their key's slice.
	mu         sync.Mutex
	m          *mapper
	hasLogs    bool
	openLogs   plog.Logs
	logRecords map[semconv.ResourceKey]plog.LogRecordSlice
	nLogs      int
	hasSpans   bool
	openSpans  ptrace.Traces
	spans      map[semconv.ResourceKey]ptrace.SpanSlice
	nSpans     int
	closed     bool
	resAttrs   []attribute.KeyValue // scratch for a container's Resource

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
		stopFlush: make(chan struct{}), flushDone: make(chan struct{}),
	}
	go s.flushEvery(d.FlushInterval)
	return s
}

// Event adds e's log record to the open batch.
func (s *pdataSink) Event(e *semconv.Event) {
	if s.logs == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if semconv.EventName(e.Kind) != "" {
			s.logs.drops.add(dropShutdown, 1)
		}
		return
	}
	if semconv.EventName(e.Kind) == "" {
		return // exec attempts and snapshots are never records
	}
	if !s.hasLogs {
		s.openLogs, s.logRecords, s.nLogs = plog.NewLogs(), map[semconv.ResourceKey]plog.LogRecordSlice{}, 0
		s.hasLogs = true
	}
	key := semconv.ResourceKeyOf(&e.Process)
	dst, ok := s.logRecords[key]
	if !ok {
		dst = appendResourceLogs(s.openLogs, s.resource(key), s.version)
		s.logRecords[key] = dst
	}
	if s.m.appendLogRecord(dst, e) {
		if s.nLogs++; s.nLogs >= s.maxBatch {
			s.flushLogsLocked()
		}
	}
}

// Lifetime adds l's span to the open batch.
func (s *pdataSink) Lifetime(l *semconv.Lifetime) {
	if s.traces == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.traces.drops.add(dropShutdown, 1)
		return
	}
	if !s.hasSpans {
		s.openSpans, s.spans, s.nSpans = ptrace.NewTraces(), map[semconv.ResourceKey]ptrace.SpanSlice{}, 0
		s.hasSpans = true
	}
	key := semconv.ResourceKeyOf(&l.Process)
	dst, ok := s.spans[key]
	if !ok {
		dst = appendResourceSpans(s.openSpans, s.resource(key), s.version)
		s.spans[key] = dst
	}
	s.m.appendSpan(dst, l)
	if s.nSpans++; s.nSpans >= s.maxBatch {
		s.flushTracesLocked()
	}
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

func (s *pdataSink) flushLogsLocked() {
	if !s.hasLogs || s.nLogs == 0 {
		return
	}
	batch := s.openLogs
	s.hasLogs = false
	s.logs.enqueue(batch)
}

func (s *pdataSink) flushTracesLocked() {
	if !s.hasSpans || s.nSpans == 0 {
		return
	}
	batch := s.openSpans
	s.hasSpans = false
	s.traces.enqueue(batch)
}

// flush hands the open batches on.
func (s *pdataSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs != nil {
		s.flushLogsLocked()
	}
	if s.traces != nil {
		s.flushTracesLocked()
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
