package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the server takes gzip requests
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// This file is an OTLP server for the tests of procotel configured by the
// OTEL_* variables: it answers each signal's requests from a script
// (errors, throttling, partial success), then with success, and keeps
// every request it got, decoded. It also reads procotel's exit summary.

// The signals as the server tells them apart.
const (
	sigLogs    = "logs"
	sigTraces  = "traces"
	sigMetrics = "metrics"
)

// signalOf names the signal of a route (an HTTP path or a gRPC method):
// the OTLP paths and methods name theirs; any other path is a traces
// endpoint given in OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.
func signalOf(route string) string {
	switch {
	case strings.Contains(route, "logs"):
		return sigLogs
	case strings.Contains(route, "metrics"):
		return sigMetrics
	}
	return sigTraces
}

// answer is one scripted answer: a gRPC code or an HTTP status (zero
// for success, with an optional partial success).
type answer struct {
	code       codes.Code
	httpStatus int
	retryAfter string // HTTP Retry-After
	rejected   int64  // partial success
	message    string
}

func (a answer) ok() bool { return a.code == codes.OK && a.httpStatus == 0 }

// request is one request the server got.
type request struct {
	at        time.Time
	route     string
	signal    string
	body      []byte // uncompressed
	msg       proto.Message
	items     int    // log records or spans in it
	decodeErr error  // the body is not a valid request of its signal
	encoding  string // Content-Encoding or grpc-encoding
	answered  answer
}

type otlpServer struct {
	mu     sync.Mutex
	script map[string][]answer // by signal
	reqs   []request

	url  string // HTTP: http://127.0.0.1:port
	addr string // gRPC: 127.0.0.1:port
}

// take records r and returns the answer the script has for it.
func (s *otlpServer) take(r request) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a answer
	if q := s.script[r.signal]; len(q) > 0 {
		a, s.script[r.signal] = q[0], q[1:]
	}
	r.answered = a
	s.reqs = append(s.reqs, r)
	return a
}

// requests returns the requests of one signal, in arrival order.
func (s *otlpServer) requests(signal string) []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []request
	for _, r := range s.reqs {
		if r.signal == signal {
			out = append(out, r)
		}
	}
	return out
}

// routes returns every route that got a request.
func (s *otlpServer) routes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, r := range s.reqs {
		out[r.route]++
	}
	return out
}

// decode fills r's message and item count from its body.
func (r *request) decode() {
	switch r.signal {
	case sigLogs:
		m := &collogpb.ExportLogsServiceRequest{}
		r.decodeErr = proto.Unmarshal(r.body, m)
		for _, rl := range m.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				r.items += len(sl.LogRecords)
			}
		}
		r.msg = m
	case sigTraces:
		m := &coltracepb.ExportTraceServiceRequest{}
		r.decodeErr = proto.Unmarshal(r.body, m)
		for _, rs := range m.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				r.items += len(ss.Spans)
			}
		}
		r.msg = m
	default:
		m := &colmetricpb.ExportMetricsServiceRequest{}
		r.decodeErr = proto.Unmarshal(r.body, m)
		r.msg = m
	}
}

// response is the success answer of signal, with a's partial success.
func response(signal string, a answer) proto.Message {
	partial := a.rejected != 0 || a.message != ""
	switch signal {
	case sigLogs:
		m := &collogpb.ExportLogsServiceResponse{}
		if partial {
			m.PartialSuccess = &collogpb.ExportLogsPartialSuccess{RejectedLogRecords: a.rejected, ErrorMessage: a.message}
		}
		return m
	case sigTraces:
		m := &coltracepb.ExportTraceServiceResponse{}
		if partial {
			m.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: a.rejected, ErrorMessage: a.message}
		}
		return m
	}
	return &colmetricpb.ExportMetricsServiceResponse{}
}

// startHTTPServer serves OTLP/HTTP on every path, answering from script.
func startHTTPServer(t *testing.T, script map[string][]answer) *otlpServer {
	t.Helper()
	s := &otlpServer{script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		raw, _ := io.ReadAll(hr.Body)
		r := request{at: time.Now(), route: hr.URL.Path, signal: signalOf(hr.URL.Path), body: raw,
			encoding: hr.Header.Get("Content-Encoding")}
		if r.encoding == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err == nil {
				r.body, err = io.ReadAll(zr)
			}
			if err != nil {
				r.decodeErr = fmt.Errorf("gunzip: %w", err)
			}
		}
		if r.decodeErr == nil {
			r.decode()
		}
		a := s.take(r)
		w.Header().Set("Content-Type", "application/x-protobuf")
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		if a.httpStatus != 0 {
			b, _ := proto.Marshal(status.New(codes.Unknown, "scripted HTTP "+strconv.Itoa(a.httpStatus)).Proto())
			w.WriteHeader(a.httpStatus)
			_, _ = w.Write(b)
			return
		}
		b, _ := proto.Marshal(response(r.signal, a))
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// grpcServer is the gRPC face of an otlpServer: the logs, trace and
// metrics services.
type grpcServer struct {
	*otlpServer
	collogpb.UnimplementedLogsServiceServer
}

type grpcTraces struct {
	coltracepb.UnimplementedTraceServiceServer
	s *grpcServer
}

type grpcMetrics struct {
	colmetricpb.UnimplementedMetricsServiceServer
	s *grpcServer
}

// encodingKey carries, in an RPC's context, where the stats handler puts
// the request's grpc-encoding.
type encodingKey struct{}

func (g *grpcServer) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, encodingKey{}, new(string))
}
func (g *grpcServer) HandleRPC(ctx context.Context, st stats.RPCStats) {
	if h, ok := st.(*stats.InHeader); ok {
		if p, ok := ctx.Value(encodingKey{}).(*string); ok {
			*p = h.Compression
		}
	}
}
func (g *grpcServer) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (g *grpcServer) HandleConn(context.Context, stats.ConnStats)                       {}

