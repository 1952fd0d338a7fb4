//go:build linux

package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

var protocols = []string{export.ProtocolGRPC, export.ProtocolHTTP}

func requireRoot(t *testing.T) {
	t.Helper()
	testenv.RequireKernel(t, "the e2e tests load the eBPF backend")
}

// endpoint returns the exporter endpoint of c for protocol.
func endpoint(c *Collector, protocol string) string {
	if protocol == export.ProtocolHTTP {
		return "http://" + c.HTTPAddr
	}
	return c.GRPCAddr
}

func exporterOptions(c *Collector, protocol string, boot semconv.BootID) export.Options {
	return export.Options{
		Endpoint: endpoint(c, protocol), Protocol: protocol, Insecure: true,
		Headers: map[string]string{"x-procotel-test": "1"},
		Timeout: 5 * time.Second, RetryFor: 2 * time.Minute,
		// The specification's backoff (5 s growing to 30 s) would make a
		// drain after an outage wait up to 30 s for its next attempt.
		RetryInitial: 100 * time.Millisecond, RetryMax: time.Second,
		Observer:           semconv.Observer{HostName: "e2e-host", HostID: "e2e-host-id", OS: semconv.OSLinux, OSVersion: "test", ServiceVersion: "0.0.0-e2e"},
		ResourceAttributes: []attribute.KeyValue{attribute.String("deployment.environment.name", "e2e")},
		Boot:               boot,
		Logs:               true, Traces: true,
		ExportInterval: 100 * time.Millisecond,
	}
}

// TestCollectorExport sends a workload through a real Collector over each
// OTLP protocol and checks what the Collector forwarded: every event as a
// log record and every lifetime as a span, with the mapping's attributes,
// timestamps and ids.
func TestCollectorExport(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	bin := BuildCollector(t)
	for _, protocol := range protocols {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) {
			fwd := StartForwarded(t)
			col := StartCollector(t, bin, fwd.URL)
			x, err := export.New(context.Background(), exporterOptions(col, protocol, SyntheticBoot))
			if err != nil {
				t.Fatal(err)
			}
			w := runSource(t, SyntheticSource, x)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := x.Close(ctx); err != nil {
				t.Fatalf("close exporter: %v", err)
			}
			st := x.Stats()
			lt := st.LogTotals()
			t.Logf("stats: logs %+v, spans %+v", lt, st.Spans)
			if lt.Exported != uint64(len(w.Events)) || lt.Dropped() != 0 || st.Spans.Exported != uint64(len(w.Lifetimes)) || st.Spans.Dropped() != 0 {
				t.Errorf("stats: logs %+v spans %+v, want %d and %d exported", lt, st.Spans, len(w.Events), len(w.Lifetimes))
			}
			if !fwd.WaitFor(10*time.Second, func(l, s int) bool { return l >= len(w.Events) && s >= len(w.Lifetimes) }) {
				l, s := fwd.Counts()
				t.Fatalf("collector forwarded %d records and %d spans, want %d and %d\n%s", l, s, len(w.Events), len(w.Lifetimes), col.Output())
			}
			checkLogs(t, w, fwd.Logs())
			spans := checkSpans(t, w, fwd.Spans())
			checkSyntheticTree(t, w, spans)
		})
	}
}

// runSource hands the source's workload to the exporter.
func runSource(t *testing.T, src Source, x *export.Exporter) Workload {
	t.Helper()
	return src(t, x)
}

// anyString renders an OTLP value for comparison: "s:x", "i:1", "b:true",
// "d:1.5", "a:[s:x i:1]".
func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return "s:" + x.StringValue
	case *commonpb.AnyValue_IntValue:
		return "i:" + strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return "b:" + strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return "d:" + strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.Values {
			parts = append(parts, anyString(e))
		}
		return "a:[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("?%v", v)
}

