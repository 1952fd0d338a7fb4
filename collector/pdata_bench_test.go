package collector

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// streamItem is one thing the pipeline handed its sink: an event, or the
// lifetime an event closed.
type streamItem struct {
	e *semconv.Event
	l *semconv.Lifetime
}

// streamSink keeps what the pipeline hands it, in order.
type streamSink struct{ items []streamItem }

func (s *streamSink) Event(e *semconv.Event) {
	c := *e
	s.items = append(s.items, streamItem{e: &c})
}

func (s *streamSink) Lifetime(l *semconv.Lifetime) {
	c := *l
	s.items = append(s.items, streamItem{l: &c})
}

func (s *streamSink) Close(context.Context) error { return nil }

// recordedStream plays the recording at path (its event lines) through a
// pipeline and returns what the receiver's sink would be handed.
func recordedStream(tb testing.TB, path string) []streamItem {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sink := &streamSink{}
	p := pipeline.New(pipeline.Config{CredsComplete: true}, sink)
	var evs []semconv.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e semconv.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || !e.Kind.Valid() {
			continue // the header and the trailer
		}
		evs = append(evs, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if err := p.Run(context.Background(), semconv.QueueOf(evs...)); err != nil {
		tb.Fatal(err)
	}
	return sink.items
}

// BenchmarkReceiverExecStorm measures the receiver's cost per event of a
// recorded exec storm (fork, exec, exit, reap; 800 events, 179 spans):
// the sink maps each event to a log record and each lifetime to a span,
// in batches of 512, and every batch is marshalled to OTLP protobuf, as
// the next consumer (an OTLP exporter) would. One op is one event; the
// spans are counted in the events that closed them.
func BenchmarkReceiverExecStorm(b *testing.B) {
	items := recordedStream(b, "testdata/execstorm.jsonl")
	logs := &deliverer[plog.Logs]{queue: make(chan plog.Logs, 1), size: func(ld plog.Logs) int { return ld.LogRecordCount() }}
	traces := &deliverer[ptrace.Traces]{queue: make(chan ptrace.Traces, 1), size: func(td ptrace.Traces) int { return td.SpanCount() }}
	res := semconv.ResourceAttributes(observer(semconv.OSLinux), nil)
	s := newPdataSink("ed291ca6-5d3d-48b9-b06c-7a1aca05c27c", res, "bench",
		Delivery{FlushInterval: time.Hour, MaxBatch: 512}, logs, traces)
	defer close(s.stopFlush)
	var lm plog.ProtoMarshaler
	var tm ptrace.ProtoMarshaler
	var bytes int
	marshal := func() {
		select {
		case ld := <-logs.queue:
			buf, err := lm.MarshalLogs(ld)
			if err != nil {
				b.Fatal(err)
			}
			bytes += len(buf)
		case td := <-traces.queue:
			buf, err := tm.MarshalTraces(td)
			if err != nil {
				b.Fatal(err)
			}
			bytes += len(buf)
		default:
		}
	}
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		// One event, then the lifetimes it closed.
		for {
			it := items[next]
			next = (next + 1) % len(items)
			if it.e != nil {
				s.Event(it.e)
				marshal()
				break
			}
			s.Lifetime(it.l)
			marshal()
		}
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "otlp-B/event")
}
