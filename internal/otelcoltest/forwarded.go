package otelcoltest

import (
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logpb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Forwarded is an in-process OTLP/HTTP server that records what the
// Collector forwarded to it: the decoded log records, spans and metrics,
// with the resource attributes each came with. Its methods are safe for
// concurrent use.
type Forwarded struct {
	// URL is the base URL to give the Collector's otlp_http exporter.
	URL string

	mu      sync.Mutex
	logs    []Log
	spans   []Span
	metrics []Metric
	srv     *http.Server
}

// Log is one forwarded log record.
type Log struct {
	Resource map[string]*commonpb.AnyValue
	Record   *logpb.LogRecord
}

// Span is one forwarded span.
type Span struct {
	Resource map[string]*commonpb.AnyValue
	Span     *tracepb.Span
}

// Metric is one forwarded metric (with its data points).
type Metric struct {
	Resource map[string]*commonpb.AnyValue
	Metric   *metricpb.Metric
}

// StartForwarded starts the server on a free loopback port; it stops at
// test cleanup.
func StartForwarded(t testing.TB) *Forwarded {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := &Forwarded{URL: "http://" + l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/logs", f.handleLogs)
	mux.HandleFunc("POST /v1/traces", f.handleTraces)
	mux.HandleFunc("POST /v1/metrics", f.handleMetrics)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip: "+err.Error(), http.StatusBadRequest)
			return nil, false
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "want application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return nil, false
	}
	return b, true
}

func (f *Forwarded) handleLogs(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	var req collogpb.ExportLogsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, "decode logs: "+err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	for _, rl := range req.ResourceLogs {
		res := attrMap(rl.GetResource().GetAttributes())
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				f.logs = append(f.logs, Log{Resource: res, Record: lr})
			}
		}
	}
	f.mu.Unlock()
	writeProto(w, &collogpb.ExportLogsServiceResponse{})
}

func (f *Forwarded) handleTraces(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, "decode traces: "+err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	for _, rs := range req.ResourceSpans {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				f.spans = append(f.spans, Span{Resource: res, Span: sp})
			}
		}
	}
	f.mu.Unlock()
	writeProto(w, &coltracepb.ExportTraceServiceResponse{})
}

func (f *Forwarded) handleMetrics(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	var req colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, "decode metrics: "+err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	for _, rm := range req.ResourceMetrics {
		res := attrMap(rm.GetResource().GetAttributes())
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				f.metrics = append(f.metrics, Metric{Resource: res, Metric: m})
			}
		}
	}
	f.mu.Unlock()
	writeProto(w, &colmetricpb.ExportMetricsServiceResponse{})
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// Logs returns the log records forwarded so far.
func (f *Forwarded) Logs() []Log {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Log(nil), f.logs...)
}

// Spans returns the spans forwarded so far.
func (f *Forwarded) Spans() []Span {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Span(nil), f.spans...)
}

// Metrics returns the metrics forwarded so far, in arrival order (a
// metric appears once per export that carried it).
func (f *Forwarded) Metrics() []Metric {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Metric(nil), f.metrics...)
}

// Counts returns how many log records and spans were forwarded so far.
func (f *Forwarded) Counts() (logs, spans int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.logs), len(f.spans)
}

// WaitFor polls until cond holds or timeout passes; it reports whether
// cond held.
func (f *Forwarded) WaitFor(timeout time.Duration, cond func(logs, spans int) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond(f.Counts()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attrMap indexes OTLP attributes by key.
func attrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}
