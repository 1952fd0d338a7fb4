//go:build linux || freebsd

package collector

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/collector/internal/metadata"
	"github.com/procotel/procotel/semconv"
)

// countingFactory wraps a backend factory and counts the backends it made
// and how many of them were started.
type countingFactory struct {
	made, started atomic.Int64
}

func (c *countingFactory) wrap(f backends.Factory) backends.Factory {
	inner := f.New
	f.New = func(source string, opts backends.Options) (backends.Backend, error) {
		b, err := inner(source, opts)
		if err != nil {
			return nil, err
		}
		c.made.Add(1)
		return &countingBackend{Backend: b, started: &c.started}, nil
	}
	return f
}

type countingBackend struct {
	backends.Backend
	started *atomic.Int64
}

func (b *countingBackend) Start(ctx context.Context) error {
	b.started.Add(1)
	return b.Backend.Start(ctx)
}

func replayConfig(path string) *Config {
	cfg := createDefaultConfig()
	cfg.Backend = "replay:" + path
	cfg.Delivery.FlushInterval = 20 * time.Millisecond
	return cfg
}

// startBoth creates the logs and the traces receiver of one
// configuration, as the Collector does for a receiver used by two
// pipelines, and starts both.
func startBoth(t *testing.T, f receiver.Factory, set receiver.Settings, cfg *Config, logs *consumertest.LogsSink, traces *consumertest.TracesSink) (receiver.Logs, receiver.Traces) {
	t.Helper()
	ctx := context.Background()
	lr, err := f.CreateLogs(ctx, set, cfg, logs)
	if err != nil {
		t.Fatalf("create logs receiver: %v", err)
	}
	tr, err := f.CreateTraces(ctx, set, cfg, traces)
	if err != nil {
		t.Fatalf("create traces receiver: %v", err)
	}
	host := componenttest.NewNopHost()
	if err := lr.Start(ctx, host); err != nil {
		t.Fatalf("start logs receiver: %v", err)
	}
	if err := tr.Start(ctx, host); err != nil {
		t.Fatalf("start traces receiver: %v", err)
	}
	return lr, tr
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type() != metadata.Type || f.Type().String() != "procotel" {
		t.Errorf("type %q", f.Type())
	}
	if f.LogsStability() != component.StabilityLevelAlpha || f.TracesStability() != component.StabilityLevelAlpha {
		t.Errorf("stability: logs %v, traces %v", f.LogsStability(), f.TracesStability())
	}
	_, err := f.CreateMetrics(context.Background(), receivertest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	if err == nil {
		t.Error("CreateMetrics succeeded; the receiver makes no metrics")
	}
}

func TestLifecycle(t *testing.T) {
	w := writeRecording(t)
	var counts countingFactory
	f := newFactory([]backends.Factory{counts.wrap(replay.Factory)})
	set := receivertest.NewNopSettings(metadata.Type)
	cfg := replayConfig(w.path)
	lr, tr := startBoth(t, f, set, cfg, new(consumertest.LogsSink), new(consumertest.TracesSink))
	if lr != tr {
		t.Errorf("logs and traces receivers of one configuration are different instances")
	}
	if n := counts.started.Load(); n != 1 {
		t.Errorf("backend started %d times for two pipelines, want once", n)
	}
	ctx := context.Background()
	if err := lr.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if err := lr.Shutdown(ctx); err != nil {
		t.Errorf("third shutdown: %v", err)
	}
	if err := lr.Start(ctx, componenttest.NewNopHost()); err == nil {
		t.Error("start after shutdown succeeded")
	}

	// After shutdown the configuration gets a fresh instance (a reload).
	lr2, err := f.CreateLogs(ctx, set, cfg, new(consumertest.LogsSink))
	if err != nil {
		t.Fatal(err)
	}
	if lr2 == lr {
		t.Error("a shut-down instance was handed out again")
	}
	if err := lr2.Shutdown(ctx); err != nil { // never started
		t.Errorf("shutdown without start: %v", err)
	}

	// Another configuration is another instance with its own backend.
	other := replayConfig(w.path)
	lr3, tr3 := startBoth(t, f, set, other, new(consumertest.LogsSink), new(consumertest.TracesSink))
	if n := counts.started.Load(); n != 2 {
		t.Errorf("backends started: %d, want 2 (one per configuration)", n)
	}
	_ = lr3.Shutdown(ctx)
	_ = tr3.Shutdown(ctx)
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	f := newFactory([]backends.Factory{replay.Factory})
	set := receivertest.NewNopSettings(metadata.Type)

	missing := replayConfig("/nonexistent/recording.jsonl")
	r, err := f.CreateLogs(ctx, set, missing, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(ctx, componenttest.NewNopHost())
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/recording.jsonl") {
		t.Errorf("start on a missing recording: %v", err)
	}
	if err := r.Shutdown(ctx); err != nil {
		t.Errorf("shutdown after a failed start: %v", err)
	}

	bad := createDefaultConfig()
	bad.Capture.ArgvMax = 3
	if _, err := f.CreateTraces(ctx, set, bad, consumertest.NewNop()); err == nil || !strings.Contains(err.Error(), "capture.argv_max") {
		t.Errorf("create with an invalid configuration: %v", err)
	}

	unknown := createDefaultConfig()
	unknown.Backend = "dtrace"
	r, err = f.CreateLogs(ctx, set, unknown, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err == nil || !strings.Contains(err.Error(), `backend "dtrace": unknown`) {
		t.Errorf("start with an unknown backend: %v", err)
	}
	_ = r.Shutdown(ctx)
}

// collectSink records copies of what the pipeline hands its sinks.
type collectSink struct {
	events    []semconv.Event
	lifetimes []semconv.Lifetime
}

func (c *collectSink) Event(e *semconv.Event) {
	x := *e
	x.Process.Argv = slices.Clone(e.Process.Argv)
	x.Exec.Argv = slices.Clone(e.Exec.Argv)
	c.events = append(c.events, x)
}

func (c *collectSink) Lifetime(l *semconv.Lifetime) {
	x := *l
	x.Process.Argv = slices.Clone(l.Process.Argv)
	c.lifetimes = append(c.lifetimes, x)
}

func (c *collectSink) Close(context.Context) error { return nil }

// reference runs the recording through a pipeline configured as the
// receiver configures it and returns what its sink saw.
func reference(t *testing.T, cfg *Config) *collectSink {
	t.Helper()
	plan, err := agent.NewPlan(cfg.Receiver)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.Open(context.Background(), plan, []backends.Factory{replay.Factory})
	if err != nil {
		t.Fatal(err)
	}
	sink := &collectSink{}
	a.Run(sink)
	<-a.Ended()
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink
}

// TestReplay runs the recorded workload through the receiver and checks
// every log record and span: names, timestamps, bodies, severities, ids
// derived from the known pids and start times, parent links, statuses,
// and every attribute against semconv's mapping of the same pipeline
// output.
func TestReplay(t *testing.T) {
	w := writeRecording(t)
	f := newFactory([]backends.Factory{replay.Factory})
	tel := componenttest.NewTelemetry()
	defer tel.Shutdown(context.Background())
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := replayConfig(w.path)
	logs, traces := new(consumertest.LogsSink), new(consumertest.TracesSink)
	lr, tr := startBoth(t, f, set, cfg, logs, traces)
	waitFor(t, func() bool { return logs.LogRecordCount() >= w.wantLogs && traces.SpanCount() >= w.wantSpans },
		func() string { return fmt.Sprintf("%d records, %d spans", logs.LogRecordCount(), traces.SpanCount()) })

	checkMetrics(t, tel, w)
	ctx := context.Background()
	if err := lr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_ = tr.Shutdown(ctx)
	if n := logs.LogRecordCount(); n != w.wantLogs {
		t.Errorf("%d log records, want %d", n, w.wantLogs)
	}
	if n := traces.SpanCount(); n != w.wantSpans {
		t.Errorf("%d spans, want %d", n, w.wantSpans)
	}

	ref := reference(t, cfg)
	if len(ref.events) != w.wantLogs || len(ref.lifetimes) != w.wantSpans {
		t.Fatalf("reference pipeline: %d events, %d lifetimes", len(ref.events), len(ref.lifetimes))
	}
	checkReplayLogs(t, w, ref, logs.AllLogs())
	checkReplaySpans(t, w, ref, traces.AllTraces())
}

func waitFor(t *testing.T, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", state())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkResource(t *testing.T, res pcommon.Map, schema string) {
	t.Helper()
	host, _ := os.Hostname()
	for k, want := range map[string]string{"service.name": "procotel", "os.type": "linux", "host.name": host} {
		if v, ok := res.Get(k); !ok || v.Str() != want {
			t.Errorf("resource %s = %v, want %q", k, v.AsRaw(), want)
		}
	}
	if schema != semconv.SchemaURL {
		t.Errorf("resource schema %q, want %q", schema, semconv.SchemaURL)
	}
}

func checkReplayLogs(t *testing.T, w recorded, ref *collectSink, batches []plog.Logs) {
	var got []plog.LogRecord
	for _, ld := range batches {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			checkResource(t, rl.Resource().Attributes(), rl.SchemaUrl())
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				sl := rl.ScopeLogs().At(j)
				if sl.Scope().Name() != scopeName {
					t.Errorf("scope %q", sl.Scope().Name())
				}
				for k := 0; k < sl.LogRecords().Len(); k++ {
					got = append(got, sl.LogRecords().At(k))
				}
			}
		}
	}
	if len(got) != len(ref.events) {
		t.Fatalf("%d records, reference has %d events", len(got), len(ref.events))
	}
	shTrace := semconv.TraceID(testBoot, w.sh.Key())
	procs := map[int32]semconv.Process{900: w.bash, 1000: w.sh, 1001: w.mk, 1002: w.cc}
	kinds := map[string]int{}
	for i, r := range got {
		e := &ref.events[i]
		name := r.EventName()
		kinds[name]++
		if name != semconv.EventName(e.Kind) {
			t.Fatalf("record %d: event %q, reference %q", i, name, semconv.EventName(e.Kind))
		}
		pid := e.Process.PID
		p, ok := procs[pid]
		if !ok {
			t.Fatalf("record %d: unknown pid %d", i, pid)
		}
		// Ids from the ground truth: every record of the job is in sh's trace.
		if r.TraceID() != pcommon.TraceID(shTrace) || r.SpanID() != pcommon.SpanID(semconv.SpanID(testBoot, p.Key())) {
			t.Errorf("%s pid %d: trace %s span %s, want %x %x", name, pid, r.TraceID(), r.SpanID(),
				shTrace, semconv.SpanID(testBoot, p.Key()))
		}
		if r.Flags() != 1 {
			t.Errorf("%s pid %d: flags %d, want 1 (sampled)", name, pid, r.Flags())
		}
		if !r.Timestamp().AsTime().Equal(e.Time) || r.ObservedTimestamp() == 0 {
			t.Errorf("%s pid %d: timestamp %v (observed %v), want %v", name, pid, r.Timestamp(), r.ObservedTimestamp(), e.Time)
		}
		num, text := semconv.EventSeverity(e)
		if int(r.SeverityNumber()) != num || r.SeverityText() != text || r.Body().Str() != semconv.EventBody(e) {
			t.Errorf("%s pid %d: severity %d %q body %q", name, pid, r.SeverityNumber(), r.SeverityText(), r.Body().Str())
		}
		compareAttrs(t, fmt.Sprintf("%s pid %d", name, pid), r.Attributes(), semconv.EventAttributes(e, nil))
		if strings.Contains(fmt.Sprint(r.Attributes().AsRaw()), "hunter2") {
			t.Errorf("%s pid %d: the password in argv was not redacted", name, pid)
		}
	}
	want := map[string]int{"process.fork": 3, "process.exec": 3, "process.exec_failed": 1, "process.signal": 1, "process.exit": 3, "process.reap": 3}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s records, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	// Spot checks against the ground truth, independent of semconv.
	for _, r := range got {
		a := r.Attributes()
		switch r.EventName() {
		case "process.exec_failed":
			if v, _ := a.Get("procotel.exec.errno_name"); v.Str() != "ENOENT" || r.Body().Str() != "exec /no/such/file failed: ENOENT (pid 1001)" {
				t.Errorf("exec_failed: %v %q", a.AsRaw(), r.Body().Str())
			}
			if v, _ := a.Get("procotel.exec.args"); v.Type() != pcommon.ValueTypeSlice || v.Slice().Len() != 2 || v.Slice().At(1).Str() != "--x" {
				t.Errorf("exec_failed args: %v", v.AsRaw())
			}
		case "process.exit":
			pid, _ := a.Get("process.pid")
			code, hasCode := a.Get("process.exit.code")
			sig, _ := a.Get("procotel.exit.signal_name")
			switch pid.Int() {
			case 1002:
				if sig.Str() != "SIGTERM" || hasCode || r.SeverityText() != "WARN" {
					t.Errorf("cc exit: %v", a.AsRaw())
				}
			case 1001:
				if code.Int() != 2 {
					t.Errorf("make exit: %v", a.AsRaw())
				}
			case 1000:
				if !hasCode || code.Int() != 0 || r.SeverityText() != "INFO" {
					t.Errorf("sh exit: %v", a.AsRaw())
				}
			}
		}
	}
}

