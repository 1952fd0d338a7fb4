package export

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// TestGRPCRetryableCodes checks the OTLP/gRPC classification: the
// specification's retryable codes are retried and the batch exported,
// every other code drops the batch at once, RESOURCE_EXHAUSTED is
// retried only with RetryInfo.
func TestGRPCRetryableCodes(t *testing.T) {
	cases := []struct {
		f         fault
		retryable bool
	}{
		{fault{code: codes.Canceled}, true},
		{fault{code: codes.DeadlineExceeded}, true},
		{fault{code: codes.Aborted}, true},
		{fault{code: codes.OutOfRange}, true},
		{fault{code: codes.Unavailable}, true},
		{fault{code: codes.DataLoss}, true},
		{fault{code: codes.ResourceExhausted, retryInfo: true, retryDelay: 10 * time.Millisecond}, true},
		{fault{code: codes.ResourceExhausted}, false},
		{fault{code: codes.Unknown}, false},
		{fault{code: codes.InvalidArgument}, false},
		{fault{code: codes.NotFound}, false},
		{fault{code: codes.AlreadyExists}, false},
		{fault{code: codes.PermissionDenied}, false},
		{fault{code: codes.FailedPrecondition}, false},
		{fault{code: codes.Unimplemented}, false},
		{fault{code: codes.Internal}, false},
		{fault{code: codes.Unauthenticated}, false},
	}
	for _, c := range cases {
		name := c.f.code.String()
		if c.f.retryInfo {
			name += "+RetryInfo"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startGRPCFaults(t, false, c.f)
			checkClassified(t, grpcOptions(srv, &syncBuffer{}), &srv.faultServer, c.retryable)
		})
	}
}

// TestHTTPRetryableStatus checks the OTLP/HTTP classification.
func TestHTTPRetryableStatus(t *testing.T) {
	for _, c := range []struct {
		status    int
		retryable bool
	}{
		{429, true}, {502, true}, {503, true}, {504, true},
		{400, false}, {401, false}, {403, false}, {404, false}, {413, false}, {500, false}, {501, false},
	} {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			t.Parallel()
			srv := startHTTPFaults(t, fault{httpStatus: c.status})
			checkClassified(t, httpOptions(srv, &syncBuffer{}), &srv.faultServer, c.retryable)
		})
	}
}

// checkClassified exports one batch to srv, whose script fails the
// first attempt, and checks that it was retried and exported, or
// dropped at once as permanent.
func checkClassified(t *testing.T, o Options, srv *faultServer, retryable bool) {
	t.Helper()
	x := newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	waitFor(t, "the batch's outcome", settled(x))
	l := x.Stats().LogTotals()
	attempts := len(srv.all())
	if retryable {
		if l.Exported != 2 || attempts != 2 || srv.received() != 2 {
			t.Errorf("retryable: %d attempts, %d received, counts %+v; want 2 attempts, 2 exported", attempts, srv.received(), l)
		}
	} else if l.DroppedPermanent != 2 || l.Exported != 0 || attempts != 1 {
		t.Errorf("permanent: %d attempts, counts %+v; want 1 attempt, 2 dropped (permanent_error)", attempts, l)
	}
}

// TestPermanentErrorDropsAtOnce checks, with the default backoff (5 s
// before a retry), that a permanent error drops its batch at once and
// the next batch goes out right after.
func TestPermanentErrorDropsAtOnce(t *testing.T) {
	for _, proto := range []string{ProtocolGRPC, ProtocolHTTP} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			var o Options
			var srv *faultServer
			if proto == ProtocolGRPC {
				g := startGRPCFaults(t, false, fault{code: codes.Unauthenticated})
				o, srv = grpcOptions(g, &syncBuffer{}), &g.faultServer
			} else {
				h := startHTTPFaults(t, fault{httpStatus: http.StatusBadRequest})
				o, srv = httpOptions(h, &syncBuffer{}), &h.faultServer
			}
			o.RetryInitial, o.RetryMax, o.RetryFor = 0, 0, 0 // the defaults
			x := newFaultExporter(t, o)
			start := time.Now()
			x.Event(execEvent(10))
			x.Event(execEvent(11)) // batch 1: refused
			waitFor(t, "batch 1 dropped", func() bool { return x.Stats().LogTotals().DroppedPermanent == 2 })
			x.Event(execEvent(12))
			x.Event(execEvent(13)) // batch 2: accepted
			waitFor(t, "batch 2 exported", func() bool { return x.Stats().LogTotals().Exported == 2 })
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s: the permanent error was waited on", d)
			}
			if n := len(srv.all()); n != 2 {
				t.Errorf("%d attempts, want 2 (no retry of the refused batch)", n)
			}
		})
	}
}

