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
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/procotel/procotel/internal/otelcoltest"
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
	// One provider per Resource: the host's, and one per container.
	loggers := map[semconv.ResourceKey]otellog.Logger{}
	var providers []*sdklog.LoggerProvider
	loggerOf := func(key semconv.ResourceKey) otellog.Logger {
		if l, ok := loggers[key]; ok {
			return l
		}
		r := resourceOf(t, res.res, key)
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(r), sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
			sdklog.WithAllowKeyDuplication(), sdklog.WithAttributeCountLimit(-1))
		providers = append(providers, lp)
		l := lp.Logger(scopeName, otellog.WithInstrumentationVersion(res.version), otellog.WithSchemaURL(semconv.SchemaURL))
		loggers[key] = l
		return l
	}
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
		loggerOf(semconv.ResourceKeyOf(&e.Process)).Emit(ctx, r)
	}
	for _, lp := range providers {
		if err := lp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// sdkSpans sends lts through the OTel SDK as the exporter did before.
func sdkSpans(t *testing.T, o Options, url string, lts []semconv.Lifetime) {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(url+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	res := newResource(o)
	tracers := map[semconv.ResourceKey]trace.Tracer{}
	var providers []*sdktrace.TracerProvider
	tracerOf := func(key semconv.ResourceKey) trace.Tracer {
		if tr, ok := tracers[key]; ok {
			return tr
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(resourceOf(t, res.res, key)), sdktrace.WithSyncer(exp),
			sdktrace.WithIDGenerator(fixedIDs{}), sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{AttributeValueLengthLimit: -1, AttributeCountLimit: -1, LinkCountLimit: 1}))
		providers = append(providers, tp)
		tr := tp.Tracer(scopeName, trace.WithInstrumentationVersion(res.version), trace.WithSchemaURL(semconv.SchemaURL))
		tracers[key] = tr
		return tr
	}
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
		_, span := tracerOf(semconv.ResourceKeyOf(&l.Process)).Start(ctx, semconv.SpanName(l), opts...)
		if isErr, _, desc := semconv.SpanStatus(l); isErr {
			span.SetStatus(codes.Error, desc)
		}
		end := l.End
		if end.Before(l.Start) {
			end = l.Start
		}
		span.End(trace.WithTimestamp(end))
	}
	for _, tp := range providers {
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// resourceOf is the SDK Resource of key: the observer's, with a
// container's attributes on top.
func resourceOf(t *testing.T, base *resource.Resource, key semconv.ResourceKey) *resource.Resource {
	if key.IsHost() {
		return base
	}
	r, err := resource.Merge(base, resource.NewWithAttributes(base.SchemaURL(), key.Attributes(nil)...))
	if err != nil {
		t.Fatal(err)
	}
	return r
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
	// them, and ours, into one list of records per Resource.
	wantLogs, gotLogs := otelcoltest.LogsByResource(t, sdk.get("/v1/logs"), false), otelcoltest.LogsByResource(t, ours.get("/v1/logs"), false)
	n := 0
	for _, rl := range wantLogs {
		n += len(rl.ScopeLogs[0].LogRecords)
	}
	if n != len(evs) || len(wantLogs) != 2 {
		t.Fatalf("the SDK sent %d records under %d resources, want %d under 2 (the host's and the container's)", n, len(wantLogs), len(evs))
	}
	if len(gotLogs) != len(wantLogs) {
		t.Fatalf("%d log resources, want %d", len(gotLogs), len(wantLogs))
	}
	for key, want := range wantLogs {
		if got := gotLogs[key]; !proto.Equal(want, got) {
			t.Errorf("logs differ from the SDK's:\n got %v\nwant %v", got, want)
		}
	}
	wantSpans, gotSpans := otelcoltest.SpansByResource(t, sdk.get("/v1/traces")), otelcoltest.SpansByResource(t, ours.get("/v1/traces"))
	n = 0
	for _, rs := range wantSpans {
		n += len(rs.ScopeSpans[0].Spans)
	}
	if n != len(lts) || len(wantSpans) != 2 {
		t.Fatalf("the SDK sent %d spans under %d resources, want %d under 2", n, len(wantSpans), len(lts))
	}
	if len(gotSpans) != len(wantSpans) {
		t.Fatalf("%d span resources, want %d", len(gotSpans), len(wantSpans))
	}
	for key, want := range wantSpans {
		if got := gotSpans[key]; !proto.Equal(want, got) {
			t.Errorf("spans differ from the SDK's:\n got %v\nwant %v", got, want)
		}
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