// handle records a request gRPC decoded and answers it from the script.
func (g *grpcServer) handle(ctx context.Context, method string, in proto.Message) (answer, error) {
	body, _ := proto.Marshal(in)
	r := request{at: time.Now(), route: method, signal: signalOf(method), body: body}
	if p, ok := ctx.Value(encodingKey{}).(*string); ok {
		r.encoding = *p
	}
	r.decode()
	a := g.take(r)
	if a.code != codes.OK {
		return a, status.Error(a.code, "scripted "+a.code.String())
	}
	return a, nil
}

func (g *grpcServer) Export(ctx context.Context, in *collogpb.ExportLogsServiceRequest) (*collogpb.ExportLogsServiceResponse, error) {
	a, err := g.handle(ctx, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", in)
	if err != nil {
		return nil, err
	}
	return response(sigLogs, a).(*collogpb.ExportLogsServiceResponse), nil
}

func (g grpcTraces) Export(ctx context.Context, in *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	a, err := g.s.handle(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", in)
	if err != nil {
		return nil, err
	}
	return response(sigTraces, a).(*coltracepb.ExportTraceServiceResponse), nil
}

func (g grpcMetrics) Export(ctx context.Context, in *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	a, err := g.s.handle(ctx, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", in)
	if err != nil {
		return nil, err
	}
	return response(sigMetrics, a).(*colmetricpb.ExportMetricsServiceResponse), nil
}

// startGRPCServer serves OTLP/gRPC on a loopback port.
func startGRPCServer(t *testing.T, script map[string][]answer) *otlpServer {
	t.Helper()
	g := &grpcServer{otlpServer: &otlpServer{script: script}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.StatsHandler(g))
	collogpb.RegisterLogsServiceServer(gs, g)
	coltracepb.RegisterTraceServiceServer(gs, grpcTraces{s: g})
	colmetricpb.RegisterMetricsServiceServer(gs, grpcMetrics{s: g})
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	g.addr = l.Addr().String()
	return g.otlpServer
}

// signalSummary is one signal's part of procotel's exit summary.
type signalSummary struct {
	handed, exported, dropped uint64
	reasons                   map[string]uint64
}

var (
	summaryLine = regexp.MustCompile(`(?m)^procotel: otlp: log records (.*); spans (.*)$`)
	summaryPart = regexp.MustCompile(`^(\d+) handed to the exporter, (\d+) exported, (\d+) dropped(?: \((.*)\))?$`)
)

// parseSummary reads the exit summary's OTLP line and checks that each
// signal's parts add up: handed = exported + dropped, and dropped is the
// sum of its reasons.
func parseSummary(t *testing.T, stderr string) (logs, spans signalSummary) {
	t.Helper()
	m := summaryLine.FindAllStringSubmatch(stderr, -1)
	if len(m) != 1 {
		t.Fatalf("want one OTLP summary line, found %d in:\n%s", len(m), stderr)
	}
	part := func(name, s string) signalSummary {
		p := summaryPart.FindStringSubmatch(s)
		if p == nil {
			t.Fatalf("%s summary %q does not read \"N handed to the exporter, X exported, Y dropped (reason Z, …)\"", name, s)
		}
		num := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
		ss := signalSummary{handed: num(p[1]), exported: num(p[2]), dropped: num(p[3]), reasons: map[string]uint64{}}
		var byReason uint64
		if p[4] != "" {
			for _, r := range strings.Split(p[4], ", ") {
				name, n, ok := strings.Cut(r, " ")
				if !ok {
					t.Fatalf("%s summary: reason %q is not \"reason N\"", name, r)
				}
				ss.reasons[name] = num(n)
				byReason += num(n)
			}
		}
		if ss.handed != ss.exported+ss.dropped || ss.dropped != byReason {
			t.Errorf("%s summary does not add up: %q", name, s)
		}
		return ss
	}
	return part("log records", m[0][1]), part("spans", m[0][2])
}

// itemsOf sums the log records or spans of requests, of those answered
// with success (ok) or not.
func itemsOf(reqs []request, ok bool) uint64 {
	var n uint64
	for _, r := range reqs {
		if r.answered.ok() == ok {
			n += uint64(r.items)
		}
	}
	return n
}

// checkDecoded fails for every request that is not a valid OTLP request
// of its signal.
func checkDecoded(t *testing.T, s *otlpServer) {
	t.Helper()
	for _, sig := range []string{sigLogs, sigTraces, sigMetrics} {
		for i, r := range s.requests(sig) {
			if r.decodeErr != nil {
				t.Errorf("%s request %d to %s does not decode: %v", sig, i, r.route, r.decodeErr)
			}
		}
	}
}
