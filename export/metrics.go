package export

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/procotel/procotel/semconv"
)

// The names of procotel's own metrics, exported by Metrics.
const (
	MetricEventsReceived = "procotel.events.received"
	MetricEventsLost     = "procotel.events.lost"
	MetricEventsExported = "procotel.events.exported"
	MetricEventsDropped  = "procotel.events.dropped"
	MetricTableSize      = "procotel.process_table.size"

	MetricEventsUndecodable = "procotel.events.undecodable"
	MetricExecsThrottled    = "procotel.execs.throttled"
	MetricReapsInferred     = "procotel.reaps.inferred"
	MetricReapsLate         = "procotel.reaps.late"
	MetricPipelineDropped   = "procotel.pipeline.dropped"
)

// The attribute keys of procotel's own metrics and the values of the
// signal and reason attributes.
const (
	MetricAttrKind   = "kind"
	MetricAttrSignal = "signal"
	MetricAttrReason = "reason"

	SignalLogs  = "logs"
	SignalSpans = "spans"
)

// lostUnknownKind is the kind attribute of kernel losses whose kind the
// backend could not tell (SelfStats.Lost[KindInvalid]).
const lostUnknownKind = "unknown"

// SelfStats is one snapshot of procotel's own counters, gathered by the
// caller from the backend, the pipeline and the exporter. It is plain
// data, so that this package imports neither backends nor pipeline.
type SelfStats struct {
	// Received counts events the backend read from the kernel, per kind.
	Received [semconv.NumKinds]uint64
	// Lost counts events the kernel could not hand over, per kind;
	// Lost[KindInvalid] counts losses of unknown kind.
	Lost [semconv.NumKinds]uint64
	// Filtered counts events the pipeline's filter kept from the sinks,
	// per kind; FilteredLifetimes counts the lifetimes it kept back.
	Filtered          [semconv.NumKinds]uint64
	FilteredLifetimes uint64
	// TableSize is the number of processes in the pipeline's table.
	TableSize int
	// DecodeErrors counts kernel records the backend could not decode.
	DecodeErrors uint64
	// Throttled counts execs the kernel counted instead of reporting
	// (the exec rate limit); throttle records carry them per cgroup.
	Throttled uint64
	// ReapsInferred counts reaps the kernel did not report in time, which
	// the backend inferred from the process being gone; LateReaps the
	// kernel's reports that came after such an inference, dropped as
	// its duplicates.
	ReapsInferred, LateReaps uint64
	// PipelineDropped counts what the pipeline lost, by reason (the
	// pipeline names the reasons: pipeline.Stats.Losses).
	PipelineDropped map[string]uint64
	// Export is the exporter's counters (Exporter.Stats); zero when
	// nothing is exported over OTLP.
	Export Stats
}

// Metrics exports procotel's own counters as OpenTelemetry metrics:
// observable counters read from a SelfStats source at each collection,
// sent periodically over OTLP. Shutdown sends a last collection and is
// idempotent; it is safe to call from any goroutine.
type Metrics struct {
	provider *sdkmetric.MeterProvider
	exp      *quietMetricExporter // nil in unit tests
	once     sync.Once
	err      error
}

// NewMetrics starts exporting the metrics read from source every
// o.MetricInterval (periodically, and once more at Shutdown) to the
// metrics endpoint: the general connection settings with
// o.MetricsSignal's overrides, and the same resource as New. Logs and
// Traces are ignored. Source is called from
// the SDK's collection goroutine and must be safe for that. Like New, it
// does not connect; a collection that cannot be sent is skipped (the
// counters are cumulative, so the next one carries the totals).
func NewMetrics(ctx context.Context, o Options, source func() SelfStats) (*Metrics, error) {
	o = o.withDefaults()
	if source == nil {
		return nil, errors.New("export metrics: no source")
	}
	c, err := o.resolve(signalMetrics)
	if err != nil {
		return nil, fmt.Errorf("export metrics: %w", err)
	}
	var exp sdkmetric.Exporter
	switch c.protocol {
	case ProtocolGRPC:
		exp, err = newMetricGRPC(ctx, c)
	case ProtocolHTTP:
		exp, err = newMetricHTTP(ctx, c)
	}
	if err != nil {
		return nil, fmt.Errorf("export metrics: %w", err)
	}
	quiet := &quietMetricExporter{Exporter: exp, rep: newReporter(&lineWriter{w: o.Messages}, c, 0)}
	reader := sdkmetric.NewPeriodicReader(quiet,
		sdkmetric.WithInterval(o.MetricInterval),
		sdkmetric.WithTimeout(c.timeout))
	m, err := newMetrics(o, reader, source)
	if err != nil {
		_ = reader.Shutdown(ctx)
		return nil, fmt.Errorf("export metrics: %w", err)
	}
	m.exp = quiet
	return m, nil
}

