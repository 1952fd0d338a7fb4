package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logpb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/procotel/procotel/semconv"
)

const testBoot = semconv.BootID("test-boot")

var bootWall = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// memLogs is a sender that decodes and keeps the log records it is
// given, with the resource of each. fail makes send return an error;
// block makes it wait for release.
type memLogs struct {
	mu      sync.Mutex
	records []*logpb.LogRecord
	res     []*resourcepb.Resource
	fail    bool
	block   chan struct{}
}

func (m *memLogs) send(ctx context.Context, body []byte) (partialSuccess, error) {
	return partialSuccess{}, m.receive(ctx, body)
}

func (m *memLogs) receive(ctx context.Context, body []byte) error {
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("collector down")
	}
	var req collogpb.ExportLogsServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return err
	}
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			if sl.Scope.GetName() != scopeName || sl.SchemaUrl != semconv.SchemaURL {
				return errors.New("wrong scope")
			}
			for _, r := range sl.LogRecords {
				m.records = append(m.records, r)
				m.res = append(m.res, rl.Resource)
			}
		}
	}
	return nil
}
func (*memLogs) close() error { return nil }

func (m *memLogs) all() []*logpb.LogRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*logpb.LogRecord(nil), m.records...)
}

// memSpans is a sender that decodes and keeps the spans it is given.
type memSpans struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (m *memSpans) send(_ context.Context, body []byte) (partialSuccess, error) {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return partialSuccess{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			m.spans = append(m.spans, ss.Spans...)
		}
	}
	return partialSuccess{}, nil
}
func (*memSpans) close() error { return nil }

func (m *memSpans) all() []*tracepb.Span {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*tracepb.Span(nil), m.spans...)
}

// mustExporter is newExporter for tests.
func mustExporter(t testing.TB, o Options, logs, spans sender) *Exporter {
	t.Helper()
	x, err := newExporter(o, logs, spans)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func testOptions() Options {
	return Options{Boot: testBoot, Logs: true, Traces: true, ExportInterval: 10 * time.Millisecond,
		RetryInitial: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Messages: io.Discard,
		Observer: semconv.Observer{HostName: "h1", OS: semconv.OSLinux}}.withDefaults()
}

func proc(pid, ppid int32, startS, parentStartS uint64, exe string) semconv.Process {
	return semconv.Process{PID: pid, TID: pid, PPID: ppid, Start: startS * 1e9, ParentStart: parentStartS * 1e9,
		PGID: 100, SID: 100, Comm: exe[strings.LastIndexByte(exe, '/')+1:], Exe: exe, Argv: []string{exe}}
}

func TestEventRecord(t *testing.T) {
	logs := &memLogs{}
	x := mustExporter(t, testOptions(), logs, nil)
	observed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	x.logs.now = func() time.Time { return observed }

	root := proc(100, 1, 10, 1, "/bin/sh")
	child := proc(101, 100, 11, 10, "/usr/bin/false")
	x.Event(&semconv.Event{Kind: semconv.KindExec, OS: semconv.OSLinux, Time: bootWall.Add(10 * time.Second), BootNS: 10e9, Process: root})
	e := semconv.Event{Kind: semconv.KindExit, OS: semconv.OSLinux, Time: bootWall.Add(12 * time.Second), BootNS: 12e9,
		Process: child, Lineage: semconv.Lineage{Root: root.Key()}, Exit: semconv.ExitInfo{Code: 1}}
	x.Event(&e)
	x.Event(&semconv.Event{Kind: semconv.KindExisting, Process: root})
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs := logs.all()
	if len(rs) != 2 {
		t.Fatalf("got %d records, want 2", len(rs))
	}
	r := rs[1]
	if r.EventName != "process.exit" || r.TimeUnixNano != uint64(e.Time.UnixNano()) || r.ObservedTimeUnixNano != uint64(observed.UnixNano()) ||
		r.SeverityNumber != logpb.SeverityNumber_SEVERITY_NUMBER_WARN || r.SeverityText != "WARN" || r.Body.GetStringValue() != "exit 1 (pid 101 false)" {
		t.Errorf("record = %s %v %v %v %s %q", r.EventName, r.TimeUnixNano, r.ObservedTimeUnixNano, r.SeverityNumber, r.SeverityText, r.Body.GetStringValue())
	}
	want := semconv.SpanContextIDs(testBoot, &child, semconv.Lineage{Root: root.Key()})
	if trace.TraceID(r.TraceId) != trace.TraceID(want.TraceID) || trace.SpanID(r.SpanId) != trace.SpanID(want.SpanID) || r.Flags != uint32(trace.FlagsSampled) {
		t.Errorf("record ids %x/%x, want %x/%x", r.TraceId, r.SpanId, want.TraceID, want.SpanID)
	}
	if trace.TraceID(r.TraceId) != trace.TraceID(semconv.TraceID(testBoot, root.Key())) {
		t.Error("child record is not in the root's trace")
	}
	checkAttrs(t, "record", r.Attributes, semconv.EventAttributes(&e, nil))
	if v := attrValue(logs.res[1].GetAttributes(), "service.name"); v.GetStringValue() != "procotel" {
		t.Errorf("resource service.name = %v", v)
	}
	s := x.Stats()
	if c := s.Logs[semconv.KindExit]; c.Handed != 1 || c.Exported != 1 || c.Pending != 0 || c.Dropped() != 0 {
		t.Errorf("exit counts = %+v", c)
	}
	if s.Unmapped != 1 {
		t.Errorf("Unmapped = %d, want 1", s.Unmapped)
	}
	x.Event(&e)
	if c := x.Stats().Logs[semconv.KindExit]; c.DroppedClosed != 1 {
		t.Errorf("event after Close not counted: %+v", c)
	}
}

// checkAttrs compares OTLP attributes with the mapping's, key by key and
// value by value, as the OTel SDK's exporters convert them.
func checkAttrs(t *testing.T, what string, got []*commonpb.KeyValue, want []attribute.KeyValue) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d attributes, mapping %d", what, len(got), len(want))
	}
	for _, kv := range want {
		if g := attrValue(got, string(kv.Key)); !proto.Equal(g, anyValuePB(kv.Value)) {
			t.Errorf("%s attribute %s = %v, want %v", what, kv.Key, g, kv.Value.String())
		}
	}
}

