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

// streamOTLP maps items with the receiver's sink, in batches of maxBatch
// and with the observed time fixed, and returns every batch marshalled
// to OTLP protobuf, logs and traces apart, in the order they were handed
// on.
func streamOTLP(tb testing.TB, items []streamItem, maxBatch int) (logs, traces [][]byte) {
	tb.Helper()
	ld := &deliverer[plog.Logs]{queue: make(chan plog.Logs, len(items)+1), size: func(ld plog.Logs) int { return ld.LogRecordCount() }}
	td := &deliverer[ptrace.Traces]{queue: make(chan ptrace.Traces, len(items)+1), size: func(td ptrace.Traces) int { return td.SpanCount() }}
	res := semconv.ResourceAttributes(observer(semconv.OSLinux), nil)
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
// key (commit 3a6ec65), so a faster mapping must emit the same bytes.
func TestExecStormOTLPUnchanged(t *testing.T) {
	items := recordedStream(t, "testdata/execstorm.jsonl")
	for _, c := range []struct {
		maxBatch                int
		logBatches, spanBatches int
		wantLogs, wantTraces    string
	}{
		{512, 2, 1, "fa71c164d9c3aee4aff1c9127e66876e4512a29000fa61c436111607ccf8eb78", "12197e5110a3b4feac36b6067a78470d2742a2111cbff3eaaedb7709af444fe7"},
		{7, 115, 26, "539927511407fb89c0531291681f09ac5d05196db911e2e3596f62b67004cd5a", "ebaecf47a942983a83419941ee0ea61b8bcef6f4915e9a201f11e948b5fff954"},
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