// Failures returns how many periodic exports failed so far, and the last
// error. A failed export is not retried: the counters are cumulative, so
// the next one carries the totals.
func (m *Metrics) Failures() (uint64, error) {
	if m.exp == nil {
		return 0, nil
	}
	return m.exp.failures.Load(), m.exp.lastErr()
}

// quietMetricExporter counts failed exports instead of passing the error
// to the SDK, which would print each one through the global error
// handler: during a Collector outage, one line per interval. The first
// failure (and each after reportEvery) and the recovery are reported on
// Options.Messages instead.
type quietMetricExporter struct {
	sdkmetric.Exporter
	rep      *reporter
	failures atomic.Uint64
	mu       sync.Mutex
	last     error
	failing  bool
	// stopping is set when Shutdown begins. The reader then cancels the
	// periodic export in flight, if any, and makes a last one with the
	// same cumulative totals: a canceled export is held in abandoned, not
	// counted, until an export after it has its own outcome, or counted
	// by settle when none came.
	stopping  bool
	abandoned error
}

// Export sends rm and counts a failure.
func (q *quietMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := q.Exporter.Export(ctx, rm)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil && q.stopping && errors.Is(err, context.Canceled) {
		q.abandoned = err
		return nil
	}
	q.abandoned = nil
	q.fail(err)
	return nil
}

// fail counts and reports err, or the recovery when err is nil after a
// failure. q.mu is held.
func (q *quietMetricExporter) fail(err error) {
	if err != nil {
		q.failures.Add(1)
		q.last = err
		if q.rep.due("failed") {
			what := "not retried, the next collection (every interval, and at shutdown) carries the totals"
			if status.Code(err) == codes.Unimplemented || strings.Contains(err.Error(), "404 Not Found") {
				what = "the endpoint does not accept metrics; set OTEL_METRICS_EXPORTER=none to stop sending them"
			}
			q.rep.out.printf("OTLP metrics export to %s failed: %v; %s", q.rep.endpoint, err, what)
			q.failing = true
		}
	} else if q.failing {
		q.failing = false
		q.rep.out.printf("OTLP metrics export to %s recovered", q.rep.endpoint)
	}
}

// stop marks the start of Shutdown.
func (q *quietMetricExporter) stop() {
	q.mu.Lock()
	q.stopping = true
	q.mu.Unlock()
}

// settle counts an abandoned export no later export superseded.
func (q *quietMetricExporter) settle() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.abandoned != nil {
		q.fail(q.abandoned)
		q.abandoned = nil
	}
}

func (q *quietMetricExporter) lastErr() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.last
}

// newMetrics registers the instruments on a provider reading with reader.
func newMetrics(o Options, reader sdkmetric.Reader, source func() SelfStats) (*Metrics, error) {
	res := newResource(o)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res.res), sdkmetric.WithReader(reader))
	meter := provider.Meter(scopeName, metric.WithInstrumentationVersion(res.version), metric.WithSchemaURL(semconv.SchemaURL))
	m := &Metrics{provider: provider}
	if err := registerSelfMetrics(meter, source); err != nil {
		_ = provider.Shutdown(context.Background())
		return nil, err
	}
	return m, nil
}

