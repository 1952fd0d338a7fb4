package main

import (
	"context"

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
	exp *export.Exporter) (stop func(context.Context) error, err error) {
	if cfg.OTLP.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	m, err := export.NewMetrics(ctx, otlpOptions(cfg, caps), func() export.SelfStats { return selfStats(a, exp) })
	if err != nil {
		return nil, err
	}
	return m.Shutdown, nil
}

// selfStats gathers the counters of the backend, the pipeline and the
// exporter. Each Stats method is safe for concurrent use.
func selfStats(a *agent.Agent, exp *export.Exporter) export.SelfStats {
	bs := a.Stats()
	s := export.SelfStats{Received: bs.Received, Lost: bs.Lost}
	if p := a.Pipeline(); p != nil {
		ps := p.Stats()
		s.Filtered, s.FilteredLifetimes, s.TableSize = ps.Filtered, ps.LifetimesFiltered, ps.TableSize
	}
	if exp != nil {
		s.Export = exp.Stats()
	}
	return s
}

// otlpOptions turns the configuration into exporter options: endpoint,
// protocol, headers, TLS, timeout, resource and signals.
func otlpOptions(cfg config.Config, caps backends.Capabilities) export.Options {
	var res []attribute.KeyValue
	if cfg.ServiceName != semconv.ServiceName {
		res = append(res, attribute.String("service.name", cfg.ServiceName))
	}
	for k, v := range cfg.Resource {
		res = append(res, attribute.String(k, v))
	}
	return export.Options{
		Endpoint: cfg.OTLP.Endpoint,
		Protocol: cfg.OTLP.Protocol,
		Headers:  cfg.OTLP.Headers,
		Insecure: cfg.OTLP.Insecure,
		TLS: export.TLSOptions{
			CAFile: cfg.OTLP.TLS.CAFile, CertFile: cfg.OTLP.TLS.CertFile, KeyFile: cfg.OTLP.TLS.KeyFile,
		},
		Timeout:            cfg.OTLP.Timeout,
		Observer:           observer(caps.OS),
		ResourceAttributes: res,
		Boot:               caps.Boot,
		Logs:               cfg.OTLP.LogsEnabled(),
		Traces:             cfg.OTLP.TracesEnabled(),
	}
}
