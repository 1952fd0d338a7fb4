package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/procotel/procotel/semconv"
)

// pinnedObserver is the host of the pinned OTLP: the resource must not
// depend on the machine the test runs on (its name, machine id and
// kernel release).
var pinnedObserver = semconv.Observer{HostName: "storm-host", HostID: "8f4e2a1c9b7d4e6f8a0b1c2d3e4f5a6b",
	OS: semconv.OSLinux, OSVersion: "6.18.0", ServiceVersion: "v0.0.0-test"}

// streamOTLP maps items with the receiver's sink, in batches of maxBatch
// and with the observed time fixed, and returns every batch marshalled
// to OTLP protobuf, logs and traces apart, in the order they were handed
// on.
func streamOTLP(tb testing.TB, items []streamItem, maxBatch int) (logs, traces [][]byte) {
	tb.Helper()
	ld := &deliverer[plog.Logs]{queue: make(chan plog.Logs, len(items)+1), size: func(ld plog.Logs) int { return ld.LogRecordCount() }}
	td := &deliverer[ptrace.Traces]{queue: make(chan ptrace.Traces, len(items)+1), size: func(td ptrace.Traces) int { return td.SpanCount() }}
	res := semconv.ResourceAttributes(pinnedObserver, nil)
	s := newPdataSink("ed291ca6-5d3d-48b9-b06c-7a1aca05c27c", res, "test",
		Delivery{FlushInterval: time.Hour, MaxBatch: maxBatch}, ld, td)
	defer close(s.stopFlush)
	observed := time.Date(2026, 12, 2, 1, 2, 3, 4, time.UTC)
	s.m.now = func() time.Time { return observed }
	for _, it := range items {
		if it.e != nil {
			s.Event(it.e)
		} else {
			s.Lifetime(it.l)
		}
	}
	s.flush()
	close(ld.queue)
	close(td.queue)
	var lm plog.ProtoMarshaler
	var tm ptrace.ProtoMarshaler
	for b := range ld.queue {
		buf, err := lm.MarshalLogs(b)
		if err != nil {
			tb.Fatal(err)
		}
		logs = append(logs, buf)
	}
	for b := range td.queue {
		buf, err := tm.MarshalTraces(b)
		if err != nil {
			tb.Fatal(err)
		}
		traces = append(traces, buf)
	}
	return logs, traces
}

func digest(batches [][]byte) string {
	h := sha256.New()
	for _, b := range batches {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestExecStormOTLPUnchanged pins the OTLP the receiver makes of the
// recorded exec storm: the digests are those of the output of the
// mapping as it was before its attributes were put without a lookup per
// key (commit f2f82be, with this file's pinnedObserver), so a faster
// mapping must emit the same bytes.
func TestExecStormOTLPUnchanged(t *testing.T) {
	items := recordedStream(t, "testdata/execstorm.jsonl")
	for _, c := range []struct {
		maxBatch                int
		logBatches, spanBatches int
		wantLogs, wantTraces    string
	}{
		{512, 2, 1, "c1e2cc9072483b4be30143b6b13e4efd6ba12050f26c469b73d76d40c95ffe86", "5cd3f9c51bbe11a2baadbd0103f408a754c05435025270d0f400731a5407433f"},
		{7, 115, 26, "fe8afd64029216db9147bc0a8b3425c40d7c61621ce6e06e8986c6077ca25ec0", "3ed2535842c12385f29a4db9c4b7764c8405ff41543f8af9b531d8756b1bbaf8"},
	} {
		logs, traces := streamOTLP(t, items, c.maxBatch)
		if len(logs) != c.logBatches || len(traces) != c.spanBatches {
			t.Errorf("batches of %d: %d log batches, %d trace batches; want %d and %d",
				c.maxBatch, len(logs), len(traces), c.logBatches, c.spanBatches)
		}
		if got := digest(logs); got != c.wantLogs {
			t.Errorf("batches of %d: logs digest %s, want %s", c.maxBatch, got, c.wantLogs)
		}
		if got := digest(traces); got != c.wantTraces {
			t.Errorf("batches of %d: traces digest %s, want %s", c.maxBatch, got, c.wantTraces)
		}
	}
}
