package export

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/procotel/procotel/semconv"
)

// captureHTTP is an OTLP/HTTP server keeping the request bodies.
type captureHTTP struct {
	mu     sync.Mutex
	bodies map[string][][]byte
	srv    *httptest.Server
}

func startCapture(t *testing.T) *captureHTTP {
	c := &captureHTTP{bodies: map[string][][]byte{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.bodies[r.URL.Path] = append(c.bodies[r.URL.Path], b)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *captureHTTP) get(path string) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bodies[path]
}

// wireEvents covers every kind, with and without the optional fields.
func wireEvents() ([]semconv.Event, []semconv.Lifetime) {
	root := proc(100, 1, 10, 1, "/bin/sh")
	child := proc(101, 100, 11, 10, "/usr/bin/false")
	child.Argv = []string{"false", "--x", "ünï"}
	child.Cwd, child.TTY, child.CgroupID, child.CgroupPath, child.NSPID = "/tmp", "pts/3", 77, "/a/b", 5
	child.ContainerID, child.ArgvTruncated = "abc123", true
	lin := semconv.Lineage{Root: root.Key()}
	tp := semconv.Lineage{TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}
	at := func(s float64) time.Time { return bootWall.Add(time.Duration(s * 1e9)) }
	evs := []semconv.Event{
		{Kind: semconv.KindFork, OS: semconv.OSLinux, Time: at(11), BootNS: 11e9, Process: child, Lineage: lin, Fork: semconv.ForkInfo{CloneFlags: 0x1200011, ParentTID: 100}},
		{Kind: semconv.KindExec, OS: semconv.OSLinux, Time: at(11.1), BootNS: 11.1e9, Process: child, Lineage: lin, Exec: semconv.ExecInfo{Filename: "/usr/bin/false", Interpreter: "/bin/sh", OldTID: 102}},
		{Kind: semconv.KindExecFailed, OS: semconv.OSLinux, Time: at(11.2), BootNS: 11.2e9, Process: child, Lineage: tp, Exec: semconv.ExecInfo{Filename: "/nope", Errno: 2, Argv: []string{"/nope", ""}, ArgvTruncated: true}},
		{Kind: semconv.KindExit, OS: semconv.OSLinux, Time: at(12), BootNS: 12e9, Process: child, Lineage: lin, Exit: semconv.ExitInfo{Signal: 11, CoreDumped: true}},
		{Kind: semconv.KindReap, OS: semconv.OSLinux, Time: at(12.5), BootNS: 12.5e9, Process: child, Lineage: lin, Reap: semconv.ReapInfo{ReaperPID: 100}},
		{Kind: semconv.KindSignal, OS: semconv.OSLinux, Time: at(13), BootNS: 13e9, Process: root, Signal: semconv.SignalInfo{Signo: 15, SenderPID: 7, SenderComm: "kill", TargetTID: 100, Outcome: 1}},
		{Kind: semconv.KindExit, OS: semconv.OSLinux, Process: root}, // no time at all
	}
	lts := []semconv.Lifetime{
		{Process: child, Lineage: lin, OS: semconv.OSLinux, Start: at(11), End: at(12), Exited: true, Exit: semconv.ExitInfo{Code: 3}, Children: 2},
		{Process: root, Lineage: semconv.Lineage{Creator: root.ParentKey()}, OS: semconv.OSLinux, Start: at(10), End: at(14), Exited: true, Exit: semconv.ExitInfo{Signal: 9}},
		{Process: root, Lineage: tp, Start: at(10), End: at(9), Incomplete: true, Seeded: true},
	}
	return evs, lts
}

// sdkLogs sends evs through the OTel SDK as the exporter did before it
// encoded records itself.
func sdkLogs(t *testing.T, o Options, url string, observed time.Time, evs []semconv.Event) {
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL(url+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	res := newResource(o)
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res.res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
		sdklog.WithAllowKeyDuplication(), sdklog.WithAttributeCountLimit(-1))
	logger := lp.Logger(scopeName, otellog.WithInstrumentationVersion(res.version), otellog.WithSchemaURL(semconv.SchemaURL))
	for i := range evs {
		e := &evs[i]
		ids := semconv.SpanContextIDs(o.Boot, &e.Process, e.Lineage)
		var r otellog.Record
		r.SetEventName(semconv.EventName(e.Kind))
		r.SetTimestamp(e.Time)
		r.SetObservedTimestamp(observed)
		num, text := semconv.EventSeverity(e)
		r.SetSeverity(otellog.Severity(num))
		r.SetSeverityText(text)
		r.SetBody(attribute.StringValue(semconv.EventBody(e)))
		r.AddAttributes(semconv.EventAttributes(e, nil)...)
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: ids.TraceID, SpanID: ids.SpanID, TraceFlags: trace.TraceFlags(ids.TraceFlags)}))
		logger.Emit(ctx, r)
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// sdkSpans sends lts through the OTel SDK as the exporter did before.
func sdkSpans(t *testing.T, o Options, url string, lts []semconv.Lifetime) {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(url+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	res := newResource(o)
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res.res), sdktrace.WithSyncer(exp),
		sdktrace.WithIDGenerator(fixedIDs{}), sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{AttributeValueLengthLimit: -1, AttributeCountLimit: -1, LinkCountLimit: 1}))
	tracer := tp.Tracer(scopeName, trace.WithInstrumentationVersion(res.version), trace.WithSchemaURL(semconv.SchemaURL))
	for i := range lts {
		l := &lts[i]
		ids := semconv.SpanContextIDs(o.Boot, &l.Process, l.Lineage)
		ctx := context.WithValue(context.Background(), idsKey{}, &ids)
		if ids.ParentSpanID != ([8]byte{}) {
			ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: ids.TraceID, SpanID: ids.ParentSpanID, TraceFlags: trace.FlagsSampled, Remote: true}))
		}
		opts := []trace.SpanStartOption{trace.WithTimestamp(l.Start), trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(semconv.LifetimeAttributes(l, nil)...)}
		if ids.HasLink {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: ids.LinkTraceID, SpanID: ids.LinkSpanID, TraceFlags: trace.FlagsSampled, Remote: true})}))
		}
		_, span := tracer.Start(ctx, semconv.SpanName(l), opts...)
		if isErr, _, desc := semconv.SpanStatus(l); isErr {
			span.SetStatus(codes.Error, desc)
		}
		end := l.End
		if end.Before(l.Start) {
			end = l.Start
		}
		span.End(trace.WithTimestamp(end))
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type idsKey struct{}