// attrString renders an attribute value the way anyString renders its
// OTLP encoding.
func attrString(v attribute.Value) string {
	switch v.Type() {
	case attribute.STRING:
		return "s:" + v.AsString()
	case attribute.INT64:
		return "i:" + strconv.FormatInt(v.AsInt64(), 10)
	case attribute.BOOL:
		return "b:" + strconv.FormatBool(v.AsBool())
	case attribute.FLOAT64:
		return "d:" + strconv.FormatFloat(v.AsFloat64(), 'g', -1, 64)
	case attribute.STRINGSLICE:
		var parts []string
		for _, s := range v.AsStringSlice() {
			parts = append(parts, "s:"+s)
		}
		return "a:[" + strings.Join(parts, " ") + "]"
	}
	return "?" + v.String()
}

func compareAttrs(t *testing.T, what string, got []*commonpb.KeyValue, want []attribute.KeyValue) {
	t.Helper()
	g := map[string]string{}
	for _, kv := range got {
		g[kv.Key] = anyString(kv.Value)
	}
	w := map[string]string{}
	for _, kv := range want {
		w[string(kv.Key)] = attrString(kv.Value)
	}
	var keys []string
	for k := range g {
		keys = append(keys, k)
	}
	for k := range w {
		if _, ok := g[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if g[k] != w[k] {
			t.Errorf("%s: attribute %s = %q, want %q", what, k, g[k], w[k])
		}
	}
}

func checkResource(t *testing.T, what string, res map[string]*commonpb.AnyValue) {
	t.Helper()
	for k, want := range map[string]string{
		"service.name": "s:procotel", "service.version": "s:0.0.0-e2e", "host.name": "s:e2e-host",
		"host.id": "s:e2e-host-id", "os.type": "s:linux", "deployment.environment.name": "s:e2e",
	} {
		if got := anyString(res[k]); res[k] == nil || got != want {
			t.Errorf("%s: resource %s = %v, want %s", what, k, res[k], want)
		}
	}
}

// checkLogs checks that every event of w arrived as exactly one log
// record carrying the mapping's name, times, severity, body, attributes
// and the ids of its process's span.
func checkLogs(t *testing.T, w Workload, logs []Log) {
	t.Helper()
	type key struct {
		name string
		pid  int64
		time uint64
	}
	byKey := map[key][]Log{}
	for _, l := range logs {
		pid := int64(-1)
		for _, kv := range l.Record.Attributes {
			if kv.Key == "process.pid" {
				pid = kv.Value.GetIntValue()
			}
		}
		k := key{l.Record.EventName, pid, l.Record.TimeUnixNano}
		byKey[k] = append(byKey[k], l)
	}
	if len(logs) != len(w.Events) {
		t.Errorf("forwarded %d log records for %d events", len(logs), len(w.Events))
	}
	for i := range w.Events {
		e := &w.Events[i]
		name := semconv.EventName(e.Kind)
		what := fmt.Sprintf("event %d (%s pid %d)", i, name, e.Process.PID)
		got := byKey[key{name, int64(e.Process.PID), uint64(e.Time.UnixNano())}]
		if len(got) != 1 {
			t.Errorf("%s: %d matching records, want 1", what, len(got))
			continue
		}
		r := got[0].Record
		checkResource(t, what, got[0].Resource)
		sev, text := semconv.EventSeverity(e)
		if int(r.SeverityNumber) != sev || r.SeverityText != text {
			t.Errorf("%s: severity %v %q, want %d %q", what, r.SeverityNumber, r.SeverityText, sev, text)
		}
		if body := r.Body.GetStringValue(); body != semconv.EventBody(e) {
			t.Errorf("%s: body %q, want %q", what, body, semconv.EventBody(e))
		}
		if r.ObservedTimeUnixNano < r.TimeUnixNano {
			t.Errorf("%s: observed %d before the event %d", what, r.ObservedTimeUnixNano, r.TimeUnixNano)
		}
		compareAttrs(t, what, r.Attributes, semconv.EventAttributes(e, nil))
		ids := semconv.SpanContextIDs(w.Boot, &e.Process, e.Lineage)
		if hex.EncodeToString(r.TraceId) != hex.EncodeToString(ids.TraceID[:]) || hex.EncodeToString(r.SpanId) != hex.EncodeToString(ids.SpanID[:]) {
			t.Errorf("%s: trace/span %x/%x, want the process span's %x/%x", what, r.TraceId, r.SpanId, ids.TraceID, ids.SpanID)
		}
		if r.Flags&0xff != 1 {
			t.Errorf("%s: trace flags %#x, want sampled", what, r.Flags)
		}
	}
}

// checkSpans checks that every lifetime of w arrived as exactly one span
// with the mapping's name, ids, parent, times, status and attributes. It
// returns the spans by process key.
func checkSpans(t *testing.T, w Workload, spans []Span) map[semconv.Key]*tracepb.Span {
	t.Helper()
	bySpanID := map[string][]Span{}
	for _, s := range spans {
		bySpanID[hex.EncodeToString(s.Span.SpanId)] = append(bySpanID[hex.EncodeToString(s.Span.SpanId)], s)
	}
	if len(spans) != len(w.Lifetimes) {
		t.Errorf("forwarded %d spans for %d lifetimes", len(spans), len(w.Lifetimes))
	}
	out := map[semconv.Key]*tracepb.Span{}
	for i := range w.Lifetimes {
		l := &w.Lifetimes[i]
		what := fmt.Sprintf("lifetime %d (pid %d %s)", i, l.Process.PID, semconv.SpanName(l))
		ids := semconv.SpanContextIDs(w.Boot, &l.Process, l.Lineage)
		got := bySpanID[hex.EncodeToString(ids.SpanID[:])]
		if len(got) != 1 {
			t.Errorf("%s: %d spans with span id %x, want 1", what, len(got), ids.SpanID)
			continue
		}
		s := got[0].Span
		out[l.Key()] = s
		checkResource(t, what, got[0].Resource)
		if s.Name != semconv.SpanName(l) || s.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
			t.Errorf("%s: name %q kind %v", what, s.Name, s.Kind)
		}
		if hex.EncodeToString(s.TraceId) != hex.EncodeToString(ids.TraceID[:]) {
			t.Errorf("%s: trace %x, want %x", what, s.TraceId, ids.TraceID)
		}
		wantParent := ""
		if ids.ParentSpanID != ([8]byte{}) {
			wantParent = hex.EncodeToString(ids.ParentSpanID[:])
		}
		if hex.EncodeToString(s.ParentSpanId) != wantParent {
			t.Errorf("%s: parent %x, want %s", what, s.ParentSpanId, wantParent)
		}
		if s.StartTimeUnixNano != uint64(l.Start.UnixNano()) || s.EndTimeUnixNano != uint64(l.End.UnixNano()) {
			t.Errorf("%s: %d..%d, want %d..%d", what, s.StartTimeUnixNano, s.EndTimeUnixNano, l.Start.UnixNano(), l.End.UnixNano())
		}
		isErr, _, desc := semconv.SpanStatus(l)
		if isErr != (s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR) || s.Status.GetMessage() != desc {
			t.Errorf("%s: status %v %q, want error=%v %q", what, s.Status.GetCode(), s.Status.GetMessage(), isErr, desc)
		}
		compareAttrs(t, what, s.Attributes, semconv.LifetimeAttributes(l, nil))
	}
	return out
}