// TestRetrySameRequest checks that a retry sends the same request, not
// one merged with records that arrived meanwhile, and that gRPC
// RetryInfo sets the wait.
func TestRetrySameRequest(t *testing.T) {
	const delay = 300 * time.Millisecond
	srv := startGRPCFaults(t, false, fault{code: codes.Unavailable, retryInfo: true, retryDelay: delay})
	x := newFaultExporter(t, grpcOptions(srv, &syncBuffer{}))
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	waitFor(t, "the first attempt", func() bool { return len(srv.all()) == 1 })
	x.Event(execEvent(12))
	x.Event(execEvent(13))
	waitFor(t, "all exported", func() bool { return x.Stats().LogTotals().Exported == 4 })
	a := srv.all()
	if len(a) != 3 {
		t.Fatalf("%d attempts, want 3", len(a))
	}
	if !bytes.Equal(a[0].body, a[1].body) || a[1].records != 2 || a[2].records != 2 {
		t.Errorf("retry is not the same request: records %d, %d, %d", a[0].records, a[1].records, a[2].records)
	}
	if gap := a[1].at.Sub(a[0].at); gap < delay {
		t.Errorf("retried after %s, RetryInfo asked for %s", gap, delay)
	}
}

// TestHTTPRetryAfter checks that Retry-After (seconds and HTTP-date)
// sets the wait before a retry.
func TestHTTPRetryAfter(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func() fault
		min  time.Duration
	}{
		{"seconds", func() fault { return fault{httpStatus: 503, retryAfter: "1"} }, time.Second},
		{"date", func() fault {
			return fault{httpStatus: 429, retryAfter: time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}
		}, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startHTTPFaults(t, c.f())
			x := newFaultExporter(t, httpOptions(srv, &syncBuffer{}))
			x.Event(execEvent(10))
			x.Event(execEvent(11))
			waitFor(t, "exported", func() bool { return x.Stats().LogTotals().Exported == 2 })
			a := srv.all()
			if len(a) != 2 || !bytes.Equal(a[0].body, a[1].body) {
				t.Fatalf("%d attempts, want the same request twice", len(a))
			}
			if gap := a[1].at.Sub(a[0].at); gap < c.min {
				t.Errorf("retried after %s, Retry-After asked for at least %s", gap, c.min)
			}
		})
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "-3": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

// TestRetryGivesUp checks that a batch still failing when RetryFor ends
// is dropped as export_failed, and that the backoff grows.
func TestRetryGivesUp(t *testing.T) {
	script := make([]fault, 1000)
	for i := range script {
		script[i] = fault{code: codes.Unavailable}
	}
	srv := startGRPCFaults(t, false, script...)
	o := grpcOptions(srv, &syncBuffer{})
	o.RetryInitial, o.RetryMax, o.RetryFor = 20*time.Millisecond, 80*time.Millisecond, 500*time.Millisecond
	x := newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	waitFor(t, "given up", func() bool { return x.Stats().LogTotals().DroppedExport == 2 })
	a := srv.all()
	// 20 ms, 30, 45, 67, 80, … jittered ±50 %: about 8 attempts in
	// 500 ms; far fewer than a fixed 5 ms retry would make.
	if len(a) < 3 || len(a) > 20 {
		t.Errorf("%d attempts in 500 ms", len(a))
	}
	if d := a[len(a)-1].at.Sub(a[0].at); d > 600*time.Millisecond {
		t.Errorf("retried for %s, RetryFor is 500ms", d)
	}
}

