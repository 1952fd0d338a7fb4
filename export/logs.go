package export

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/procotel/procotel/semconv"
)

// logSink turns events into log records. Event is called from the
// pipeline's one goroutine; the counters are shared with the export
// goroutine.
type logSink struct {
	provider *sdklog.LoggerProvider
	logger   otellog.Logger
	boot     semconv.BootID
	gate     *gate
	counts   *[semconv.NumKinds]counters
	now      func() time.Time

	attrs []attribute.KeyValue // reused per event
}

// newLogSink builds the sink over exp, an OTLP (or test) exporter.
func newLogSink(exp sdklog.Exporter, o Options, res resourceOpt) *logSink {
	s := &logSink{
		boot:   o.Boot,
		gate:   &gate{limit: int64(o.LogQueueSize)},
		counts: new([semconv.NumKinds]counters),
		now:    time.Now,
		attrs:  make([]attribute.KeyValue, 0, 48),
	}
	counting := &countingLogExporter{next: exp, sink: s, timeout: o.Timeout}
	proc := sdklog.NewBatchProcessor(counting,
		sdklog.WithMaxQueueSize(o.LogQueueSize),
		sdklog.WithExportMaxBatchSize(o.BatchSize),
		sdklog.WithExportInterval(o.ExportInterval),
		sdklog.WithExportTimeout(o.RetryFor))
	s.provider = sdklog.NewLoggerProvider(
		sdklog.WithResource(res.res),
		sdklog.WithProcessor(proc),
		// The mapping emits each key once; skip the SDK's dedup pass.
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1))
	s.logger = s.provider.Logger(scopeName, otellog.WithInstrumentationVersion(res.version), otellog.WithSchemaURL(semconv.SchemaURL))
	return s
}

// Event emits one log record for e, or counts why it could not.
func (s *logSink) Event(e *semconv.Event) (accepted bool) {
	name := semconv.EventName(e.Kind)
	if name == "" {
		return false
	}
	c := &s.counts[e.Kind]
	if !s.gate.acquire() {
		c.droppedQueueFull.Add(1)
		return true
	}
	ids := semconv.SpanContextIDs(s.boot, &e.Process, e.Lineage)

	var r otellog.Record
	s.fill(&r, e, name)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    ids.TraceID,
		SpanID:     ids.SpanID,
		TraceFlags: trace.TraceFlags(ids.TraceFlags),
	})
	// sdk/log takes the record's trace context from ctx.
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	c.handed.Add(1)
	s.logger.Emit(ctx, r)
	return true
}

// fill sets every field of r from e except the trace context.
func (s *logSink) fill(r *otellog.Record, e *semconv.Event, name string) {
	r.SetEventName(name)
	r.SetTimestamp(e.Time)
	r.SetObservedTimestamp(s.now())
	num, text := semconv.EventSeverity(e)
	r.SetSeverity(otellog.Severity(num))
	r.SetSeverityText(text)
	r.SetBody(attribute.StringValue(semconv.EventBody(e)))
	s.attrs = semconv.EventAttributes(e, s.attrs[:0])
	r.AddAttributes(s.attrs...)
}

func (s *logSink) snapshot(st *Stats) {
	for k := range s.counts {
		st.Logs[k] = s.counts[k].snapshot()
	}
}

func (s *logSink) countClosed(k semconv.Kind) {
	if semconv.EventName(k) != "" {
		s.counts[k].droppedClosed.Add(1)
	}
}

// countingLogExporter counts what the OTLP exporter reports, per kind,
// releases the gate, and retries failed exports.
type countingLogExporter struct {
	next    sdklog.Exporter
	sink    *logSink
	timeout time.Duration
}

var _ sdklog.Exporter = (*countingLogExporter)(nil)

// Export sends records, retrying until ctx (bounded by Options.RetryFor)
// ends, then counts each record as exported or dropped.
func (x *countingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	err := retry(ctx, x.timeout, func(ctx context.Context) error {
		return x.next.Export(ctx, records)
	})
	for i := range records {
		k := semconv.KindOfEventName(records[i].EventName())
		c := &x.sink.counts[k]
		if err == nil {
			c.exported.Add(1)
		} else {
			c.droppedExport.Add(1)
		}
	}
	x.sink.gate.release(len(records))
	return err
}

// Shutdown shuts the OTLP exporter down.
func (x *countingLogExporter) Shutdown(ctx context.Context) error { return x.next.Shutdown(ctx) }

// ForceFlush flushes the OTLP exporter.
func (x *countingLogExporter) ForceFlush(ctx context.Context) error { return x.next.ForceFlush(ctx) }
