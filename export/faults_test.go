package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the server decompresses gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/semconv"
)

// fault is one scripted answer of a fault server: a gRPC code or an
// HTTP status (zero: success), with RetryInfo / Retry-After, or a
// success with a partial-success answer.
type fault struct {
	code       codes.Code
	retryInfo  bool          // gRPC: attach google.rpc.RetryInfo
	retryDelay time.Duration // its delay
	httpStatus int
	retryAfter string // HTTP Retry-After
	rejected   int64
	message    string
}

// attempt is one request a fault server received.
type attempt struct {
	at          time.Time
	path        string // HTTP path or gRPC method
	records     int    // log records or spans in it
	body        []byte // the request, uncompressed
	compression string // grpc-encoding / Content-Encoding
	headers     map[string]string
	ok          bool // answered with success
}

// faultServer answers OTLP exports from a script, then with success, and
// keeps every attempt.
type faultServer struct {
	mu       sync.Mutex
	script   []fault
	attempts []attempt
}

func (s *faultServer) next(a attempt) fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f fault
	if len(s.script) > 0 {
		f = s.script[0]
		s.script = s.script[1:]
	}
	a.ok = f.code == codes.OK && (f.httpStatus == 0 || f.httpStatus/100 == 2)
	s.attempts = append(s.attempts, a)
	return f
}

func (s *faultServer) all() []attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]attempt(nil), s.attempts...)
}

// received counts the records of successful attempts.
func (s *faultServer) received() int {
	n := 0
	for _, a := range s.all() {
		if a.ok {
			n += a.records
		}
	}
	return n
}

// countRecords decodes body as a logs or a trace export request and
// counts its records or spans; -1 when it is neither.
func countRecords(body []byte) int {
	n := 0
	var logs collogpb.ExportLogsServiceRequest
	if proto.Unmarshal(body, &logs) == nil {
		for _, rl := range logs.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				n += len(sl.LogRecords)
			}
		}
		return n
	}
	var spans coltracepb.ExportTraceServiceRequest
	if proto.Unmarshal(body, &spans) != nil {
		return -1
	}
	for _, rs := range spans.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	return n
}

// grpcFaults is a real gRPC server with the OTLP logs and trace services.
type grpcFaults struct {
	faultServer
	collogpb.UnimplementedLogsServiceServer
	addr string
	comp sync.Map // method → last grpc-encoding
}

// startGRPCFaults serves the logs and trace services; with noLogs the
// logs service is left out (Unimplemented, as jaeger answers).
func startGRPCFaults(t *testing.T, noLogs bool, script ...fault) *grpcFaults {
	t.Helper()
	s := &grpcFaults{}
	s.script = script
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.StatsHandler(s))
	if !noLogs {
		collogpb.RegisterLogsServiceServer(gs, s)
	}
	coltracepb.RegisterTraceServiceServer(gs, traceService{s: s})
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	s.addr = l.Addr().String()
	return s
}

func (s *grpcFaults) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (s *grpcFaults) HandleRPC(_ context.Context, st stats.RPCStats) {
	if h, ok := st.(*stats.InHeader); ok {
		s.comp.Store(h.FullMethod, h.Compression)
	}
}
func (s *grpcFaults) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (s *grpcFaults) HandleConn(context.Context, stats.ConnStats)                       {}

func (s *grpcFaults) answer(ctx context.Context, method string, req proto.Message) (int64, string, error) {
	body, _ := proto.Marshal(req)
	a := attempt{at: time.Now(), path: method, records: countRecords(body), body: body, headers: map[string]string{}}
	if c, ok := s.comp.Load(method); ok {
		a.compression = c.(string)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, v := range md {
		a.headers[k] = strings.Join(v, ",")
	}
	f := s.next(a)
	if f.code != codes.OK {
		st := status.New(f.code, "scripted "+f.code.String())
		if f.retryInfo {
			st, _ = st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(f.retryDelay)})
		}
		return 0, "", st.Err()
	}
	return f.rejected, f.message, nil
}