// Shutdown exports a last collection within ctx and stops.
func (m *Metrics) Shutdown(ctx context.Context) error {
	m.once.Do(func() {
		if m.exp != nil {
			m.exp.stop()
			defer m.exp.settle()
		}
		if err := m.provider.Shutdown(ctx); err != nil {
			m.err = fmt.Errorf("shut down metric export: %w", err)
		}
	})
	return m.err
}

// ForceFlush collects and exports now, within ctx.
func (m *Metrics) ForceFlush(ctx context.Context) error {
	if err := m.provider.ForceFlush(ctx); err != nil {
		return fmt.Errorf("flush metrics: %w", err)
	}
	return nil
}

// selfInstruments are the registered instruments.
type selfInstruments struct {
	received, lost, exported, dropped metric.Int64ObservableCounter
	undecodable, throttled            metric.Int64ObservableCounter
	inferred, late, pipeDropped       metric.Int64ObservableCounter
	table                             metric.Int64ObservableGauge
}

func registerSelfMetrics(meter metric.Meter, source func() SelfStats) error {
	var in selfInstruments
	var err error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		if err != nil {
			return nil
		}
		var c metric.Int64ObservableCounter
		c, err = meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return c
	}
	in.received = counter(MetricEventsReceived, "{event}", "Events read from the kernel, by kind.")
	in.lost = counter(MetricEventsLost, "{event}", "Events the kernel could not hand over (buffer full), by kind.")
	in.exported = counter(MetricEventsExported, "{record}", "Log records and spans the OTLP endpoint accepted, by signal.")
	in.dropped = counter(MetricEventsDropped, "{record}", "Log records and spans not exported, by signal and reason.")
	in.undecodable = counter(MetricEventsUndecodable, "{record}", "Kernel records the backend could not decode.")
	in.throttled = counter(MetricExecsThrottled, "{exec}", "Execs counted instead of reported past capture.exec_rate_limit; the throttle records carry them per cgroup.")
	in.inferred = counter(MetricReapsInferred, "{event}", "Reaps the kernel did not report in time, inferred from the process being gone.")
	in.late = counter(MetricReapsLate, "{event}", "Reaps the kernel reported after they were inferred, dropped as duplicates.")
	in.pipeDropped = counter(MetricPipelineDropped, "{item}", "Events and lifetimes the pipeline lost, by reason.")
	if err != nil {
		return fmt.Errorf("create instrument: %w", err)
	}
	in.table, err = meter.Int64ObservableGauge(MetricTableSize, metric.WithUnit("{process}"),
		metric.WithDescription("Processes in the pipeline's table (live, exited and reaped)."))
	if err != nil {
		return fmt.Errorf("create instrument: %w", err)
	}
	kindAttrs := kindAttributeSets()
	set := func(kvs ...attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(kvs...))
	}
	signals := [2]struct {
		name string
		opt  metric.ObserveOption
	}{{SignalLogs, set(attribute.String(MetricAttrSignal, SignalLogs))}, {SignalSpans, set(attribute.String(MetricAttrSignal, SignalSpans))}}
	type dropKey struct{ signal, reason string }
	dropOpts := map[dropKey]metric.ObserveOption{}
	for _, sig := range []string{SignalLogs, SignalSpans} {
		for _, r := range append(DropReasons[:len(DropReasons):len(DropReasons)], ReasonFiltered) {
			dropOpts[dropKey{sig, r}] = set(attribute.String(MetricAttrSignal, sig), attribute.String(MetricAttrReason, r))
		}
	}

	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := source()
		o.ObserveInt64(in.undecodable, clampInt64(s.DecodeErrors))
		o.ObserveInt64(in.throttled, clampInt64(s.Throttled))
		o.ObserveInt64(in.inferred, clampInt64(s.ReapsInferred))
		o.ObserveInt64(in.late, clampInt64(s.LateReaps))
		for reason, n := range s.PipelineDropped {
			o.ObserveInt64(in.pipeDropped, clampInt64(n), set(attribute.String(MetricAttrReason, reason)))
		}
		for k := range semconv.NumKinds {
			if s.Received[k] > 0 && kindAttrs[k] != nil {
				o.ObserveInt64(in.received, clampInt64(s.Received[k]), kindAttrs[k])
			}
			if s.Lost[k] > 0 && kindAttrs[k] != nil {
				o.ObserveInt64(in.lost, clampInt64(s.Lost[k]), kindAttrs[k])
			}
		}
		logs := s.Export.LogTotals()
		var filtered uint64
		for _, n := range s.Filtered {
			filtered += n
		}
		for i, c := range []struct {
			counts   Counts
			filtered uint64
		}{{logs, filtered}, {s.Export.Spans, s.FilteredLifetimes}} {
			sig := signals[i].name
			o.ObserveInt64(in.exported, clampInt64(c.counts.Exported), signals[i].opt)
			for _, r := range DropReasons {
				o.ObserveInt64(in.dropped, clampInt64(c.counts.DroppedBy(r)), dropOpts[dropKey{sig, r}])
			}
			o.ObserveInt64(in.dropped, clampInt64(c.filtered), dropOpts[dropKey{sig, ReasonFiltered}])
		}
		o.ObserveInt64(in.table, int64(s.TableSize))
		return nil
	}, in.received, in.lost, in.exported, in.dropped, in.table,
		in.undecodable, in.throttled, in.inferred, in.late, in.pipeDropped)
	if err != nil {
		return fmt.Errorf("register metrics callback: %w", err)
	}
	return nil
}

