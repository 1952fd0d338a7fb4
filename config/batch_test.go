package config

import (
	"strings"
	"testing"
	"time"
)

// TestQueueAndBatch reads otlp.queue, otlp.batch and the per-signal
// batches from a file, then the OTEL_BLRP_* and OTEL_BSP_* variables over
// it: the environment beats the file, the exporter's per-signal timeout
// beats EXPORT_TIMEOUT, and EXPORT_TIMEOUT beats the general timeout.
func TestQueueAndBatch(t *testing.T) {
	d := Default()
	if q := d.OTLP.Queue; q.Logs != 16384 || q.Traces != 16384 || q.Bytes != 16<<20 {
		t.Errorf("default queue %+v, want 16384 records, 16384 spans, 16 MiB", q)
	}
	if b := d.OTLP.Batch; b.Size != 0 || b.Interval != time.Second {
		t.Errorf("default batch %+v, want size 0 (2048 or the queue) and 1s", b)
	}
	file := writeConfig(t, `otlp:
  endpoint: c:4317
  queue: {logs: 5000, traces: 6000, bytes: 8388608}
  batch: {size: 100, interval: 250ms}
  signals:
    logs:
      batch: {size: 50}
    traces:
      batch: {interval: 2s}
`)
	c, err := load(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := c.OTLP
	if o.Queue != (Queue{Logs: 5000, Traces: 6000, Bytes: 8 << 20}) || o.Batch != (Batch{Size: 100, Interval: 250 * time.Millisecond}) {
		t.Errorf("file: queue %+v batch %+v", o.Queue, o.Batch)
	}
	if o.Signals.Logs.Batch != (Batch{Size: 50}) || o.Signals.Traces.Batch != (Batch{Interval: 2 * time.Second}) {
		t.Errorf("file: logs batch %+v traces batch %+v", o.Signals.Logs.Batch, o.Signals.Traces.Batch)
	}

	c, err = load(t, []string{"--config", file}, map[string]string{
		"OTEL_BLRP_MAX_QUEUE_SIZE":          "7000",
		"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE":   "700",
		"OTEL_BLRP_SCHEDULE_DELAY":          "300",
		"OTEL_BLRP_EXPORT_TIMEOUT":          "4000",
		"OTEL_BSP_MAX_QUEUE_SIZE":           "9000",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE":    "900",
		"OTEL_BSP_SCHEDULE_DELAY":           "5000",
		"OTEL_BSP_EXPORT_TIMEOUT":           "30000",
		"OTEL_EXPORTER_OTLP_TIMEOUT":        "1000",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500",
	})
	if err != nil {
		t.Fatal(err)
	}
	o = c.OTLP
	if o.Queue != (Queue{Logs: 7000, Traces: 9000, Bytes: 8 << 20}) {
		t.Errorf("env: queue %+v", o.Queue)
	}
	if l := o.Signals.Logs; l.Batch != (Batch{Size: 700, Interval: 300 * time.Millisecond}) || l.Timeout != 4*time.Second {
		t.Errorf("env: logs batch %+v timeout %s, want 700, 300ms, 4s", l.Batch, l.Timeout)
	}
	if tr := o.Signals.Traces; tr.Batch != (Batch{Size: 900, Interval: 5 * time.Second}) || tr.Timeout != 2500*time.Millisecond {
		t.Errorf("env: traces batch %+v timeout %s, want 900, 5s, 2.5s (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT wins)", tr.Batch, tr.Timeout)
	}
	if o.Batch != (Batch{Size: 100, Interval: 250 * time.Millisecond}) || o.Timeout != time.Second {
		t.Errorf("env: general batch %+v timeout %s", o.Batch, o.Timeout)
	}

	// A queue set smaller than the default batch is fine: the batch
	// default follows it.
	if _, err := load(t, nil, map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "100"}); err != nil {
		t.Errorf("OTEL_BSP_MAX_QUEUE_SIZE=100 alone: %v", err)
	}
}