func checkReplaySpans(t *testing.T, w recorded, ref *collectSink, batches []ptrace.Traces) {
	spans := map[int64]ptrace.Span{}
	for _, td := range batches {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			checkResource(t, rs.Resource().Attributes(), rs.SchemaUrl())
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					pid, _ := ss.At(k).Attributes().Get("process.pid")
					spans[pid.Int()] = ss.At(k)
				}
			}
		}
	}
	shTrace := pcommon.TraceID(semconv.TraceID(testBoot, w.sh.Key()))
	span := func(p semconv.Process) pcommon.SpanID { return pcommon.SpanID(semconv.SpanID(testBoot, p.Key())) }
	for _, tc := range []struct {
		p       semconv.Process
		name    string
		parent  pcommon.SpanID
		status  ptrace.StatusCode
		message string
		endS    float64
	}{
		{w.sh, "sh", pcommon.SpanID{}, ptrace.StatusCodeUnset, "", 206},
		{w.mk, "make", span(w.sh), ptrace.StatusCodeError, "exit code 2", 205},
		{w.cc, "cc", span(w.mk), ptrace.StatusCodeError, "killed by SIGTERM", 203.001},
	} {
		s, ok := spans[int64(tc.p.PID)]
		if !ok {
			t.Errorf("no span for %s (pid %d)", tc.name, tc.p.PID)
			continue
		}
		if s.Name() != tc.name || s.Kind() != ptrace.SpanKindInternal || s.TraceID() != shTrace || s.SpanID() != span(tc.p) || s.ParentSpanID() != tc.parent {
			t.Errorf("%s: name %q kind %v trace %s span %s parent %s; want trace %s span %s parent %s",
				tc.name, s.Name(), s.Kind(), s.TraceID(), s.SpanID(), s.ParentSpanID(), shTrace, span(tc.p), tc.parent)
		}
		if s.Status().Code() != tc.status || s.Status().Message() != tc.message {
			t.Errorf("%s: status %v %q, want %v %q", tc.name, s.Status().Code(), s.Status().Message(), tc.status, tc.message)
		}
		start, end := w.clock.Wall(tc.p.Start), w.clock.Wall(uint64(tc.endS*1e9))
		if !s.StartTimestamp().AsTime().Equal(start) || !s.EndTimestamp().AsTime().Equal(end) {
			t.Errorf("%s: %v – %v, want %v – %v", tc.name, s.StartTimestamp(), s.EndTimestamp(), start, end)
		}
	}
	// sh roots the trace and links to the login shell's span in its trace.
	if sh, ok := spans[1000]; ok {
		if sh.Links().Len() != 1 {
			t.Errorf("sh: %d links, want 1", sh.Links().Len())
		} else if l := sh.Links().At(0); l.TraceID() != pcommon.TraceID(semconv.TraceID(testBoot, w.bash.Key())) || l.SpanID() != span(w.bash) {
			t.Errorf("sh links to %s/%s, want the login shell's span", l.TraceID(), l.SpanID())
		}
	}
	// Every attribute, against semconv's mapping of the same lifetimes.
	for i := range ref.lifetimes {
		l := &ref.lifetimes[i]
		s, ok := spans[int64(l.Process.PID)]
		if !ok {
			continue
		}
		compareAttrs(t, "span "+s.Name(), s.Attributes(), semconv.LifetimeAttributes(l, nil))
		ids := semconv.SpanContextIDs(testBoot, &l.Process, l.Lineage)
		if s.SpanID() != pcommon.SpanID(ids.SpanID) || s.TraceID() != pcommon.TraceID(ids.TraceID) || s.ParentSpanID() != pcommon.SpanID(ids.ParentSpanID) {
			t.Errorf("span %s: ids differ from SpanContextIDs", s.Name())
		}
	}
}