// checkSyntheticTree checks the shape of the synthetic job: one trace,
// sh → make → cc, sh linked to the login shell's span, and the statuses.
func checkSyntheticTree(t *testing.T, w Workload, spans map[semconv.Key]*tracepb.Span) {
	t.Helper()
	tr := SyntheticTree()
	sh, mk, cc := spans[tr.Sh.Key()], spans[tr.Make.Key()], spans[tr.Cc.Key()]
	if sh == nil || mk == nil || cc == nil {
		t.Fatalf("missing spans: sh %v make %v cc %v", sh != nil, mk != nil, cc != nil)
	}
	tid := hex.EncodeToString(sh.TraceId)
	if hex.EncodeToString(mk.TraceId) != tid || hex.EncodeToString(cc.TraceId) != tid {
		t.Errorf("job spans are in different traces: %x %x %x", sh.TraceId, mk.TraceId, cc.TraceId)
	}
	if len(sh.ParentSpanId) != 0 || string(mk.ParentSpanId) != string(sh.SpanId) || string(cc.ParentSpanId) != string(mk.SpanId) {
		t.Errorf("tree: sh parent %x, make parent %x (sh %x), cc parent %x (make %x)", sh.ParentSpanId, mk.ParentSpanId, sh.SpanId, cc.ParentSpanId, mk.SpanId)
	}
	loginSpan := semconv.SpanID(w.Boot, tr.Login.Key())
	loginTrace := semconv.TraceID(w.Boot, tr.Login.Key())
	if len(sh.Links) != 1 || string(sh.Links[0].SpanId) != string(loginSpan[:]) || string(sh.Links[0].TraceId) != string(loginTrace[:]) {
		t.Errorf("sh links = %v, want the login shell's span %x in trace %x", sh.Links, loginSpan, loginTrace)
	}
	if len(mk.Links)+len(cc.Links) != 0 {
		t.Errorf("non-root spans have links")
	}
	if mk.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || cc.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR ||
		sh.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("statuses: sh %v make %v cc %v", sh.Status, mk.Status, cc.Status)
	}
	for _, c := range []struct {
		s    *tracepb.Span
		want string
	}{{mk, "s:exit_code:2"}, {cc, "s:SIGTERM"}} {
		got := ""
		for _, kv := range c.s.Attributes {
			if kv.Key == "error.type" {
				got = anyString(kv.Value)
			}
		}
		if got != c.want {
			t.Errorf("%s error.type = %q, want %q", c.s.Name, got, c.want)
		}
	}
}

