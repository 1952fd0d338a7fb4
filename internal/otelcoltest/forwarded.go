package otelcoltest

import (
	"compress/gzip"
	"io"
	"iter"
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
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
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
	mux.HandleFunc("POST /v1/logs", handle(f, "logs", f.addLogs, &collogpb.ExportLogsServiceResponse{}))
	mux.HandleFunc("POST /v1/traces", handle(f, "traces", f.addSpans, &coltracepb.ExportTraceServiceResponse{}))
	mux.HandleFunc("POST /v1/metrics", handle(f, "metrics", f.addMetrics, &colmetricpb.ExportMetricsServiceResponse{}))
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

func (f *Forwarded) addLogs(req *collogpb.ExportLogsServiceRequest) {
	eachItem(req.ResourceLogs, (*logpb.ResourceLogs).GetScopeLogs, (*logpb.ScopeLogs).GetLogRecords,
		func(res map[string]*commonpb.AnyValue, lr *logpb.LogRecord) {
			f.logs = append(f.logs, Log{Resource: res, Record: lr})
		})
}

func (f *Forwarded) addSpans(req *coltracepb.ExportTraceServiceRequest) {
	eachItem(req.ResourceSpans, (*tracepb.ResourceSpans).GetScopeSpans, (*tracepb.ScopeSpans).GetSpans,
		func(res map[string]*commonpb.AnyValue, sp *tracepb.Span) {
			f.spans = append(f.spans, Span{Resource: res, Span: sp})
		})
}

func (f *Forwarded) addMetrics(req *colmetricpb.ExportMetricsServiceRequest) {
	eachItem(req.ResourceMetrics, (*metricpb.ResourceMetrics).GetScopeMetrics, (*metricpb.ScopeMetrics).GetMetrics,
		func(res map[string]*commonpb.AnyValue, m *metricpb.Metric) {
			f.metrics = append(f.metrics, Metric{Resource: res, Metric: m})
		})
}

// handle returns the handler of one signal's export path: it decodes the
// request, gives it to add under f.mu and answers with resp.
func handle[R any, PR interface {
	*R
	proto.Message
}](f *Forwarded, signal string, add func(PR), resp proto.Message) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, ok := readBody(w, r)
		if !ok {
			return
		}
		req := PR(new(R))
		if err := proto.Unmarshal(b, req); err != nil {
			http.Error(w, "decode "+signal+": "+err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		add(req)
		f.mu.Unlock()
		writeProto(w, resp)
	}
}

// eachItem calls add with every item (log record, span, metric) of every
// scope of every resource in rss, and the resource's attributes.
func eachItem[RS interface{ GetResource() *resourcepb.Resource }, S, I any](
	rss []RS, scopes func(RS) []S, items func(S) []I, add func(map[string]*commonpb.AnyValue, I),
) {
	for _, rs := range rss {
		res := attrMap(rs.GetResource().GetAttributes())
		for it := range scopeItems(scopes(rs), items) {
			add(res, it)
		}
	}
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

// scopeItems yields every item (log record, span, metric) of every scope.
func scopeItems[S, I any](scopes []S, items func(S) []I) iter.Seq[I] {
	return func(yield func(I) bool) {
		for _, s := range scopes {
			for _, it := range items(s) {
				if !yield(it) {
					return
				}
			}
		}
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