// compareAttrs checks that got holds exactly want, with the same types.
func compareAttrs(t *testing.T, what string, got pcommon.Map, want []attribute.KeyValue) {
	t.Helper()
	wantMap := map[string]string{}
	for _, kv := range want {
		wantMap[string(kv.Key)] = attrString(kv.Value)
	}
	gotMap := map[string]string{}
	got.Range(func(k string, v pcommon.Value) bool {
		gotMap[k] = valueString(v)
		return true
	})
	var diffs []string
	for k, w := range wantMap {
		if g, ok := gotMap[k]; !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("%s: got %q want %q", k, gotMap[k], w))
		}
	}
	for k, g := range gotMap {
		if _, ok := wantMap[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %q", k, g))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s attributes:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}

// attrString and valueString render a value with its type, so that an
// int and a string of the same digits differ.
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

func valueString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return "s:" + v.Str()
	case pcommon.ValueTypeInt:
		return "i:" + strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeBool:
		return "b:" + strconv.FormatBool(v.Bool())
	case pcommon.ValueTypeDouble:
		return "d:" + strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case pcommon.ValueTypeSlice:
		var parts []string
		for i := 0; i < v.Slice().Len(); i++ {
			parts = append(parts, valueString(v.Slice().At(i)))
		}
		return "a:[" + strings.Join(parts, " ") + "]"
	}
	return "?" + v.AsString()
}

