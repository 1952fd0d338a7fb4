package export

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/procotel/procotel/semconv"
)

const testBoot = semconv.BootID("test-boot")

var bootWall = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// memLogs is an sdklog.Exporter that keeps what it is given. fail makes
// Export return an error; block makes it wait for release.
type memLogs struct {
	mu      sync.Mutex
	records []sdklog.Record
	fail    bool
	block   chan struct{}
}

func (m *memLogs) Export(ctx context.Context, rs []sdklog.Record) error {
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
	for _, r := range rs {
		m.records = append(m.records, r.Clone())
	}
	return nil
}
func (*memLogs) Shutdown(context.Context) error   { return nil }
func (*memLogs) ForceFlush(context.Context) error { return nil }

func (m *memLogs) all() []sdklog.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdklog.Record(nil), m.records...)
}

func testOptions() Options {
	return Options{Boot: testBoot, Logs: true, Traces: true, ExportInterval: 10 * time.Millisecond,
		Observer: semconv.Observer{HostName: "h1", OS: semconv.OSLinux}}.withDefaults()
}

func proc(pid, ppid int32, startS, parentStartS uint64, exe string) semconv.Process {
	return semconv.Process{PID: pid, TID: pid, PPID: ppid, Start: startS * 1e9, ParentStart: parentStartS * 1e9,
		PGID: 100, SID: 100, Comm: exe[strings.LastIndexByte(exe, '/')+1:], Exe: exe, Argv: []string{exe}}
}