func (s *grpcFaults) Export(ctx context.Context, req *collogpb.ExportLogsServiceRequest) (*collogpb.ExportLogsServiceResponse, error) {
	rej, msg, err := s.answer(ctx, grpcLogsMethod, req)
	if err != nil {
		return nil, err
	}
	resp := &collogpb.ExportLogsServiceResponse{}
	if rej != 0 || msg != "" {
		resp.PartialSuccess = &collogpb.ExportLogsPartialSuccess{RejectedLogRecords: rej, ErrorMessage: msg}
	}
	return resp, nil
}

// traceService adapts grpcFaults to the trace service (its Export
// method has another signature).
type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	s *grpcFaults
}

func (t traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	rej, msg, err := t.s.answer(ctx, grpcTracesMethod, req)
	if err != nil {
		return nil, err
	}
	resp := &coltracepb.ExportTraceServiceResponse{}
	if rej != 0 || msg != "" {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rej, ErrorMessage: msg}
	}
	return resp, nil
}

// httpFaults is an OTLP/HTTP server answering from a script.
type httpFaults struct {
	faultServer
	url string
}

func startHTTPFaults(t *testing.T, script ...fault) *httpFaults {
	t.Helper()
	s := &httpFaults{}
	s.script = script
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		body := raw
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err == nil {
				body, err = io.ReadAll(zr)
			}
			if err != nil {
				body = nil
			}
		}
		a := attempt{at: time.Now(), path: r.URL.Path, records: countRecords(body), body: body,
			compression: r.Header.Get("Content-Encoding"), headers: map[string]string{}}
		for k := range r.Header {
			a.headers[strings.ToLower(k)] = r.Header.Get(k)
		}
		f := s.next(a)
		w.Header().Set("Content-Type", "application/x-protobuf")
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		if f.httpStatus/100 != 2 && f.httpStatus != 0 {
			st, _ := proto.Marshal(status.New(codes.Unknown, "scripted HTTP error").Proto())
			w.WriteHeader(f.httpStatus)
			_, _ = w.Write(st)
			return
		}
		resp := &collogpb.ExportLogsServiceResponse{}
		if f.rejected != 0 || f.message != "" {
			resp.PartialSuccess = &collogpb.ExportLogsPartialSuccess{RejectedLogRecords: f.rejected, ErrorMessage: f.message}
		}
		b, _ := proto.Marshal(resp)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// syncBuffer collects Messages.
type syncBuffer = otelcoltest.Output

// faultOptions are fast settings for the fault tests: millisecond
// backoff, small batches, messages kept.
func faultOptions(msgs io.Writer) Options {
	return Options{Boot: testBoot, Logs: true, ExportInterval: 5 * time.Millisecond, BatchSize: 2,
		RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, RetryFor: 3 * time.Second,
		Timeout: 2 * time.Second, Messages: msgs, Observer: semconv.Observer{HostName: "h1", OS: semconv.OSLinux}}
}

func grpcOptions(s *grpcFaults, msgs io.Writer) Options {
	o := faultOptions(msgs)
	o.Endpoint, o.Insecure = s.addr, true
	return o
}

func httpOptions(s *httpFaults, msgs io.Writer) Options {
	o := faultOptions(msgs)
	o.Protocol, o.Endpoint = ProtocolHTTP, s.url
	return o
}

func newFaultExporter(t *testing.T, o Options) *Exporter {
	t.Helper()
	x, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close(context.Background()) })
	return x
}

func execEvent(pid int32) *semconv.Event {
	return &semconv.Event{Kind: semconv.KindExec, OS: semconv.OSLinux, Time: bootWall, Process: proc(pid, 1, 1, 0, "/bin/true")}
}

func lifetime(pid int32) *semconv.Lifetime {
	return &semconv.Lifetime{Process: proc(pid, 1, 1, 0, "/bin/true"), OS: semconv.OSLinux, Start: bootWall,
		End: bootWall.Add(time.Millisecond), Exited: true}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settled reports whether nothing of the logs is pending.
func settled(x *Exporter) func() bool {
	return func() bool {
		s := x.Stats()
		l := s.LogTotals()
		return l.Handed > 0 && l.Pending == 0 && s.Spans.Pending == 0
	}
}
