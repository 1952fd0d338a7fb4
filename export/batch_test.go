package export

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/procotel/procotel/semconv"
)

// requestSizes is a sender that keeps how many records (or spans) each
// export request held.
type requestSizes struct {
	mu    sync.Mutex
	spans bool
	sizes []int
}

func (r *requestSizes) send(_ context.Context, body []byte) (partialSuccess, error) {
	n := 0
	if r.spans {
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			return partialSuccess{}, err
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
	} else {
		var req collogpb.ExportLogsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			return partialSuccess{}, err
		}
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				n += len(sl.LogRecords)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sizes = append(r.sizes, n)
	return partialSuccess{}, nil
}

func (*requestSizes) close() error { return nil }

func (r *requestSizes) get() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.sizes...)
}

// TestSignalBatchOverrides: LogsSignal's and TracesSignal's BatchSize and
// ExportInterval shape that signal's requests and leave the other's to
// the general settings.
func TestSignalBatchOverrides(t *testing.T) {
	o := testOptions()
	o.BatchSize, o.ExportInterval = 100, time.Hour
	o.LogsSignal.BatchSize = 3
	o.TracesSignal.BatchSize, o.TracesSignal.ExportInterval = 5, 20*time.Millisecond
	logs, spans := &requestSizes{}, &requestSizes{spans: true}
	x := mustExporter(t, o, logs, spans)
	p := proc(5, 1, 1, 0, "/bin/true")
	for i := 0; i < 7; i++ {
		x.Event(&semconv.Event{Kind: semconv.KindExec, Process: p, Time: bootWall})
	}
	for i := int32(0); i < 12; i++ {
		x.Lifetime(lifetime(100 + i))
	}
	// Spans: two full batches of 5, then the last 2 after 20 ms. Logs:
	// two full batches of 3; the last record waits for the general hour.
	waitFor(t, "12 spans in requests of 5, 5, 2", func() bool { return slices.Equal(spans.get(), []int{5, 5, 2}) })
	waitFor(t, "log requests of 3, 3", func() bool { return slices.Equal(logs.get(), []int{3, 3}) })
	time.Sleep(100 * time.Millisecond)
	if got := logs.get(); !slices.Equal(got, []int{3, 3}) {
		t.Errorf("log requests %v before close, want [3 3]: the last record must wait for the general interval", got)
	}
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := logs.get(); !slices.Equal(got, []int{3, 3, 1}) {
		t.Errorf("log requests %v after close, want [3 3 1]", got)
	}
}