// fixedIDs hands the SDK the ids derived by semconv, carried in ctx.
type fixedIDs struct{}

func (fixedIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	ids := ctx.Value(idsKey{}).(*semconv.SpanIDs)
	return ids.TraceID, ids.SpanID
}

func (fixedIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	return ctx.Value(idsKey{}).(*semconv.SpanIDs).SpanID
}

func sortAttrs(kvs []*commonpb.KeyValue) {
	slices.SortFunc(kvs, func(a, b *commonpb.KeyValue) int { return strings.Compare(a.Key, b.Key) })
}

// TestWireMatchesSDK checks that the hand-written encoding decodes to the
// very messages the OTel SDK's OTLP exporters sent for the same events
// and lifetimes: resource, scope, every field of every record and span.
// Only attribute order may differ.
func TestWireMatchesSDK(t *testing.T) {
	o := testOptions()
	o.Observer.ServiceVersion = "v1.2.3"
	o.ResourceAttributes = []attribute.KeyValue{attribute.String("deployment.environment.name", "test"), attribute.StringSlice("x.list", []string{"a", "b"}),
		attribute.Float64("x.f", 1.5), attribute.String("host.name", "override")}
	evs, lts := wireEvents()
	observed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	sdk := startCapture(t)
	sdkLogs(t, o, sdk.srv.URL, observed, evs)
	sdkSpans(t, o, sdk.srv.URL, lts)

	ours := startCapture(t)
	o.Protocol, o.Endpoint = ProtocolHTTP, ours.srv.URL
	x, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	x.logs.now = func() time.Time { return observed }
	for i := range evs {
		x.Event(&evs[i])
	}
	for i := range lts {
		x.Lifetime(&lts[i])
	}
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The SDK sent one request per record (a simple processor); merge
	// them into one for the comparison.
	var wantLogs, gotLogs collogpb.ExportLogsServiceRequest
	for i, b := range sdk.get("/v1/logs") {
		var r collogpb.ExportLogsServiceRequest
		if err := proto.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			wantLogs.ResourceLogs = r.ResourceLogs
			continue
		}
		sl := wantLogs.ResourceLogs[0].ScopeLogs[0]
		sl.LogRecords = append(sl.LogRecords, r.ResourceLogs[0].ScopeLogs[0].LogRecords...)
	}
	bodies := ours.get("/v1/logs")
	if len(bodies) != 1 {
		t.Fatalf("%d log requests, want 1", len(bodies))
	}
	if err := proto.Unmarshal(bodies[0], &gotLogs); err != nil {
		t.Fatal(err)
	}
	for _, req := range []*collogpb.ExportLogsServiceRequest{&wantLogs, &gotLogs} {
		for _, rl := range req.ResourceLogs {
			sortAttrs(rl.Resource.Attributes)
			for _, sl := range rl.ScopeLogs {
				for _, r := range sl.LogRecords {
					sortAttrs(r.Attributes)
				}
			}
		}
	}
	if len(wantLogs.ResourceLogs[0].ScopeLogs[0].LogRecords) != len(evs) {
		t.Fatalf("the SDK sent %d records, want %d", len(wantLogs.ResourceLogs[0].ScopeLogs[0].LogRecords), len(evs))
	}
	if !proto.Equal(&wantLogs, &gotLogs) {
		t.Errorf("logs differ from the SDK's:\n got %v\nwant %v", &gotLogs, &wantLogs)
	}

	var wantSpans, gotSpans coltracepb.ExportTraceServiceRequest
	for i, b := range sdk.get("/v1/traces") {
		var r coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			wantSpans.ResourceSpans = r.ResourceSpans
			continue
		}
		ss := wantSpans.ResourceSpans[0].ScopeSpans[0]
		ss.Spans = append(ss.Spans, r.ResourceSpans[0].ScopeSpans[0].Spans...)
	}
	bodies = ours.get("/v1/traces")
	if len(bodies) != 1 {
		t.Fatalf("%d trace requests, want 1", len(bodies))
	}
	if err := proto.Unmarshal(bodies[0], &gotSpans); err != nil {
		t.Fatal(err)
	}
	for _, req := range []*coltracepb.ExportTraceServiceRequest{&wantSpans, &gotSpans} {
		for _, rs := range req.ResourceSpans {
			sortAttrs(rs.Resource.Attributes)
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					sortAttrs(s.Attributes)
				}
			}
		}
	}
	if len(wantSpans.ResourceSpans[0].ScopeSpans[0].Spans) != len(lts) {
		t.Fatalf("the SDK sent %d spans, want %d", len(wantSpans.ResourceSpans[0].ScopeSpans[0].Spans), len(lts))
	}
	if !proto.Equal(&wantSpans, &gotSpans) {
		t.Errorf("spans differ from the SDK's:\n got %v\nwant %v", &gotSpans, &wantSpans)
	}
}