func attrValue(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func TestLifetimeSpans(t *testing.T) {
	spans := &memSpans{}
	x := mustExporter(t, testOptions(), &memLogs{}, spans)

	initP := proc(1, 0, 0, 0, "/sbin/init")
	root := proc(100, 1, 10, 0, "/bin/sh")
	root.ParentStart = 5e6 // init started 5 ms after boot
	initP.Start = 5e6
	child := proc(101, 100, 11, 10, "/usr/bin/make")
	grand := proc(102, 101, 12, 11, "/usr/bin/cc")

	// The root span links to its creator, init, from its lineage alone:
	// the exporter keeps no table of what it has seen.
	lt := func(p semconv.Process, start, end float64, exit semconv.ExitInfo) *semconv.Lifetime {
		return &semconv.Lifetime{Process: p, Lineage: semconv.Lineage{Root: root.Key(), Creator: p.ParentKey()}, Exited: true, Exit: exit,
			Start: bootWall.Add(time.Duration(start * 1e9)), End: bootWall.Add(time.Duration(end * 1e9))}
	}
	ls := []*semconv.Lifetime{
		lt(grand, 12, 13, semconv.ExitInfo{Signal: 9}),
		lt(child, 11, 14, semconv.ExitInfo{Code: 2}),
		lt(root, 10, 15, semconv.ExitInfo{}),
	}
	ls[2].Root = semconv.Key{} // sh roots the trace; its creator init roots its own
	for _, l := range ls {
		x.Lifetime(l)
	}
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := spans.all()
	if len(got) != 3 {
		t.Fatalf("got %d spans, want 3", len(got))
	}
	byName := map[string]*tracepb.Span{}
	for _, s := range got {
		byName[s.Name] = s
	}
	sh, mk, cc := byName["sh"], byName["make"], byName["cc"]
	traceID := trace.TraceID(semconv.TraceID(testBoot, root.Key()))
	for _, s := range []*tracepb.Span{sh, mk, cc} {
		if trace.TraceID(s.TraceId) != traceID {
			t.Errorf("%s trace = %x, want %s", s.Name, s.TraceId, traceID)
		}
		if s.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
			t.Errorf("%s kind = %v", s.Name, s.Kind)
		}
	}
	if trace.SpanID(sh.SpanId) != trace.SpanID(semconv.SpanID(testBoot, root.Key())) || len(sh.ParentSpanId) != 0 {
		t.Errorf("root span id %x parent %x", sh.SpanId, sh.ParentSpanId)
	}
	if !bytes.Equal(mk.ParentSpanId, sh.SpanId) || !bytes.Equal(cc.ParentSpanId, mk.SpanId) {
		t.Error("parent links wrong")
	}
	if len(sh.Links) != 1 || trace.SpanID(sh.Links[0].SpanId) != trace.SpanID(semconv.SpanID(testBoot, initP.Key())) ||
		trace.TraceID(sh.Links[0].TraceId) != trace.TraceID(semconv.TraceID(testBoot, initP.Key())) {
		t.Errorf("root links = %+v, want init's span", sh.Links)
	}
	if len(mk.Links)+len(cc.Links) != 0 {
		t.Error("non-root spans have links")
	}
	if mk.StartTimeUnixNano != uint64(ls[1].Start.UnixNano()) || mk.EndTimeUnixNano != uint64(ls[1].End.UnixNano()) {
		t.Errorf("make times %v..%v, want %v..%v", mk.StartTimeUnixNano, mk.EndTimeUnixNano, ls[1].Start, ls[1].End)
	}
	if mk.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || mk.Status.GetMessage() != "exit code 2" ||
		cc.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || cc.Status.GetMessage() != "killed by SIGKILL" || sh.Status.GetCode() != tracepb.Status_STATUS_CODE_UNSET {
		t.Errorf("statuses: make %+v cc %+v sh %+v", mk.Status, cc.Status, sh.Status)
	}
	errType := func(s *tracepb.Span) string { return attrValue(s.Attributes, "error.type").GetStringValue() }
	if errType(mk) != "exit_code:2" || errType(cc) != "SIGKILL" || errType(sh) != "" {
		t.Errorf("error.type: make %q cc %q sh %q", errType(mk), errType(cc), errType(sh))
	}
	checkAttrs(t, "make span", mk.Attributes, semconv.LifetimeAttributes(ls[1], nil))
	if c := x.Stats().Spans; c.Handed != 3 || c.Exported != 3 || c.Pending != 0 {
		t.Errorf("span counts = %+v", c)
	}
}

