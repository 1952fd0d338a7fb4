package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/procotel/procotel/semconv"
)

// collectPoints reads every data point of rm as "name{k=v,...}" → value.
func collectPoints(t *testing.T, rm metricdata.ResourceMetrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var dps []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: monotonic %v temporality %v, want a cumulative counter", m.Name, d.IsMonotonic, d.Temporality)
				}
				dps = d.DataPoints
			case metricdata.Gauge[int64]:
				dps = d.DataPoints
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			for _, dp := range dps {
				var kvs []string
				for _, kv := range dp.Attributes.ToSlice() {
					kvs = append(kvs, string(kv.Key)+"="+kv.Value.String())
				}
				out[m.Name+"{"+strings.Join(kvs, ",")+"}"] = dp.Value
			}
		}
	}
	return out
}

func TestSelfMetrics(t *testing.T) {
	var s SelfStats
	s.Received[semconv.KindFork] = 10
	s.Received[semconv.KindExit] = 9
	s.Lost[semconv.KindExec] = 3
	s.Lost[semconv.KindInvalid] = 2
	s.Filtered[semconv.KindFork] = 4
	s.Filtered[semconv.KindExit] = 1
	s.FilteredLifetimes = 1
	s.TableSize = 42
	s.DecodeErrors = 11
	s.Throttled = 12
	s.ReapsInferred, s.LateReaps = 13, 14
	s.PipelineDropped = map[string]uint64{"invalid_event": 15, "lost_exit": 16, "evicted_live": 17}
	s.Export.Logs[semconv.KindFork] = Counts{Exported: 5, DroppedQueueFull: 1}
	s.Export.Logs[semconv.KindExit] = Counts{Exported: 7, DroppedExport: 2, DroppedClosed: 1}
	s.Export.Logs[semconv.KindExec] = Counts{DroppedPermanent: 4, DroppedRejected: 5, DroppedShutdown: 6}
	s.Export.Spans = Counts{Exported: 6, DroppedQueueFull: 3, DroppedRejected: 2}

	reader := sdkmetric.NewManualReader()
	o := testOptions()
	o.ResourceAttributes = []attribute.KeyValue{attribute.String("deployment.environment.name", "unit")}
	m, err := newMetrics(o, reader, func() SelfStats { return s })
	if err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := collectPoints(t, rm)
	want := map[string]int64{
		"procotel.events.received{kind=fork}":                          10,
		"procotel.events.received{kind=exit}":                          9,
		"procotel.events.lost{kind=exec}":                              3,
		"procotel.events.lost{kind=unknown}":                           2,
		"procotel.events.exported{signal=logs}":                        12,
		"procotel.events.exported{signal=spans}":                       6,
		"procotel.events.dropped{reason=queue_full,signal=logs}":       1,
		"procotel.events.dropped{reason=export_failed,signal=logs}":    2,
		"procotel.events.dropped{reason=closed,signal=logs}":           1,
		"procotel.events.dropped{reason=filtered,signal=logs}":         5,
		"procotel.events.dropped{reason=queue_full,signal=spans}":      3,
		"procotel.events.dropped{reason=export_failed,signal=spans}":   0,
		"procotel.events.dropped{reason=closed,signal=spans}":          0,
		"procotel.events.dropped{reason=filtered,signal=spans}":        1,
		"procotel.events.dropped{reason=permanent_error,signal=logs}":  4,
		"procotel.events.dropped{reason=rejected,signal=logs}":         5,
		"procotel.events.dropped{reason=shutdown,signal=logs}":         6,
		"procotel.events.dropped{reason=permanent_error,signal=spans}": 0,
		"procotel.events.dropped{reason=rejected,signal=spans}":        2,
		"procotel.events.dropped{reason=shutdown,signal=spans}":        0,
		"procotel.process_table.size{}":                                42,
		"procotel.events.undecodable{}":                                11,
		"procotel.execs.throttled{}":                                   12,
		"procotel.reaps.inferred{}":                                    13,
		"procotel.reaps.late{}":                                        14,
		"procotel.pipeline.dropped{reason=invalid_event}":              15,
		"procotel.pipeline.dropped{reason=lost_exit}":                  16,
		"procotel.pipeline.dropped{reason=evicted_live}":               17,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %d (present %v), want %d", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected point %s = %d", k, got[k])
		}
	}
	if v, _ := rm.Resource.Set().Value("deployment.environment.name"); v.AsString() != "unit" {
		t.Errorf("resource = %v", rm.Resource)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestNewMetricsErrors(t *testing.T) {
	src := func() SelfStats { return SelfStats{} }
	if _, err := NewMetrics(context.Background(), Options{}, nil); err == nil || !strings.Contains(err.Error(), "no source") {
		t.Errorf("nil source: %v", err)
	}
	if _, err := NewMetrics(context.Background(), Options{Protocol: "thrift"}, src); err == nil || !strings.Contains(err.Error(), "unknown OTLP protocol") {
		t.Errorf("bad protocol: %v", err)
	}
	for _, p := range []string{ProtocolGRPC, ProtocolHTTP} {
		m, err := NewMetrics(context.Background(), Options{Protocol: p, Insecure: true, Endpoint: "127.0.0.1:1", Messages: io.Discard}, src)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := m.Shutdown(ctx); err != nil { // nothing listens: the last export fails, counted
			t.Errorf("%s: Shutdown: %v", p, err)
		}
		cancel()
		if n, err := m.Failures(); n != 1 || err == nil {
			t.Errorf("%s: failures %d (%v), want 1", p, n, err)
		}
	}
}

// TestMetricsPerSignal checks that the self-metrics go periodically to
// the metrics endpoint (used as given), gzipped when asked, and that a
// failed collection is reported, once, then the recovery.
func TestMetricsPerSignal(t *testing.T) {
	srv := startHTTPFaults(t, fault{httpStatus: http.StatusServiceUnavailable}, fault{httpStatus: http.StatusServiceUnavailable})
	msgs := &syncBuffer{}
	o := Options{Protocol: ProtocolHTTP, Endpoint: "http://127.0.0.1:1", Messages: msgs, MetricInterval: 20 * time.Millisecond,
		MetricsSignal: SignalOptions{Endpoint: srv.url + "/custom/metrics", Compression: CompressionGzip}}
	m, err := NewMetrics(context.Background(), o, func() SelfStats { return SelfStats{TableSize: 3} })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "periodic exports", func() bool { return len(srv.all()) >= 4 })
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, a := range srv.all() {
		if a.path != "/custom/metrics" || a.compression != "gzip" || len(a.body) == 0 {
			t.Errorf("metrics went to %s, Content-Encoding %q, %d bytes", a.path, a.compression, len(a.body))
		}
	}
	if n, _ := m.Failures(); n != 2 {
		t.Errorf("%d failures counted, want 2", n)
	}
	out := msgs.String()
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "metrics export to "+srv.url+"/custom/metrics failed") || !strings.Contains(out, "recovered") {
		t.Errorf("messages:\n%s", out)
	}
}