// TestPartialSuccess checks that rejected records are counted as
// dropped (rejected), not exported, and each distinct message is
// reported once, over gRPC and HTTP, logs and spans.
func TestPartialSuccess(t *testing.T) {
	script := []fault{{rejected: 1, message: "record too old"}, {rejected: 1, message: "record too old"}, {rejected: 2, message: "quota"}}
	for _, proto := range []string{ProtocolGRPC, ProtocolHTTP} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			msgs := &syncBuffer{}
			var o Options
			if proto == ProtocolGRPC {
				o = grpcOptions(startGRPCFaults(t, false, script...), msgs)
			} else {
				o = httpOptions(startHTTPFaults(t, script...), msgs)
			}
			x := newFaultExporter(t, o)
			for i := range 3 {
				x.Event(execEvent(int32(10 + 2*i)))
				x.Event(execEvent(int32(11 + 2*i)))
				waitFor(t, "batch", func() bool {
					return x.Stats().LogTotals().Exported+x.Stats().LogTotals().DroppedRejected == uint64(2*i+2)
				})
			}
			l := x.Stats().LogTotals()
			if l.Exported != 2 || l.DroppedRejected != 4 || l.Given() != l.Exported+l.Dropped() {
				t.Errorf("counts %+v, want 2 exported, 4 rejected", l)
			}
			out := msgs.String()
			if strings.Count(out, "record too old") != 1 || strings.Count(out, "quota") != 1 {
				t.Errorf("messages:\n%s", out)
			}
		})
	}
	// Spans, over gRPC.
	srv := startGRPCFaults(t, false, fault{rejected: 1, message: "bad span"})
	o := grpcOptions(srv, &syncBuffer{})
	o.Logs, o.Traces = false, true
	x := newFaultExporter(t, o)
	x.Lifetime(lifetime(10))
	x.Lifetime(lifetime(11))
	waitFor(t, "spans", func() bool { return x.Stats().Spans.Pending == 0 && x.Stats().Spans.Handed == 2 })
	if s := x.Stats().Spans; s.Exported != 1 || s.DroppedRejected != 1 {
		t.Errorf("span counts %+v", s)
	}
}

// TestCompression checks gzip over gRPC (grpc-encoding) and HTTP
// (Content-Encoding), per signal.
func TestCompression(t *testing.T) {
	g := startGRPCFaults(t, false)
	o := grpcOptions(g, &syncBuffer{})
	o.Traces, o.Compression = true, CompressionGzip
	o.TracesSignal.Compression = CompressionNone
	x := newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	x.Lifetime(lifetime(10))
	x.Lifetime(lifetime(11))
	waitFor(t, "exported", func() bool { return len(g.all()) == 2 })
	for _, a := range g.all() {
		want := "gzip"
		if a.path == grpcTracesMethod {
			want = ""
		}
		if a.compression != want || a.records != 2 {
			t.Errorf("%s: grpc-encoding %q, %d records; want %q", a.path, a.compression, a.records, want)
		}
	}

	h := startHTTPFaults(t)
	o = httpOptions(h, &syncBuffer{})
	o.Traces, o.LogsSignal.Compression = true, CompressionGzip
	x = newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	x.Lifetime(lifetime(10))
	x.Lifetime(lifetime(11))
	waitFor(t, "exported", func() bool { return len(h.all()) == 2 })
	for _, a := range h.all() {
		want := ""
		if a.path == "/v1/logs" {
			want = "gzip"
		}
		if a.compression != want || a.records != 2 {
			t.Errorf("%s: Content-Encoding %q, %d records; want %q", a.path, a.compression, a.records, want)
		}
	}

	if _, err := New(context.Background(), Options{Logs: true, Compression: "zstd"}); err == nil || !strings.Contains(err.Error(), `unknown OTLP compression "zstd"`) {
		t.Errorf("New with zstd: %v", err)
	}
}

