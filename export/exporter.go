// Package export is procotel's standalone OpenTelemetry exporter: a
// pipeline sink that sends one OTLP log record per event and one OTLP span
// per process lifetime, over gRPC or HTTP/protobuf, with bounded queues
// and counted drops. The mapping itself (names, attributes, ids) lives in
// semconv, shared with the Collector receiver.
package export

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"

	"github.com/procotel/procotel/semconv"
)

// scopeName is the instrumentation scope of every record and span.
const scopeName = "github.com/procotel/procotel"

// Exporter is a pipeline.Sink that exports events as OTLP log records and
// lifetimes as OTLP spans. Event and Lifetime are called from one
// goroutine and never block: records wait in bounded queues, exported in
// the background, and what does not fit is dropped and counted. Stats is
// safe for concurrent use. Close flushes within its context and is
// idempotent; calls after Close are counted as dropped.
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
	o = o.withDefaults()
	if !o.Logs && !o.Traces {
		return nil, errors.New("export: neither logs nor traces are enabled")
	}
	t, tlsCfg, err := o.connection()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var logExp sdklog.Exporter
	var spanExp sdktrace.SpanExporter
	switch o.Protocol {
	case ProtocolGRPC:
		logExp, spanExp, err = newGRPC(ctx, o, t, tlsCfg)
	case ProtocolHTTP:
		logExp, spanExp, err = newHTTP(ctx, o, t, tlsCfg)
	}
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return newExporter(o, logExp, spanExp), nil
}

// newExporter builds an Exporter over the given SDK exporters (nil for a
// disabled signal); o must have its defaults applied.
func newExporter(o Options, logExp sdklog.Exporter, spanExp sdktrace.SpanExporter) *Exporter {
	res := newResource(o)
	x := &Exporter{}
	if o.Logs && logExp != nil {
		x.logs = newLogSink(logExp, o, res)
	}
	if o.Traces && spanExp != nil {
		x.spans = newSpanSink(spanExp, o, res)
	}
	return x
}

// resourceOpt is the resource shared by both providers.
type resourceOpt struct {
	res     *resource.Resource
	version string
}

func newResource(o Options) resourceOpt {
	attrs := semconv.ResourceAttributes(o.Observer, nil)
	attrs = append(attrs, o.ResourceAttributes...) // later keys win
	return resourceOpt{
		res:     resource.NewWithAttributes(semconv.SchemaURL, attrs...),
		version: o.Observer.ServiceVersion,
	}
}

// grpcDialOptions reconnect quickly after the receiver comes back: gRPC's
// default backoff grows to two minutes.
func grpcDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
		MinConnectTimeout: 5 * time.Second,
	})}
}

func newGRPC(ctx context.Context, o Options, t target, tlsCfg *tls.Config) (sdklog.Exporter, sdktrace.SpanExporter, error) {
	lopts := []otlploggrpc.Option{
		otlploggrpc.WithEndpoint(t.hostPort),
		otlploggrpc.WithTimeout(o.Timeout),
		otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false}),
		otlploggrpc.WithDialOption(grpcDialOptions()...),
	}
	topts := []otlptracegrpc.Option{
		otlptracegrpc.WithEndpoint(t.hostPort),
		otlptracegrpc.WithTimeout(o.Timeout),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
		otlptracegrpc.WithDialOption(grpcDialOptions()...),
	}
	switch {
	case t.insecure:
		lopts = append(lopts, otlploggrpc.WithInsecure())
		topts = append(topts, otlptracegrpc.WithInsecure())
	case tlsCfg != nil:
		lopts = append(lopts, otlploggrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		topts = append(topts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
	}
	if len(o.Headers) > 0 {
		lopts = append(lopts, otlploggrpc.WithHeaders(o.Headers))
		topts = append(topts, otlptracegrpc.WithHeaders(o.Headers))
	}
	var logExp sdklog.Exporter
	var spanExp sdktrace.SpanExporter
	if o.Logs {
		e, err := otlploggrpc.New(ctx, lopts...)
		if err != nil {
			return nil, nil, fmt.Errorf("create OTLP/gRPC log exporter: %w", err)
		}
		logExp = e
	}
	if o.Traces {
		e, err := otlptracegrpc.New(ctx, topts...)
		if err != nil {
			return nil, nil, fmt.Errorf("create OTLP/gRPC trace exporter: %w", err)
		}
		spanExp = e
	}
	return logExp, spanExp, nil
}

func newHTTP(ctx context.Context, o Options, t target, tlsCfg *tls.Config) (sdklog.Exporter, sdktrace.SpanExporter, error) {
	lopts := []otlploghttp.Option{
		otlploghttp.WithEndpoint(t.hostPort),
		otlploghttp.WithURLPath(t.pathPrefix + "/v1/logs"),
		otlploghttp.WithTimeout(o.Timeout),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
	}
	topts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(t.hostPort),
		otlptracehttp.WithURLPath(t.pathPrefix + "/v1/traces"),
		otlptracehttp.WithTimeout(o.Timeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	}
	switch {
	case t.insecure:
		lopts = append(lopts, otlploghttp.WithInsecure())
		topts = append(topts, otlptracehttp.WithInsecure())
	case tlsCfg != nil:
		lopts = append(lopts, otlploghttp.WithTLSClientConfig(tlsCfg))
		topts = append(topts, otlptracehttp.WithTLSClientConfig(tlsCfg))
	}
	if len(o.Headers) > 0 {
		lopts = append(lopts, otlploghttp.WithHeaders(o.Headers))
		topts = append(topts, otlptracehttp.WithHeaders(o.Headers))
	}
	var logExp sdklog.Exporter
	var spanExp sdktrace.SpanExporter
	if o.Logs {
		e, err := otlploghttp.New(ctx, lopts...)
		if err != nil {
			return nil, nil, fmt.Errorf("create OTLP/HTTP log exporter: %w", err)
		}
		logExp = e
	}
	if o.Traces {
		e, err := otlptracehttp.New(ctx, topts...)
		if err != nil {
			return nil, nil, fmt.Errorf("create OTLP/HTTP trace exporter: %w", err)
		}
		spanExp = e
	}
	return logExp, spanExp, nil
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

// Close flushes queued records and spans within ctx and shuts the OTLP
// exporters down. What could not be sent stays in Stats as Pending. It
// is idempotent: later calls return the first call's error.
func (x *Exporter) Close(ctx context.Context) error {
	x.closeOnce.Do(func() {
		x.closed.Store(true)
		var errs []error
		if x.logs != nil {
			if err := x.logs.provider.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shut down log export: %w", err))
			}
		}
		if x.spans != nil {
			if err := x.spans.provider.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shut down span export: %w", err))
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
