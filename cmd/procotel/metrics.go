package main

import (
	"context"
	"io"

	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/semconv"
)

// startSelfMetrics exports procotel's own counters (events received and
// lost in the kernel, records exported and dropped, the process table's
// size) as OTLP metrics to the configured endpoint, every
// export.DefaultMetricInterval. With no OTLP endpoint it does nothing.
// exp may be nil (no OTLP log/trace exporter): exported and dropped are
// then zero. Call stop after the pipeline is closed, so that the last
// export carries the final counts.
func startSelfMetrics(ctx context.Context, cfg config.Config, caps backends.Capabilities, a *agent.Agent,
	exp *export.Exporter, stderr io.Writer) (stop func(context.Context) error, err error) {
	if !cfg.OTLP.Exporting() || !cfg.OTLP.MetricsEnabled() {
		return func(context.Context) error { return nil }, nil
	}
	m, err := export.NewMetrics(ctx, otlpOptions(cfg, caps, stderr), func() export.SelfStats { return selfStats(a, exp) })
	if err != nil {
		return nil, err
	}
	return m.Shutdown, nil
}

// selfStats gathers the counters of the backend, the pipeline and the
// exporter. Each Stats method is safe for concurrent use.
func selfStats(a *agent.Agent, exp *export.Exporter) export.SelfStats {
	bs := a.Stats()
	s := export.SelfStats{Received: bs.Received, Lost: bs.Lost, DecodeErrors: bs.DecodeErrors,
		Throttled: bs.Throttled, ReapsInferred: bs.ReapsInferred, LateReaps: bs.LateReapsDropped}
	if p := a.Pipeline(); p != nil {
		ps := p.Stats()
		s.Filtered, s.FilteredLifetimes, s.TableSize = ps.Filtered, ps.LifetimesFiltered, ps.TableSize
		s.PipelineDropped = map[string]uint64{}
		for _, l := range ps.Losses() {
			s.PipelineDropped[l.Reason] = l.N
		}
	}
	if exp != nil {
		s.Export = exp.Stats()
	}
	return s
}

// otlpOptions turns the configuration into exporter options: endpoint,
// protocol, headers, TLS, timeout, queues, batches, resource and signals.
func otlpOptions(cfg config.Config, caps backends.Capabilities, stderr io.Writer) export.Options {
	var res []attribute.KeyValue
	if cfg.ServiceName != semconv.ServiceName {
		res = append(res, attribute.String("service.name", cfg.ServiceName))
	}
	for k, v := range cfg.Resource {
		res = append(res, attribute.String(k, v))
	}
	o := cfg.OTLP
	return export.Options{
		Endpoint: o.Endpoint,
		Protocol: o.Protocol,
		Headers:  o.Headers,
		Insecure: o.Insecure,
		TLS: export.TLSOptions{
			CAFile: o.TLS.CAFile, CertFile: o.TLS.CertFile, KeyFile: o.TLS.KeyFile,
		},
		Timeout:            o.Timeout,
		Compression:        o.Compression,
		LogsSignal:         signalOptions(o.Signals.Logs, o.LogsBatch()),
		TracesSignal:       signalOptions(o.Signals.Traces, o.TracesBatch()),
		MetricsSignal:      signalOptions(o.Signals.Metrics, config.Batch{}),
		LogQueueSize:       o.Queue.Logs,
		SpanQueueSize:      o.Queue.Traces,
		QueueBytes:         o.Queue.Bytes,
		BatchSize:          o.Batch.Size,
		ExportInterval:     o.Batch.Interval,
		MetricInterval:     o.MetricsInterval,
		Messages:           stderr,
		Observer:           observer(caps.OS),
		ResourceAttributes: res,
		Boot:               caps.Boot,
		Logs:               o.LogsEnabled(),
		Traces:             o.TracesEnabled(),
	}
}

// signalOptions are one signal's overrides of the general settings;
// batch is the signal's resolved batch (config.OTLP.LogsBatch), zero for
// metrics, which are not batched.
func signalOptions(s config.Signal, batch config.Batch) export.SignalOptions {
	return export.SignalOptions{
		Endpoint: s.Endpoint, Protocol: s.Protocol, Headers: s.Headers, Insecure: s.Insecure,
		TLS:     export.TLSOptions{CAFile: s.TLS.CAFile, CertFile: s.TLS.CertFile, KeyFile: s.TLS.KeyFile},
		Timeout: s.Timeout, Compression: s.Compression,
		BatchSize: batch.Size, ExportInterval: batch.Interval,
	}
}