func TestQueueFullCounted(t *testing.T) {
	logs := &memLogs{block: make(chan struct{})}
	o := testOptions()
	o.LogQueueSize, o.BatchSize = 8, 4
	x := mustExporter(t, o, logs, nil)
	p := proc(5, 1, 1, 0, "/bin/true")
	const n = 50
	for i := 0; i < n; i++ {
		x.Event(&semconv.Event{Kind: semconv.KindExec, Process: p, Time: bootWall})
	}
	s := x.Stats().Logs[semconv.KindExec]
	if s.Handed != 8 || s.DroppedQueueFull != n-8 {
		t.Errorf("while blocked: %+v, want 8 handed, %d dropped", s, n-8)
	}
	close(logs.block)
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = x.Stats().Logs[semconv.KindExec]
	if s.Exported != 8 || s.Exported+s.Dropped() != n || len(logs.all()) != 8 {
		t.Errorf("after close: %+v, %d received", s, len(logs.all()))
	}
}

// TestQueueBytesBound: records of a long command line fill the queue's
// bytes long before its record count; the rest are dropped as queue_full,
// and the bytes are free again once the queue is exported.
func TestQueueBytesBound(t *testing.T) {
	logs := &memLogs{block: make(chan struct{})}
	o := testOptions()
	o.LogQueueSize, o.QueueBytes = 1000, 64<<10
	x := mustExporter(t, o, logs, nil)
	p := proc(5, 1, 1, 0, "/bin/true")
	p.Argv = []string{"/bin/true", strings.Repeat("a", 8<<10)}
	const n = 50
	wave := func() {
		for i := 0; i < n; i++ {
			x.Event(&semconv.Event{Kind: semconv.KindExec, Process: p, Time: bootWall})
		}
	}
	wave()
	s := x.Stats().Logs[semconv.KindExec]
	// Each record holds more than 8 KiB: at most 7 fit in 64 KiB.
	if s.Handed == 0 || s.Handed > 7 || s.DroppedQueueFull != n-s.Handed {
		t.Fatalf("while blocked: %+v, want 1 to 7 handed within 64 KiB, the rest dropped", s)
	}
	first := s.Handed
	close(logs.block)
	for deadline := time.Now().Add(10 * time.Second); x.Stats().Logs[semconv.KindExec].Pending != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("queue not exported: %+v", x.Stats().Logs[semconv.KindExec])
		}
		time.Sleep(5 * time.Millisecond)
	}
	wave()
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = x.Stats().Logs[semconv.KindExec]
	if s.Handed <= first || s.Exported != s.Handed || s.DroppedQueueFull != 2*n-s.Handed || len(logs.all()) != int(s.Handed) {
		t.Errorf("after close: %+v, %d received; want the second wave handed too, every handed record received", s, len(logs.all()))
	}
}