// TestCollectorOutage stops the Collector for outage while events and
// lifetimes keep coming, then restarts it, and checks that what the
// queues can hold survives the outage and every other record is counted
// as dropped. With -short the outage is 3 s instead of 30 s.
func TestCollectorOutage(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	outage := 30 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	bin := BuildCollector(t)
	runConcurrently(t, []string{"grpc", "http_protobuf"}, func(t *testing.T, i int) {
		testOutage(t, bin, protocols[i], outage)
	})
}

// runConcurrently runs one subtest per name, all at once, whatever
// -parallel says: the outage tests mostly wait, and waiting in turn would
// make the package take minutes.
func runConcurrently(t *testing.T, names []string, fn func(t *testing.T, i int)) {
	t.Helper()
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, func(t *testing.T) { fn(t, i) })
		}()
	}
	wg.Wait()
}

func testOutage(t *testing.T, bin, protocol string, outage time.Duration) {
	const (
		queue     = 100 // log records the exporter queues
		spanQueue = 40  // spans the exporter queues
		batch     = 25
		before    = 50  // handed while the Collector is up
		during    = 400 // handed while it is down: more than the queue holds
		after     = 50  // handed after it is back
		eachSpans = 5   // one lifetime per eachSpans events
	)
	fwd := StartForwarded(t)
	col := StartCollector(t, bin, fwd.URL)
	o := exporterOptions(col, protocol, SyntheticBoot)
	o.LogQueueSize, o.SpanQueueSize, o.BatchSize = queue, spanQueue, batch
	x, err := export.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	clock := semconv.Clock{BootWall: time.Now().Add(-time.Hour)}
	seq := 0
	emit := func(n int) {
		for i := 0; i < n; i++ {
			seq++
			p := semconv.Process{PID: int32(100000 + seq), TID: int32(100000 + seq), PPID: 1, Start: uint64(seq) * 1e8, Comm: "worker"}
			e := semconv.Event{Kind: semconv.KindFork, OS: semconv.OSLinux, BootNS: p.Start, Time: clock.Wall(p.Start), Process: p}
			x.Event(&e)
			if seq%eachSpans == 0 {
				x.Lifetime(&semconv.Lifetime{Process: p, Start: e.Time, End: e.Time.Add(time.Millisecond), Exited: true})
			}
		}
	}

	emit(before)
	if !fwd.WaitFor(10*time.Second, func(l, s int) bool { return l == before && s == before/eachSpans }) {
		l, s := fwd.Counts()
		t.Fatalf("before the outage: forwarded %d records and %d spans, want %d and %d", l, s, before, before/eachSpans)
	}

	col.Stop()
	start := time.Now()
	for i := 0; i < during; i += 10 {
		emit(10)
		time.Sleep(outage * 10 / during)
	}
	inOutage := x.Stats()
	t.Logf("%s after %v of outage: logs %+v, spans %+v", protocol, time.Since(start).Round(time.Millisecond), inOutage.LogTotals(), inOutage.Spans)
	// During the outage exactly a queue's worth was accepted.
	if n := inOutage.LogTotals().Handed - before; n != queue {
		t.Errorf("logs: %d records accepted during the outage, want the queue's %d", n, queue)
	}
	if n := inOutage.Spans.Handed - before/eachSpans; n != spanQueue {
		t.Errorf("spans: %d spans accepted during the outage, want the queue's %d", n, spanQueue)
	}
	col.Start()
	restarted := time.Now()
	// The queues drain once the exporter's retry reaches the Collector.
	deadline := time.Now().Add(time.Minute)
	for s := x.Stats(); s.LogTotals().Pending+s.Spans.Pending > 0; s = x.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("queues did not drain after the restart: logs %+v spans %+v", s.LogTotals(), s.Spans)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s: queues drained %v after the restart", protocol, time.Since(restarted).Round(time.Millisecond))
	emit(after)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := x.Close(ctx); err != nil {
		t.Fatalf("close exporter: %v", err)
	}
	st := x.Stats()
	logs, spans := st.LogTotals(), st.Spans
	t.Logf("%s final: logs %+v, spans %+v", protocol, logs, spans)

	total := before + during + after
	wantSpans := total / eachSpans
	gotLogs, gotSpans := fwd.Counts()
	check := func(what string, c export.Counts, handed, got int) {
		t.Helper()
		if c.Handed+c.DroppedQueueFull != uint64(handed) {
			t.Errorf("%s: handed %d + dropped %d != %d given", what, c.Handed, c.DroppedQueueFull, handed)
		}
		if c.DroppedExport != 0 || c.Pending != 0 || c.DroppedClosed != 0 {
			t.Errorf("%s: export drops %d, pending %d, closed %d: want none, the outage is shorter than RetryFor", what, c.DroppedExport, c.Pending, c.DroppedClosed)
		}
		if c.Exported != c.Handed {
			t.Errorf("%s: exported %d of %d handed", what, c.Exported, c.Handed)
		}
		if uint64(got) != c.Exported {
			t.Errorf("%s: the Collector forwarded %d, the exporter counted %d exported", what, got, c.Exported)
		}
		if c.DroppedQueueFull == 0 {
			t.Errorf("%s: nothing dropped although the outage overflowed the queue", what)
		}
	}
	check("logs", logs, total, gotLogs)
	check("spans", spans, wantSpans, gotSpans)
	// Everything the queues held through the outage arrived, and so did
	// everything before and after it.
	if gotLogs != before+queue+after {
		t.Errorf("logs: %d records arrived, want %d before + %d queued + %d after", gotLogs, before, queue, after)
	}
	if want := (before+after)/eachSpans + spanQueue; gotSpans != want {
		t.Errorf("spans: %d spans arrived, want %d", gotSpans, want)
	}
	// No record arrived twice, and each is one that was handed over.
	seen := map[int64]bool{}
	for _, l := range fwd.Logs() {
		var pid int64
		for _, kv := range l.Record.Attributes {
			if kv.Key == "process.pid" {
				pid = kv.Value.GetIntValue()
			}
		}
		if seen[pid] || pid <= 100000 || pid > int64(100000+total) {
			t.Errorf("record for pid %d duplicated or unknown", pid)
		}
		seen[pid] = true
	}
}
