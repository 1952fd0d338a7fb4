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
	// set; records go to its slice.
	mu         sync.Mutex
	m          *mapper
	hasLogs    bool
	openLogs   plog.Logs
	logRecords plog.LogRecordSlice
	hasSpans   bool
	openSpans  ptrace.Traces
	spans      ptrace.SpanSlice
	closed     bool

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
	if !s.hasLogs {
		s.openLogs, s.logRecords = newResourceLogs(s.res, s.version)
		s.hasLogs = true
	}
	if s.m.appendLogRecord(s.logRecords, e) && s.logRecords.Len() >= s.maxBatch {
		s.flushLogsLocked()
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
		s.openSpans, s.spans = newResourceSpans(s.res, s.version)
		s.hasSpans = true
	}
	s.m.appendSpan(s.spans, l)
	if s.spans.Len() >= s.maxBatch {
		s.flushTracesLocked()
	}
}

func (s *pdataSink) flushLogsLocked() {
	if !s.hasLogs || s.logRecords.Len() == 0 {
		return
	}
	batch := s.openLogs
	s.hasLogs = false
	s.logs.enqueue(batch)
}

func (s *pdataSink) flushTracesLocked() {
	if !s.hasSpans || s.spans.Len() == 0 {
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
