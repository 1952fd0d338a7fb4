package otelcoltest

import (
	"slices"
	"strings"
	"testing"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// LogsByResource decodes OTLP log export requests and merges their records
// per Resource, in arrival order, keyed by the Resource's encoding; every
// attribute list is sorted by key, so two senders' output compares with
// proto.Equal whatever order they wrote attributes in. With
// clearObserved, records' observed times are zeroed. A request that does
// not decode fails t.
func LogsByResource(t testing.TB, bodies [][]byte, clearObserved bool) map[string]*logspb.ResourceLogs {
	t.Helper()
	out := map[string]*logspb.ResourceLogs{}
	for _, b := range bodies {
		var r collogpb.ExportLogsServiceRequest
		if err := proto.Unmarshal(b, &r); err != nil {
			t.Fatalf("decode logs request: %v", err)
		}
		for _, rl := range r.ResourceLogs {
			SortAttributes(rl.Resource.Attributes)
			for _, sl := range rl.ScopeLogs {
				for _, rec := range sl.LogRecords {
					SortAttributes(rec.Attributes)
					if clearObserved {
						rec.ObservedTimeUnixNano = 0
					}
				}
			}
			key := encoding(rl.Resource)
			if have, ok := out[key]; ok {
				have.ScopeLogs[0].LogRecords = append(have.ScopeLogs[0].LogRecords, rl.ScopeLogs[0].LogRecords...)
				continue
			}
			out[key] = rl
		}
	}
	return out
}

// SpansByResource is LogsByResource for trace export requests.
func SpansByResource(t testing.TB, bodies [][]byte) map[string]*tracepb.ResourceSpans {
	t.Helper()
	out := map[string]*tracepb.ResourceSpans{}
	for _, b := range bodies {
		var r coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &r); err != nil {
			t.Fatalf("decode traces request: %v", err)
		}
		for _, rs := range r.ResourceSpans {
			SortAttributes(rs.Resource.Attributes)
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					SortAttributes(sp.Attributes)
				}
			}
			key := encoding(rs.Resource)
			if have, ok := out[key]; ok {
				have.ScopeSpans[0].Spans = append(have.ScopeSpans[0].Spans, rs.ScopeSpans[0].Spans...)
				continue
			}
			out[key] = rs
		}
	}
	return out
}

// SortAttributes sorts kvs by key.
func SortAttributes(kvs []*commonpb.KeyValue) {
	slices.SortFunc(kvs, func(a, b *commonpb.KeyValue) int { return strings.Compare(a.Key, b.Key) })
}

func encoding(m proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return string(b)
}