// TestMetricsUnimplemented checks the report of an endpoint that serves
// no metrics (as jaeger): one line naming the way to turn them off.
func TestMetricsUnimplemented(t *testing.T) {
	srv := startGRPCFaults(t, true) // no metrics service either
	msgs := &syncBuffer{}
	o := Options{Endpoint: srv.addr, Insecure: true, Messages: msgs}
	m, err := NewMetrics(context.Background(), o, func() SelfStats { return SelfStats{} })
	if err != nil {
		t.Fatal(err)
	}
	_ = m.ForceFlush(context.Background())
	_ = m.Shutdown(context.Background())
	if out := msgs.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "OTEL_METRICS_EXPORTER=none") {
		t.Errorf("messages:\n%s", out)
	}
}

// scriptedMetricExporter answers Export from a script of errors.
type scriptedMetricExporter struct {
	sdkmetric.Exporter
	errs []error
}

func (s *scriptedMetricExporter) Export(context.Context, *metricdata.ResourceMetrics) error {
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

// An export the reader cancels to shut down is not a failure when the
// reader's last export after it has its own outcome; with none after it,
// it is counted. A cancel outside shutdown is a failure like any other.
func TestMetricsAbandonedAtShutdown(t *testing.T) {
	canceled := fmt.Errorf("failed to upload metrics: %w", context.Canceled)
	down := errors.New("503 Service Unavailable")
	for _, c := range []struct {
		name        string
		before      []error // exports before Shutdown begins
		after       []error // exports during it
		want        uint64
		wantMessage bool
	}{
		{"superseded by a success", nil, []error{canceled, nil}, 0, false},
		{"superseded by a failure", nil, []error{canceled, down}, 1, true},
		{"nothing after it", nil, []error{canceled}, 1, true},
		{"canceled before shutdown", []error{canceled, nil}, nil, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var msgs strings.Builder
			q := &quietMetricExporter{Exporter: &scriptedMetricExporter{errs: append(slices.Clone(c.before), c.after...)},
				rep: newReporter(&lineWriter{w: &msgs}, signalConfig{signal: "metrics"}, 0)}
			for range c.before {
				_ = q.Export(context.Background(), nil)
			}
			q.stop()
			for range c.after {
				_ = q.Export(context.Background(), nil)
			}
			q.settle()
			if n := q.failures.Load(); n != c.want {
				t.Errorf("%d failures counted, want %d", n, c.want)
			}
			if got := strings.Contains(msgs.String(), "failed"); got != c.wantMessage {
				t.Errorf("failure reported: %v, want %v; messages:\n%s", got, c.wantMessage, msgs.String())
			}
		})
	}
}