func TestQueueAndBatchErrors(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		file string
		want string
	}{
		{file: "otlp:\n  queue: {logs: 0}\n", want: "otlp.queue.logs: must be between 1 and 16777216 records (OTEL_BLRP_MAX_QUEUE_SIZE), got 0"},
		{file: "otlp:\n  queue: {traces: -5}\n", want: "otlp.queue.traces: must be between 1 and 16777216 records (OTEL_BSP_MAX_QUEUE_SIZE), got -5"},
		{file: "otlp:\n  queue: {traces: 100000000}\n", want: "otlp.queue.traces: must be between 1 and 16777216"},
		{file: "otlp:\n  queue: {bytes: 4096}\n", want: "otlp.queue.bytes: must be between 1048576 (1 MiB) and 1073741824 (1 GiB) bytes, got 4096"},
		{file: "otlp:\n  queue: {bytes: 1099511627776}\n", want: "otlp.queue.bytes: must be between 1048576 (1 MiB)"},
		{file: "otlp:\n  queue: {bytes: 16MiB}\n", want: "line 2: otlp.queue.bytes: want a whole number"},
		{file: "otlp:\n  batch: {size: -1}\n", want: "otlp.batch.size: must not be negative (0: the default), got -1"},
		{file: "otlp:\n  batch: {interval: 0s}\n", want: "otlp.batch.interval: must be between 1ms and 5m0s, got 0s"},
		{file: "otlp:\n  batch: {interval: 1h}\n", want: "otlp.batch.interval: must be between 1ms and 5m0s, got 1h0m0s"},
		{file: "otlp:\n  batch: {interval: 100}\n", want: "otlp.batch.interval: cannot use \"100\" (a duration needs a unit"},
		{file: "otlp:\n  signals:\n    traces:\n      batch: {interval: -1s}\n", want: "otlp.signals.traces.batch.interval: must be between 1ms and 5m0s, got -1s"},
		{file: "otlp:\n  signals:\n    metrics:\n      batch: {size: 10}\n", want: "otlp.signals.metrics.batch: metrics are not batched; set how often they are sent with otlp.metrics_interval"},
		{file: "otlp:\n  queue: {logs: 1000}\n  batch: {size: 2000}\n",
			want: "otlp.batch.size: a batch of 2000 log records does not fit in otlp.queue.logs (1000); a batch must not exceed its queue (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE ≤ OTEL_BLRP_MAX_QUEUE_SIZE): lower the batch size or raise the queue"},
		{file: "otlp:\n  queue: {traces: 1000}\n  signals:\n    traces:\n      batch: {size: 1001}\n",
			want: "otlp.signals.traces.batch.size: a batch of 1001 spans does not fit in otlp.queue.traces (1000)"},
		{env: map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "512", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1024"},
			want: "otlp.signals.traces.batch.size: a batch of 1024 spans does not fit in otlp.queue.traces (512); a batch must not exceed its queue (OTEL_BSP_MAX_EXPORT_BATCH_SIZE ≤ OTEL_BSP_MAX_QUEUE_SIZE)"},
		{env: map[string]string{"OTEL_BLRP_MAX_QUEUE_SIZE": "0"}, want: "environment OTEL_BLRP_MAX_QUEUE_SIZE: want a positive whole number, got \"0\""},
		{env: map[string]string{"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "lots"}, want: "environment OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: want a positive whole number, got \"lots\""},
		{env: map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "5s"}, want: "environment OTEL_BSP_SCHEDULE_DELAY: want a positive number of milliseconds, got \"5s\""},
		{env: map[string]string{"OTEL_BSP_EXPORT_TIMEOUT": "-1"}, want: "environment OTEL_BSP_EXPORT_TIMEOUT: want a positive number of milliseconds"},
		{env: map[string]string{"OTEL_BLRP_SCHEDULE_DELAY": "3600000"}, want: "otlp.signals.logs.batch.interval: must be between 1ms and 5m0s, got 1h0m0s"},
	} {
		var args []string
		if c.file != "" {
			args = []string{"--config", writeConfig(t, c.file)}
		}
		_, err := load(t, args, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %q: error %v, want it to contain %q", c.env, c.file, err, c.want)
		}
	}
}