// kindAttributeSets returns the kind attribute of each kind, indexed by
// kind; KindInvalid is "unknown" (losses of unknown kind).
func kindAttributeSets() [semconv.NumKinds]metric.ObserveOption {
	var out [semconv.NumKinds]metric.ObserveOption
	for k := range semconv.NumKinds {
		name := semconv.Kind(k).String()
		if semconv.Kind(k) == semconv.KindInvalid {
			name = lostUnknownKind
		}
		out[k] = metric.WithAttributeSet(attribute.NewSet(attribute.String(MetricAttrKind, name)))
	}
	return out
}

func clampInt64(n uint64) int64 {
	if n > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(n)
}

// The metric exporters are the OTel SDK's; they also read OTEL_* from
// the environment, and the explicit options here win over it.

func newMetricGRPC(ctx context.Context, c signalConfig) (sdkmetric.Exporter, error) {
	opts := []otlpmetricgrpc.Option{
		otlpmetricgrpc.WithEndpoint(c.target.hostPort),
		otlpmetricgrpc.WithTimeout(c.timeout),
		otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}),
		otlpmetricgrpc.WithDialOption(grpcDialOptions()...),
		otlpmetricgrpc.WithHeaders(c.headers),
	}
	switch {
	case c.target.insecure:
		opts = append(opts, otlpmetricgrpc.WithInsecure())
	case c.tls != nil:
		opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
	}
	if c.compression == CompressionGzip {
		opts = append(opts, otlpmetricgrpc.WithCompressor(CompressionGzip))
	}
	e, err := otlpmetricgrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP/gRPC metric exporter: %w", err)
	}
	return e, nil
}

func newMetricHTTP(ctx context.Context, c signalConfig) (sdkmetric.Exporter, error) {
	opts := []otlpmetrichttp.Option{
		otlpmetrichttp.WithEndpoint(c.target.hostPort),
		otlpmetrichttp.WithURLPath(c.urlPath),
		otlpmetrichttp.WithTimeout(c.timeout),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
		otlpmetrichttp.WithHeaders(c.headers),
		otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression),
	}
	switch {
	case c.target.insecure:
		opts = append(opts, otlpmetrichttp.WithInsecure())
	case c.tls != nil:
		opts = append(opts, otlpmetrichttp.WithTLSClientConfig(c.tls))
	}
	if c.compression == CompressionGzip {
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	}
	e, err := otlpmetrichttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP/HTTP metric exporter: %w", err)
	}
	return e, nil
}
