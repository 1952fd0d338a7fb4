package config

import (
	"strings"
	"testing"
	"time"
)

// TestSignalEnvironment checks the OTLP exporter specification's
// per-signal variables, the exporter selectors, the metric interval and
// OTEL_SDK_DISABLED, with their precedence (per-signal beats general; a
// flag beats both).
func TestSignalEnvironment(t *testing.T) {
	c, err := load(t, []string{"--otlp-endpoint", "flag:4317"}, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":                   "general:4317",
		"OTEL_EXPORTER_OTLP_COMPRESSION":                "gzip",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":            "http://jaeger:4318/custom/traces",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL":            "http/protobuf",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS":             "x-tenant=blue",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":             "2500",
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION":         "none",
		"OTEL_EXPORTER_OTLP_TRACES_INSECURE":            "true",
		"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE":        "/etc/ca.pem",
		"OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE": "/etc/c.pem",
		"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY":         "/etc/k.pem",
		"OTEL_LOGS_EXPORTER":                            "none",
		"OTEL_METRIC_EXPORT_INTERVAL":                   "15000",
	})
	if err != nil {
		t.Fatal(err)
	}
	o := c.OTLP
	if o.Endpoint != "flag:4317" || o.Compression != "gzip" {
		t.Errorf("general: endpoint %q compression %q", o.Endpoint, o.Compression)
	}
	tr := o.Signals.Traces
	if tr.Endpoint != "http://jaeger:4318/custom/traces" || tr.Protocol != "http/protobuf" || tr.Headers["x-tenant"] != "blue" ||
		tr.Timeout != 2500*time.Millisecond || tr.Compression != "none" || tr.Insecure == nil || !*tr.Insecure {
		t.Errorf("traces signal: %+v", tr)
	}
	if m := o.Signals.Metrics.TLS; m.CAFile != "/etc/ca.pem" || m.CertFile != "/etc/c.pem" || m.KeyFile != "/etc/k.pem" {
		t.Errorf("metrics TLS: %+v", m)
	}
	if o.LogsEnabled() || !o.TracesEnabled() || !o.MetricsEnabled() || o.MetricsInterval != 15*time.Second {
		t.Errorf("signals: logs %v traces %v metrics %v interval %v", o.LogsEnabled(), o.TracesEnabled(), o.MetricsEnabled(), o.MetricsInterval)
	}

	// Only a traces endpoint: traces go there, logs have nowhere to go.
	c, err = load(t, nil, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "jaeger:4317"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OTLP.Exporting() || !c.OTLP.TracesEnabled() || c.OTLP.LogsEnabled() {
		t.Errorf("traces endpoint only: exporting %v traces %v logs %v", c.OTLP.Exporting(), c.OTLP.TracesEnabled(), c.OTLP.LogsEnabled())
	}

	// OTEL_SDK_DISABLED turns OTLP off altogether.
	c, err = load(t, nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "general:4317", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "t:4317", "OTEL_SDK_DISABLED": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if c.OTLP.Exporting() {
		t.Errorf("OTEL_SDK_DISABLED=true still exports: %+v", c.OTLP)
	}

	for env, want := range map[string]string{
		"OTEL_TRACES_EXPORTER=zipkin":                   "OTEL_TRACES_EXPORTER: procotel exports otlp or none",
		"OTEL_EXPORTER_OTLP_COMPRESSION=brotli":         "otlp.compression: must be gzip or none",
		"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT=5s":            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: want a positive number of milliseconds",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=thrift":     "otlp.signals.traces.protocol: must be grpc or http/protobuf",
		"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY=/k.pem":  "otlp.signals.metrics.tls: cert_file and key_file go together",
		"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://u:p@h": "otlp.signals.logs.endpoint",
	} {
		k, v, _ := strings.Cut(env, "=")
		_, err := load(t, nil, map[string]string{k: v})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", env, err, want)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("%s: the error echoes the password: %v", env, err)
		}
	}
}
