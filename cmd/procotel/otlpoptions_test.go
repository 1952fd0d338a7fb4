package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/export"
)

// loadOptions loads the configuration as the binary does, from args and
// env, and returns the exporter options it becomes.
func loadOptions(t *testing.T, args []string, env map[string]string) export.Options {
	t.Helper()
	fs := flag.NewFlagSet("procotel", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := config.NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return otlpOptions(cfg, backends.Capabilities{}, io.Discard)
}

// The defaults of otlp.queue and otlp.batch are the exporter's.
func TestOTLPOptionsQueueDefaults(t *testing.T) {
	o := loadOptions(t, nil, nil)
	if o.LogQueueSize != export.DefaultQueueSize || o.SpanQueueSize != export.DefaultQueueSize || o.QueueBytes != export.DefaultQueueBytes {
		t.Errorf("queues: %d records, %d spans, %d bytes; the exporter's defaults are %d, %d, %d",
			o.LogQueueSize, o.SpanQueueSize, o.QueueBytes, export.DefaultQueueSize, export.DefaultQueueSize, export.DefaultQueueBytes)
	}
	for name, s := range map[string]export.SignalOptions{"logs": o.LogsSignal, "traces": o.TracesSignal} {
		if s.BatchSize != export.DefaultBatchSize || s.ExportInterval != export.DefaultExportInterval {
			t.Errorf("%s batch: %d every %s; the exporter's default is %d every %s",
				name, s.BatchSize, s.ExportInterval, export.DefaultBatchSize, export.DefaultExportInterval)
		}
	}
	if o.MetricsSignal.BatchSize != 0 || o.MetricsSignal.ExportInterval != 0 {
		t.Errorf("metrics signal has a batch: %+v", o.MetricsSignal)
	}
	// A queue smaller than the default batch makes the batch that size.
	o = loadOptions(t, nil, map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "100"})
	if o.SpanQueueSize != 100 || o.TracesSignal.BatchSize != 100 || o.LogsSignal.BatchSize != export.DefaultBatchSize {
		t.Errorf("OTEL_BSP_MAX_QUEUE_SIZE=100: span queue %d, batches %d spans, %d log records; want 100, 100, %d",
			o.SpanQueueSize, o.TracesSignal.BatchSize, o.LogsSignal.BatchSize, export.DefaultBatchSize)
	}
}

// A file's otlp.queue and otlp.batch, and the OTEL_BLRP_* and OTEL_BSP_*
// variables over it, reach export.Options.
func TestOTLPOptionsQueueAndBatch(t *testing.T) {
	p := filepath.Join(t.TempDir(), "procotel.yaml")
	if err := os.WriteFile(p, []byte(`otlp:
  endpoint: c:4317
  timeout: 3s
  queue: {logs: 5000, traces: 6000, bytes: 8388608}
  batch: {size: 100, interval: 250ms}
  signals:
    logs:
      batch: {size: 50}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	o := loadOptions(t, []string{"--config", p}, nil)
	if o.LogQueueSize != 5000 || o.SpanQueueSize != 6000 || o.QueueBytes != 8<<20 || o.BatchSize != 100 || o.ExportInterval != 250*time.Millisecond {
		t.Errorf("file: queues %d/%d/%d, batch %d every %s", o.LogQueueSize, o.SpanQueueSize, o.QueueBytes, o.BatchSize, o.ExportInterval)
	}
	if l, tr := o.LogsSignal, o.TracesSignal; l.BatchSize != 50 || l.ExportInterval != 250*time.Millisecond || tr.BatchSize != 100 || tr.ExportInterval != 250*time.Millisecond {
		t.Errorf("file: logs batch %d every %s, traces batch %d every %s; want 50 and 100 every 250ms",
			l.BatchSize, l.ExportInterval, tr.BatchSize, tr.ExportInterval)
	}

	o = loadOptions(t, []string{"--config", p}, map[string]string{
		"OTEL_BLRP_MAX_QUEUE_SIZE":        "7000",
		"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "700",
		"OTEL_BLRP_SCHEDULE_DELAY":        "300",
		"OTEL_BLRP_EXPORT_TIMEOUT":        "4000",
		"OTEL_BSP_MAX_QUEUE_SIZE":         "9000",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE":  "900",
		"OTEL_BSP_SCHEDULE_DELAY":         "5000",
		"OTEL_BSP_EXPORT_TIMEOUT":         "30000",
	})
	if o.LogQueueSize != 7000 || o.SpanQueueSize != 9000 || o.QueueBytes != 8<<20 || o.Timeout != 3*time.Second {
		t.Errorf("env: queues %d/%d/%d, timeout %s", o.LogQueueSize, o.SpanQueueSize, o.QueueBytes, o.Timeout)
	}
	if l := o.LogsSignal; l.BatchSize != 700 || l.ExportInterval != 300*time.Millisecond || l.Timeout != 4*time.Second {
		t.Errorf("env: logs %+v, want batch 700 every 300ms, timeout 4s", l)
	}
	if tr := o.TracesSignal; tr.BatchSize != 900 || tr.ExportInterval != 5*time.Second || tr.Timeout != 30*time.Second {
		t.Errorf("env: traces %+v, want batch 900 every 5s, timeout 30s", tr)
	}
}

// OTEL_BLRP_MAX_EXPORT_BATCH_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE
// shape the requests the server gets: none holds more, every record
// and span arrives.
func TestEnvBatchSizes(t *testing.T) {
	w := newWorkload(30)
	path := w.file(t)
	srv := startServer(t, "grpc", nil)
	env := endpointEnv("grpc", srv)
	env["OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"] = "7"
	env["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "3"
	env["OTEL_METRICS_EXPORTER"] = "none"
	w.run(t, srv, path, env)
	for _, c := range []struct {
		signal string
		max    int
		want   uint64
	}{{sigLogs, 7, w.records}, {sigTraces, 3, w.spans}} {
		reqs := srv.requests(c.signal)
		full := 0
		for _, r := range reqs {
			if r.items > c.max {
				t.Errorf("%s: a request of %d, want at most %d", c.signal, r.items, c.max)
			}
			if r.items == c.max {
				full++
			}
		}
		if n := itemsOf(reqs, true); n != c.want || full == 0 {
			t.Errorf("%s: %d in %d requests (%d full), want %d in requests of at most %d", c.signal, n, len(reqs), full, c.want, c.max)
		}
	}
}