// TestPerSignalSettings checks per-signal endpoints (an HTTP one used as
// given, the general one with /v1/… appended), headers and protocols.
func TestPerSignalSettings(t *testing.T) {
	logsSrv, general := startHTTPFaults(t), startHTTPFaults(t)
	o := faultOptions(&syncBuffer{})
	o.Traces, o.Protocol = true, ProtocolHTTP
	o.Endpoint = general.url + "/prefix"
	o.Headers = map[string]string{"x-all": "1"}
	o.LogsSignal = SignalOptions{Endpoint: logsSrv.url + "/custom/logs", Headers: map[string]string{"x-logs": "2"}}
	x := newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	x.Lifetime(lifetime(10))
	x.Lifetime(lifetime(11))
	waitFor(t, "exported", func() bool { return len(logsSrv.all()) == 1 && len(general.all()) == 1 })
	if a := logsSrv.all()[0]; a.path != "/custom/logs" || a.headers["x-logs"] != "2" || a.headers["x-all"] != "" {
		t.Errorf("logs went to %s with headers %v", a.path, a.headers)
	}
	if a := general.all()[0]; a.path != "/prefix/v1/traces" || a.headers["x-all"] != "1" {
		t.Errorf("traces went to %s with headers %v", a.path, a.headers)
	}

	// Logs over gRPC to one server, traces over HTTP to another.
	g := startGRPCFaults(t, false)
	o = httpOptions(general, &syncBuffer{})
	o.Traces = true
	o.LogsSignal = SignalOptions{Protocol: ProtocolGRPC, Endpoint: "http://" + g.addr}
	x = newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	x.Lifetime(lifetime(10))
	x.Lifetime(lifetime(11))
	waitFor(t, "exported", func() bool { return len(g.all()) == 1 && len(general.all()) == 2 })
	if a := g.all()[0]; a.path != grpcLogsMethod {
		t.Errorf("gRPC server got %s", a.path)
	}
	if a := general.all()[1]; a.path != "/prefix/v1/traces" && a.path != "/v1/traces" {
		t.Errorf("HTTP server got %s", a.path)
	}

	// Resolution rules.
	yes := true
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Protocol: ProtocolHTTP, Endpoint: "http://h:4318", TracesSignal: SignalOptions{Endpoint: "http://t:1"}}, "http://t:1/"},
		{Options{Protocol: ProtocolHTTP, TracesSignal: SignalOptions{Endpoint: "https://t:1/a/b/"}}, "https://t:1/a/b/"},
		{Options{Protocol: ProtocolHTTP, Endpoint: "h:4318", Insecure: true}, "http://h:4318/v1/traces"},
		{Options{Endpoint: "h:4317", TracesSignal: SignalOptions{Protocol: ProtocolHTTP, Endpoint: "t:4318", Insecure: &yes}}, "http://t:4318/"},
	} {
		cfg, err := c.o.withDefaults().resolve(signalTraces)
		if err != nil || cfg.url != c.want {
			t.Errorf("resolve(%+v) = %q, %v; want %q", c.o, cfg.url, err, c.want)
		}
	}
	if _, err := New(context.Background(), Options{Logs: true, LogsSignal: SignalOptions{Endpoint: "ftp://x:1"}}); err == nil || !strings.Contains(err.Error(), "logs endpoint") {
		t.Errorf("bad per-signal endpoint: %v", err)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestAccountingAtStop checks that with the endpoint down every record
// given is exported or dropped with a reason once Close returns.
func TestAccountingAtStop(t *testing.T) {
	for _, proto := range []string{ProtocolGRPC, ProtocolHTTP} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			o := faultOptions(&syncBuffer{})
			o.Traces, o.Protocol, o.Endpoint, o.Insecure = true, proto, closedPort(t), true
			o.BatchSize, o.LogQueueSize, o.SpanQueueSize = 100, 1000, 300
			o.RetryFor = 200 * time.Millisecond
			x, err := New(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3000
			for i := range n {
				x.Event(execEvent(int32(100 + i)))
				if i%4 == 0 {
					x.Lifetime(lifetime(int32(100 + i)))
				}
				if i == n/2 {
					time.Sleep(400 * time.Millisecond) // let some batches give up
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := x.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Close = %v, want the deadline", err)
			}
			x.Event(execEvent(1)) // after Close
			s := x.Stats()
			l := s.LogTotals()
			if l.Given() != n+1 || l.Exported+l.Dropped() != n+1 || l.Pending != 0 {
				t.Errorf("logs do not add up over %d: %+v", n+1, l)
			}
			if l.DroppedQueueFull == 0 || l.DroppedExport == 0 || l.DroppedShutdown == 0 || l.DroppedClosed != 1 {
				t.Errorf("logs: want drops for queue_full, export_failed, shutdown and closed: %+v", l)
			}
			sp := s.Spans
			if sp.Given() != n/4 || sp.Exported+sp.Dropped() != n/4 || sp.Pending != 0 {
				t.Errorf("spans do not add up over %d: %+v", n/4, sp)
			}
		})
	}
}