func TestEventRecord(t *testing.T) {
	logs := &memLogs{}
	x := newExporter(testOptions(), logs, nil)
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
	if r.EventName() != "process.exit" || !r.Timestamp().Equal(e.Time) || !r.ObservedTimestamp().Equal(observed) ||
		r.Severity() != otellog.SeverityWarn1 || r.SeverityText() != "WARN" || r.Body().AsString() != "exit 1 (pid 101 false)" {
		t.Errorf("record = %s %v %v %v %s %q", r.EventName(), r.Timestamp(), r.ObservedTimestamp(), r.Severity(), r.SeverityText(), r.Body().AsString())
	}
	want := semconv.SpanContextIDs(testBoot, &child, semconv.Lineage{Root: root.Key()})
	if r.TraceID() != trace.TraceID(want.TraceID) || r.SpanID() != trace.SpanID(want.SpanID) || r.TraceFlags() != trace.FlagsSampled {
		t.Errorf("record ids %s/%s, want %x/%x", r.TraceID(), r.SpanID(), want.TraceID, want.SpanID)
	}
	if r.TraceID() != trace.TraceID(semconv.TraceID(testBoot, root.Key())) {
		t.Error("child record is not in the root's trace")
	}
	got := map[string]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool { got[string(kv.Key)] = kv.Value.Emit(); return true })
	wantAttrs := semconv.EventAttributes(&e, nil)
	if len(got) != len(wantAttrs) {
		t.Errorf("record has %d attributes, mapping %d", len(got), len(wantAttrs))
	}
	for _, kv := range wantAttrs {
		if got[string(kv.Key)] != kv.Value.Emit() {
			t.Errorf("attribute %s = %q, want %q", kv.Key, got[string(kv.Key)], kv.Value.Emit())
		}
	}
	if v, _ := r.Resource().Set().Value("service.name"); v.AsString() != "procotel" {
		t.Errorf("resource service.name = %q", v.AsString())
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

func TestLifetimeSpans(t *testing.T) {
	spans := keepSpans{tracetest.NewInMemoryExporter()}
	x := newExporter(testOptions(), &memLogs{}, spans)

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
	got := spans.GetSpans()
	if len(got) != 3 {
		t.Fatalf("got %d spans, want 3", len(got))
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range got {
		byName[s.Name] = s
	}
	sh, mk, cc := byName["sh"], byName["make"], byName["cc"]
	traceID := trace.TraceID(semconv.TraceID(testBoot, root.Key()))
	for _, s := range []tracetest.SpanStub{sh, mk, cc} {
		if s.SpanContext.TraceID() != traceID {
			t.Errorf("%s trace = %s, want %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
		if s.SpanKind != trace.SpanKindInternal {
			t.Errorf("%s kind = %v", s.Name, s.SpanKind)
		}
	}
	if sh.SpanContext.SpanID() != trace.SpanID(semconv.SpanID(testBoot, root.Key())) || sh.Parent.IsValid() {
		t.Errorf("root span id %s parent %v", sh.SpanContext.SpanID(), sh.Parent)
	}
	if mk.Parent.SpanID() != sh.SpanContext.SpanID() || cc.Parent.SpanID() != mk.SpanContext.SpanID() {
		t.Error("parent links wrong")
	}
	if len(sh.Links) != 1 || sh.Links[0].SpanContext.SpanID() != trace.SpanID(semconv.SpanID(testBoot, initP.Key())) ||
		sh.Links[0].SpanContext.TraceID() != trace.TraceID(semconv.TraceID(testBoot, initP.Key())) {
		t.Errorf("root links = %+v, want init's span", sh.Links)
	}
	if len(mk.Links)+len(cc.Links) != 0 {
		t.Error("non-root spans have links")
	}
	if !mk.StartTime.Equal(ls[1].Start) || !mk.EndTime.Equal(ls[1].End) {
		t.Errorf("make times %v..%v, want %v..%v", mk.StartTime, mk.EndTime, ls[1].Start, ls[1].End)
	}
	if mk.Status.Code != codes.Error || mk.Status.Description != "exit code 2" ||
		cc.Status.Code != codes.Error || cc.Status.Description != "killed by SIGKILL" || sh.Status.Code != codes.Unset {
		t.Errorf("statuses: make %+v cc %+v sh %+v", mk.Status, cc.Status, sh.Status)
	}
	errType := func(s tracetest.SpanStub) string {
		for _, kv := range s.Attributes {
			if kv.Key == "error.type" {
				return kv.Value.AsString()
			}
		}
		return ""
	}
	if errType(mk) != "exit_code:2" || errType(cc) != "SIGKILL" || errType(sh) != "" {
		t.Errorf("error.type: make %q cc %q sh %q", errType(mk), errType(cc), errType(sh))
	}
	if c := x.Stats().Spans; c.Handed != 3 || c.Exported != 3 || c.Pending != 0 {
		t.Errorf("span counts = %+v", c)
	}
}

func TestQueueFullCounted(t *testing.T) {
	logs := &memLogs{block: make(chan struct{})}
	o := testOptions()
	o.LogQueueSize, o.BatchSize = 8, 4
	x := newExporter(o, logs, nil)
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

func TestExportErrorCounted(t *testing.T) {
	logs := &memLogs{fail: true}
	o := testOptions()
	o.RetryFor = 300 * time.Millisecond
	x := newExporter(o, logs, nil)
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
	if tg, err := o.resolveTarget(); err != nil || tg.pathPrefix != "/prefix" || tg.insecure || tg.hostPort != "h:443" {
		t.Errorf("resolveTarget = %+v, %v", tg, err)
	}
}

// discardLogs is an exporter that keeps nothing.
type discardLogs struct{}

func (discardLogs) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogs) Shutdown(context.Context) error                { return nil }
func (discardLogs) ForceFlush(context.Context) error              { return nil }

// BenchmarkEventToRecord measures the per-event hot path: mapping, record
// build and hand-off to the SDK queue.
func BenchmarkEventToRecord(b *testing.B) {
	x := newExporter(testOptions(), discardLogs{}, nil)
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

// keepSpans keeps the spans past Shutdown, which InMemoryExporter resets.
type keepSpans struct{ *tracetest.InMemoryExporter }

func (keepSpans) Shutdown(context.Context) error { return nil }

var _ sdktrace.SpanExporter = keepSpans{}
