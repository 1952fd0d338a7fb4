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

// New builds an Exporter sending each enabled signal to its endpoint.
// It does not connect: an unreachable endpoint shows up as export
// retries, reported at once on o.Messages, and, eventually, counted
// drops. It fails on a bad protocol, endpoint, compression or TLS file.
func New(ctx context.Context, o Options) (*Exporter, error) {
	_ = ctx // connections are made lazily, by the first export
	o = o.withDefaults()
	if !o.Logs && !o.Traces {
		return nil, errors.New("export: neither logs nor traces are enabled")
	}
	var sigs [2]signal
	conns := map[grpcConnKey]*grpcConn{}
	for i, name := range []string{signalLogs, signalTraces} {
		if (i == 0 && !o.Logs) || (i == 1 && !o.Traces) {
			continue
		}
		c, err := o.resolve(name)
		if err != nil {
			closeSignals(sigs[:i])
			return nil, fmt.Errorf("export: %w", err)
		}
		sigs[i].cfg = c
		switch c.protocol {
		case ProtocolGRPC:
			key := grpcConnKey{hostPort: c.target.hostPort, insecure: c.target.insecure, tls: c.tlsFiles}
			conn := conns[key]
			if conn == nil {
				cc, err := dialGRPC(c)
				if err != nil {
					closeSignals(sigs[:i])
					return nil, fmt.Errorf("export: %w", err)
				}
				conn = &grpcConn{cc: cc}
				conns[key] = conn
			}
			method := grpcLogsMethod
			if name == signalTraces {
				method = grpcTracesMethod
			}
			sigs[i].out = newGRPCSender(conn, method, c)
		case ProtocolHTTP:
			sigs[i].out = newHTTPSender(c)
		}
	}
	x, err := newExporterSignals(o, sigs[0], sigs[1])
	if err != nil {
		closeSignals(sigs[:])
		return nil, fmt.Errorf("export: %w", err)
	}
	return x, nil
}

// signal is one signal's sender and resolved settings; out is nil when
// the signal is off.
type signal struct {
	out sender
	cfg signalConfig
}

func closeSignals(sigs []signal) {
	for _, s := range sigs {
		if s.out != nil {
			_ = s.out.close()
		}
	}
}

// newExporter builds an Exporter over the given senders (nil for a
// disabled signal), with the settings o resolves to; o must have its
// defaults applied.
func newExporter(o Options, logOut, spanOut sender) (*Exporter, error) {
	logs := signal{out: logOut}
	spans := signal{out: spanOut}
	var err error
	if logs.cfg, err = o.resolve(signalLogs); err != nil {
		return nil, err
	}
	if spans.cfg, err = o.resolve(signalTraces); err != nil {
		return nil, err
	}
	return newExporterSignals(o, logs, spans)
}

func newExporterSignals(o Options, logs, spans signal) (*Exporter, error) {
	env, err := newEnvelope(o)
	if err != nil {
		return nil, err
	}
	x := &Exporter{}
	// Shared by both sinks, which the pipeline calls from one goroutine:
	// a process's records and its span reuse one encoding of its
	// attributes and one derivation of its ids.
	procs := newProcAttrs()
	ids := semconv.NewIDCache(o.Boot)
	out := &lineWriter{w: o.Messages}
	if o.Logs && logs.out != nil {
		so := o
		so.Timeout, so.BatchSize, so.ExportInterval = logs.cfg.timeout, logs.cfg.batchSize, logs.cfg.interval
		x.logs = newLogSink(logs.out, so, env, procs, ids, newReporter(out, logs.cfg, o.RetryFor))
	}
	if o.Traces && spans.out != nil {
		so := o
		so.Timeout, so.BatchSize, so.ExportInterval = spans.cfg.timeout, spans.cfg.batchSize, spans.cfg.interval
		x.spans = newSpanSink(spans.out, so, env, procs, ids, newReporter(out, spans.cfg, o.RetryFor))
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
// connections. What could not be sent by ctx's end is counted as
// dropped (reason shutdown), so that afterwards nothing is Pending. It
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