// TestReportsWhileRunning checks that the first failure of a kind is
// reported at once with the endpoint and what procotel does, only once,
// and that recovery is reported.
func TestReportsWhileRunning(t *testing.T) {
	script := make([]fault, 10)
	for i := range script {
		script[i] = fault{code: codes.Unavailable}
	}
	srv := startGRPCFaults(t, false, script...)
	msgs := &syncBuffer{}
	o := grpcOptions(srv, msgs)
	o.RetryFor = time.Minute
	x := newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	waitFor(t, "the failure report", func() bool { return strings.Contains(msgs.String(), "failed") })
	waitFor(t, "exported", func() bool { return x.Stats().LogTotals().Exported == 2 })
	waitFor(t, "the recovery report", func() bool { return strings.Contains(msgs.String(), "recovered") })
	out := msgs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], srv.addr) || !strings.Contains(lines[0], "Unavailable") ||
		!strings.Contains(lines[0], "retrying") || !strings.Contains(lines[1], "after 10 failed attempts") {
		t.Errorf("messages:\n%s", out)
	}

	// Permanent: says it drops.
	srv = startGRPCFaults(t, false, fault{code: codes.Unauthenticated}, fault{code: codes.Unauthenticated})
	msgs = &syncBuffer{}
	x = newFaultExporter(t, grpcOptions(srv, msgs))
	for i := range 4 {
		x.Event(execEvent(int32(10 + i)))
	}
	waitFor(t, "dropped", func() bool { return x.Stats().LogTotals().DroppedPermanent == 4 })
	if out := msgs.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "Unauthenticated") || !strings.Contains(out, "dropping the batch") {
		t.Errorf("messages:\n%s", out)
	}

	// Unreachable endpoint over HTTP.
	msgs = &syncBuffer{}
	o = faultOptions(msgs)
	o.Protocol, o.Endpoint = ProtocolHTTP, "http://"+closedPort(t)
	o.RetryFor = 300 * time.Millisecond
	x = newFaultExporter(t, o)
	x.Event(execEvent(10))
	x.Event(execEvent(11))
	waitFor(t, "the failure report", func() bool { return strings.Contains(msgs.String(), "connection error") })
	if out := msgs.String(); !strings.Contains(out, o.Endpoint+"/v1/logs") || strings.Count(out, "\n") != 1 {
		t.Errorf("messages:\n%s", out)
	}
}

// TestUnimplementedLogs is jaeger's answer to logs: the batch is
// dropped at once, one line says how to turn logs off, and shutdown is
// clean.
func TestUnimplementedLogs(t *testing.T) {
	srv := startGRPCFaults(t, true)
	msgs := &syncBuffer{}
	o := grpcOptions(srv, msgs)
	o.Traces = true
	o.RetryInitial, o.RetryMax, o.RetryFor = 0, 0, 0 // the defaults
	x, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		x.Event(execEvent(int32(10 + i)))
		x.Lifetime(lifetime(int32(10 + i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := x.Close(ctx); err != nil {
		t.Errorf("Close = %v", err)
	}
	s := x.Stats()
	if l := s.LogTotals(); l.DroppedPermanent != 10 || l.Pending != 0 {
		t.Errorf("logs %+v, want 10 dropped (permanent_error)", l)
	}
	if s.Spans.Exported != 10 {
		t.Errorf("spans %+v", s.Spans)
	}
	out := msgs.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "does not accept logs") || !strings.Contains(out, "OTEL_LOGS_EXPORTER=none") {
		t.Errorf("messages:\n%s", out)
	}
}