// checkMetrics checks that the recording's lost counts and the
// deliveries show in the receiver's telemetry.
func checkMetrics(t *testing.T, tel *componenttest.Telemetry, w recorded) {
	t.Helper()
	m, err := tel.GetMetric("otelcol_receiver_procotel_backend_events_lost")
	if err != nil {
		t.Fatalf("lost events metric: %v", err)
	}
	lost := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		kind, _ := dp.Attributes.Value("kind")
		lost[kind.AsString()] = dp.Value
	}
	if lost["exit"] != int64(w.lostExit) || len(lost) != 1 {
		t.Errorf("lost events metric: %v, want exit %d only", lost, w.lostExit)
	}
	for name, want := range map[string]int64{
		"otelcol_receiver_accepted_log_records":             int64(w.wantLogs),
		"otelcol_receiver_accepted_spans":                   int64(w.wantSpans),
		"otelcol_receiver_procotel_backend_execs_throttled": int64(w.throttled),
		"otelcol_receiver_procotel_backend_reaps_inferred":  int64(w.reapsInferred),
		"otelcol_receiver_procotel_backend_reaps_late":      int64(w.lateReaps),
	} {
		m, err := tel.GetMetric(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var sum int64
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			sum += dp.Value
		}
		if sum != want {
			t.Errorf("%s = %d, want %d", name, sum, want)
		}
	}
	m, err = tel.GetMetric("otelcol_receiver_procotel_items_dropped")
	if err != nil {
		t.Fatalf("dropped items metric: %v", err)
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if dp.Value != 0 {
			t.Errorf("dropped items %v = %d, want 0", dp.Attributes.ToSlice(), dp.Value)
		}
	}
}
