package export

import (
	"context"
	"crypto/rand"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/procotel/procotel/semconv"
)

// spanSink turns lifetimes into spans with past timestamps and derived
// ids. Lifetime is called from the pipeline's one goroutine.
type spanSink struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	boot     semconv.BootID
	gate     *gate
	counts   counters

	attrs []attribute.KeyValue // reused per lifetime
}

func newSpanSink(exp sdktrace.SpanExporter, o Options, res resourceOpt) *spanSink {
	s := &spanSink{
		boot:  o.Boot,
		gate:  &gate{limit: int64(o.SpanQueueSize)},
		attrs: make([]attribute.KeyValue, 0, 48),
	}
	counting := &countingSpanExporter{next: exp, sink: s, timeout: o.Timeout}
	bsp := sdktrace.NewBatchSpanProcessor(counting,
		sdktrace.WithMaxQueueSize(o.SpanQueueSize),
		sdktrace.WithMaxExportBatchSize(o.BatchSize),
		sdktrace.WithBatchTimeout(o.ExportInterval),
		sdktrace.WithExportTimeout(o.RetryFor))
	s.provider = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res.res),
		sdktrace.WithSpanProcessor(bsp),
		sdktrace.WithIDGenerator(contextIDs{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{
			AttributeValueLengthLimit:   -1,
			AttributeCountLimit:         -1,
			EventCountLimit:             0,
			LinkCountLimit:              1,
			AttributePerEventCountLimit: 0,
			AttributePerLinkCountLimit:  0,
		}))
	s.tracer = s.provider.Tracer(scopeName, trace.WithInstrumentationVersion(res.version), trace.WithSchemaURL(semconv.SchemaURL))
	return s
}

// Lifetime records one span for l, or counts why it could not.
func (s *spanSink) Lifetime(l *semconv.Lifetime) {
	if !s.gate.acquire() {
		s.counts.droppedQueueFull.Add(1)
		return
	}
	ids := semconv.SpanContextIDs(s.boot, &l.Process, l.Lineage)

	ctx := context.WithValue(context.Background(), idsKey{}, &ids)
	if ids.ParentSpanID != ([8]byte{}) {
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    ids.TraceID,
			SpanID:     ids.ParentSpanID,
			TraceFlags: trace.FlagsSampled,
			Remote:     true,
		}))
	}
	s.attrs = semconv.LifetimeAttributes(l, s.attrs[:0])
	opts := []trace.SpanStartOption{
		trace.WithTimestamp(l.Start),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(s.attrs...),
	}
	if ids.HasLink {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    ids.LinkTraceID,
			SpanID:     ids.LinkSpanID,
			TraceFlags: trace.FlagsSampled,
			Remote:     true,
		})}))
	}
	_, span := s.tracer.Start(ctx, semconv.SpanName(l), opts...)
	if isErr, _, desc := semconv.SpanStatus(l); isErr {
		span.SetStatus(codes.Error, desc)
	}
	s.counts.handed.Add(1)
	end := l.End
	if end.Before(l.Start) {
		end = l.Start
	}
	span.End(trace.WithTimestamp(end))
}

// idsKey is the context key under which Lifetime passes the derived ids
// to contextIDs.
type idsKey struct{}

// contextIDs is an IDGenerator that hands the tracer the ids derived by
// semconv.SpanContextIDs, carried in the context. Without them (a span
// not started by spanSink) it falls back to random ids.
type contextIDs struct{}

var _ sdktrace.IDGenerator = contextIDs{}

// NewIDs returns the trace and span id of a span without a parent.
func (contextIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if ids, ok := ctx.Value(idsKey{}).(*semconv.SpanIDs); ok {
		return ids.TraceID, ids.SpanID
	}
	var t trace.TraceID
	var s trace.SpanID
	_, _ = rand.Read(t[:])
	_, _ = rand.Read(s[:])
	return t, s
}

// NewSpanID returns the span id of a span with a parent.
func (contextIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if ids, ok := ctx.Value(idsKey{}).(*semconv.SpanIDs); ok {
		return ids.SpanID
	}
	var s trace.SpanID
	_, _ = rand.Read(s[:])
	return s
}

// countingSpanExporter counts what the OTLP exporter reports, releases
// the gate, and retries failed exports.
type countingSpanExporter struct {
	next    sdktrace.SpanExporter
	sink    *spanSink
	timeout time.Duration
}

var _ sdktrace.SpanExporter = (*countingSpanExporter)(nil)

// ExportSpans sends spans, retrying until ctx (bounded by
// Options.RetryFor) ends, then counts them as exported or dropped.
func (x *countingSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := retry(ctx, x.timeout, func(ctx context.Context) error {
		return x.next.ExportSpans(ctx, spans)
	})
	if err == nil {
		x.sink.counts.exported.Add(uint64(len(spans)))
	} else {
		x.sink.counts.droppedExport.Add(uint64(len(spans)))
	}
	x.sink.gate.release(len(spans))
	return err
}

// Shutdown shuts the OTLP exporter down.
func (x *countingSpanExporter) Shutdown(ctx context.Context) error { return x.next.Shutdown(ctx) }
