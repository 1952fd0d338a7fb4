package otelcoltest

import (
	"slices"
	"strings"
	"testing"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
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
	return byResource(t, bodies, "logs", (*collogpb.ExportLogsServiceRequest).GetResourceLogs,
		func(rl *logspb.ResourceLogs) {
			for rec := range scopeItems(rl.ScopeLogs, (*logspb.ScopeLogs).GetLogRecords) {
				SortAttributes(rec.Attributes)
				if clearObserved {
					rec.ObservedTimeUnixNano = 0
				}
			}
		},
		func(have, rl *logspb.ResourceLogs) {
			have.ScopeLogs[0].LogRecords = append(have.ScopeLogs[0].LogRecords, rl.ScopeLogs[0].LogRecords...)
		})
}

// SpansByResource is LogsByResource for trace export requests.
func SpansByResource(t testing.TB, bodies [][]byte) map[string]*tracepb.ResourceSpans {
	t.Helper()
	return byResource(t, bodies, "traces", (*coltracepb.ExportTraceServiceRequest).GetResourceSpans,
		func(rs *tracepb.ResourceSpans) {
			for sp := range scopeItems(rs.ScopeSpans, (*tracepb.ScopeSpans).GetSpans) {
				SortAttributes(sp.Attributes)
			}
		},
		func(have, rs *tracepb.ResourceSpans) {
			have.ScopeSpans[0].Spans = append(have.ScopeSpans[0].Spans, rs.ScopeSpans[0].Spans...)
		})
}

// byResource decodes each body as a request of one signal and returns its
// resources keyed by the Resource's encoding, with the Resource's
// attributes sorted: resources picks them out of a request, normalize
// readies one's items for comparison, and merge adds a later one's items
// to the first of the same Resource.
func byResource[R any, PR interface {
	*R
	proto.Message
}, RS interface{ GetResource() *resourcepb.Resource }](
	t testing.TB, bodies [][]byte, signal string, resources func(PR) []RS, normalize func(RS), merge func(have, more RS),
) map[string]RS {
	t.Helper()
	out := map[string]RS{}
	for _, b := range bodies {
		req := PR(new(R))
		if err := proto.Unmarshal(b, req); err != nil {
			t.Fatalf("decode %s request: %v", signal, err)
		}
		for _, rs := range resources(req) {
			SortAttributes(rs.GetResource().Attributes)
			normalize(rs)
			key := encoding(rs.GetResource())
			if have, ok := out[key]; ok {
				merge(have, rs)
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