// TestInvalidUTF8 checks that a record and a span whose executable path,
// argv, cwd and name hold bytes that are not UTF-8 decode with the
// protobuf library (which rejects invalid strings) and show U+FFFD
// where the bad bytes were.
func TestInvalidUTF8(t *testing.T) {
	logs, spans := &memLogs{}, &memSpans{}
	x := mustExporter(t, testOptions(), logs, spans)
	p := proc(7, 1, 1, 0, "/tmp/caf\xe9")
	p.Argv = []string{"/tmp/caf\xe9", "a\xff\xfeb", "ok\u00e9"}
	p.Cwd = "/home/\xc3"
	x.Event(&semconv.Event{Kind: semconv.KindExec, OS: semconv.OSLinux, Time: bootWall, Process: p,
		Exec: semconv.ExecInfo{Filename: "/tmp/caf\xe9"}})
	x.Lifetime(&semconv.Lifetime{Process: p, OS: semconv.OSLinux, Start: bootWall, End: bootWall.Add(time.Second),
		Exited: true, Exit: semconv.ExitInfo{Code: 3}})
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := x.Stats(); s.LogTotals().Exported != 1 || s.Spans.Exported != 1 {
		t.Fatalf("not decoded: logs %+v, spans %+v", s.LogTotals(), s.Spans)
	}
	r, sp := logs.all()[0], spans.all()[0]
	for _, kvs := range [][]*commonpb.KeyValue{r.Attributes, sp.Attributes} {
		if v := attrValue(kvs, "process.executable.path").GetStringValue(); v != "/tmp/caf\uFFFD" {
			t.Errorf("process.executable.path = %q", v)
		}
		var args []string
		for _, v := range attrValue(kvs, "process.command_args").GetArrayValue().GetValues() {
			args = append(args, v.GetStringValue())
		}
		if want := []string{"/tmp/caf\uFFFD", "a\uFFFD\uFFFDb", "ok\u00e9"}; !slices.Equal(args, want) {
			t.Errorf("process.command_args = %q, want %q", args, want)
		}
	}
	if !utf8.ValidString(r.Body.GetStringValue()) || !utf8.ValidString(sp.Name) || !strings.Contains(sp.Name, "\uFFFD") {
		t.Errorf("body %q, span name %q", r.Body.GetStringValue(), sp.Name)
	}
	if got := validString("valid \u00e9 \uFFFD"); got != "valid \u00e9 \uFFFD" {
		t.Errorf("valid string changed: %q", got)
	}
}