func TestExportErrorCounted(t *testing.T) {
	logs := &memLogs{fail: true}
	o := testOptions()
	o.RetryFor = 300 * time.Millisecond
	x := mustExporter(t, o, logs, nil)
	p := proc(5, 1, 1, 0, "/bin/true")
	for i := 0; i < 3; i++ {
		x.Event(&semconv.Event{Kind: semconv.KindFork, Process: p, Time: bootWall})
	}
	deadline := time.Now().Add(5 * time.Second)
	for x.Stats().Logs[semconv.KindFork].DroppedExport != 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := x.Stats().Logs[semconv.KindFork]; s.DroppedExport != 3 || s.Pending != 0 {
		t.Errorf("counts = %+v, want 3 dropped on export", s)
	}
	_ = x.Close(context.Background())
}

func TestNewErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		o    Options
		want string
	}{
		{Options{Logs: true, Protocol: "thrift"}, `unknown OTLP protocol "thrift"`},
		{Options{}, "neither logs nor traces"},
		{Options{Logs: true, Endpoint: "localhost"}, "want host:port"},
		{Options{Logs: true, Endpoint: "ftp://h:1"}, `unsupported scheme "ftp"`},
		{Options{Logs: true, Endpoint: "http://h"}, "missing port"},
		{Options{Logs: true, Endpoint: "http://h:4317/x"}, "grpc endpoint has no path"},
		{Options{Logs: true, Endpoint: "https://h:4317", Insecure: true}, "insecure"},
		{Options{Logs: true, TLS: TLSOptions{CAFile: "/nonexistent/ca.pem"}}, "read CA file"},
		{Options{Logs: true, TLS: TLSOptions{CertFile: "c.pem"}}, "both a certificate and a key"},
	}
	for _, c := range cases {
		_, err := New(ctx, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", c.o, err, c.want)
		}
	}
	for _, o := range []Options{
		{Logs: true, Traces: true, Endpoint: "127.0.0.1:4317", Insecure: true},
		{Logs: true, Protocol: ProtocolHTTP, Endpoint: "http://127.0.0.1:4318/otlp"},
		{Traces: true, Protocol: ProtocolHTTP},
	} {
		x, err := New(ctx, o)
		if err != nil {
			t.Errorf("New(%+v): %v", o, err)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = x.Close(cctx)
		cancel()
	}
	o := Options{Protocol: ProtocolHTTP, Endpoint: "https://h:443/prefix/"}.withDefaults()
	if c, err := o.resolve(signalLogs); err != nil || c.url != "https://h:443/prefix/v1/logs" || c.target.insecure {
		t.Errorf("resolve = %+v, %v", c, err)
	}
}

// discardLogs is a sender that keeps nothing.
type discardLogs struct{}

func (discardLogs) send(context.Context, []byte) (partialSuccess, error) {
	return partialSuccess{}, nil
}
func (discardLogs) close() error { return nil }

// BenchmarkEventToRecord measures the per-event hot path: mapping, record
// encoding and hand-off to the queue.
func BenchmarkEventToRecord(b *testing.B) {
	x := mustExporter(b, testOptions(), discardLogs{}, nil)
	defer x.Close(context.Background())
	e := semconv.Event{Kind: semconv.KindExec, OS: semconv.OSLinux, Time: bootWall, BootNS: 20e9,
		Process: proc(4242, 100, 19, 10, "/usr/bin/ls")}
	e.Process.Argv = []string{"ls", "-la", "/tmp"}
	e.Process.Cwd = "/home/u"
	e.Lineage = semconv.Lineage{Root: semconv.KeyOf(100, 10e9)}
	b.ReportAllocs()
	for b.Loop() {
		x.Event(&e)
	}
	b.StopTimer()
	// Drops (the export goroutine falling behind) take the cheap path;
	// report them so a fast result is not mistaken for a fast hand-off.
	s := x.Stats().Logs[semconv.KindExec]
	b.ReportMetric(float64(s.DroppedQueueFull)/float64(b.N), "dropped/op")
}

// TestDropsByReason: each reason that dropped records, with its count,
// in DropReasons order; none when nothing was dropped.
func TestDropsByReason(t *testing.T) {
	if got := (Counts{Handed: 5, Exported: 5}).DropsByReason(); len(got) != 0 {
		t.Errorf("nothing dropped: %q", got)
	}
	c := Counts{DroppedRejected: 2, DroppedQueueFull: 3946, DroppedClosed: 1}
	want := []string{"queue_full 3946", "rejected 2", "closed 1"}
	if got := c.DropsByReason(); !slices.Equal(got, want) {
		t.Errorf("DropsByReason() = %q, want %q", got, want)
	}
}
