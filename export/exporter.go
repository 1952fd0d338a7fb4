// Package export is procotel's standalone OpenTelemetry exporter: a
// pipeline sink that sends one OTLP log record per event and one OTLP span
// per process lifetime, over gRPC or HTTP/protobuf, with bounded queues
// and counted drops. The mapping itself (names, attributes, ids) lives in
// semconv, shared with the Collector receiver.
package export

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/procotel/procotel/semconv"
)

// scopeName is the instrumentation scope of every record and span.
const scopeName = "github.com/procotel/procotel"

// Exporter is a pipeline.Sink that exports events as OTLP log records and
// lifetimes as OTLP spans. Event and Lifetime are called from one
// goroutine and never block: each record is encoded at once into a
// batch, batches wait in bounded queues and are exported in the
// background, and what does not fit is dropped and counted. Stats is safe
// for concurrent use. Close flushes within its context and is idempotent;
// calls after Close are counted as dropped.
type Exporter struct {
	logs   *logSink  // nil when logs are off
	spans  *spanSink // nil when traces are off
	closed atomic.Bool

	unmapped  atomic.Uint64
	closeOnce sync.Once
	closeErr  error
}

// New builds an Exporter sending to o.Endpoint. It does not connect: an
// unreachable endpoint shows up as export retries and, eventually,
// counted drops. It fails on a bad protocol, endpoint or TLS file.
func New(ctx context.Context, o Options) (*Exporter, error) {
	_ = ctx // connections are made lazily, by the first export
	o = o.withDefaults()
	if !o.Logs && !o.Traces {
		return nil, errors.New("export: neither logs nor traces are enabled")
	}
	t, tlsCfg, err := o.connection()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var logOut, spanOut sender
	switch o.Protocol {
	case ProtocolGRPC:
		conn, err := dialGRPC(o, t, tlsCfg)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		// The connection belongs to the last sender closed.
		if o.Logs {
			logOut = &grpcSender{conn: conn, method: grpcLogsMethod, owner: !o.Traces}
		}
		if o.Traces {
			spanOut = &grpcSender{conn: conn, method: grpcTracesMethod, owner: true}
		}
	case ProtocolHTTP:
		client := newHTTPClient(tlsCfg)
		base := "https://"
		if t.insecure {
			base = "http://"
		}
		base += t.hostPort + t.pathPrefix
		if o.Logs {
			logOut = &httpSender{client: client, url: base + "/v1/logs", headers: o.Headers}
		}
		if o.Traces {
			spanOut = &httpSender{client: client, url: base + "/v1/traces", headers: o.Headers}
		}
	}
	x, err := newExporter(o, logOut, spanOut)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return x, nil
}

// newExporter builds an Exporter over the given senders (nil for a
// disabled signal); o must have its defaults applied.
func newExporter(o Options, logOut, spanOut sender) (*Exporter, error) {
	env, err := newEnvelope(o)
	if err != nil {
		return nil, err
	}
	x := &Exporter{}
	procs := newProcAttrs() // shared: a process's records and its span
	if o.Logs && logOut != nil {
		x.logs = newLogSink(logOut, o, env, procs)
	}
	if o.Traces && spanOut != nil {
		x.spans = newSpanSink(spanOut, o, env, procs)
	}
	return x, nil
}

// Event exports e as a log record. Kinds without a record (exec attempts,
// snapshots of existing processes) are counted in Stats.Unmapped.
func (x *Exporter) Event(e *semconv.Event) {
	if x.logs == nil {
		return
	}
	if x.closed.Load() {
		x.logs.countClosed(e.Kind)
		return
	}
	if !x.logs.Event(e) {
		x.unmapped.Add(1)
	}
}

// Lifetime exports l as a span.
func (x *Exporter) Lifetime(l *semconv.Lifetime) {
	if x.spans == nil {
		return
	}
	if x.closed.Load() {
		x.spans.counts.droppedClosed.Add(1)
		return
	}
	x.spans.Lifetime(l)
}

// Close flushes queued records and spans within ctx and closes the
// connections. What could not be sent stays in Stats as Pending. It
// is idempotent: later calls return the first call's error.
func (x *Exporter) Close(ctx context.Context) error {
	x.closeOnce.Do(func() {
		x.closed.Store(true)
		var errs []error
		// Both queues drain at once, each within ctx.
		var wg sync.WaitGroup
		var logErr, spanErr error
		if x.logs != nil {
			wg.Go(func() { logErr = x.logs.q.close(ctx) })
		}
		if x.spans != nil {
			wg.Go(func() { spanErr = x.spans.q.close(ctx) })
		}
		wg.Wait()
		if logErr != nil {
			errs = append(errs, fmt.Errorf("shut down log export: %w", logErr))
		}
		if spanErr != nil {
			errs = append(errs, fmt.Errorf("shut down span export: %w", spanErr))
		}
		if x.logs != nil {
			if err := x.logs.out.close(); err != nil {
				errs = append(errs, fmt.Errorf("close log connection: %w", err))
			}
		}
		if x.spans != nil {
			if err := x.spans.out.close(); err != nil {
				errs = append(errs, fmt.Errorf("close span connection: %w", err))
			}
		}
		x.closeErr = errors.Join(errs...)
	})
	return x.closeErr
}

// Stats returns the counters so far. Safe for concurrent use.
func (x *Exporter) Stats() Stats {
	var s Stats
	if x.logs != nil {
		x.logs.snapshot(&s)
	}
	if x.spans != nil {
		s.Spans = x.spans.counts.snapshot()
	}
	s.Unmapped = x.unmapped.Load()
	return s
}
