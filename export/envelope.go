package export

import (
	"fmt"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/procotel/procotel/semconv"
)

// envelope wraps a batch's records into an export request: one resource,
// one scope. ExportLogsServiceRequest and ExportTraceServiceRequest have
// the same shape, so one envelope serves both:
//
//	request   { 1: resource_logs / resource_spans }
//	resource  { 1: resource, 3: schema_url, 2: scope_logs / scope_spans }
//	scope     { 1: scope, 3: schema_url, 2: records… }
//
// The schema URLs come before the repeated field; protobuf decoders take
// fields in any order.
type envelope struct {
	resource []byte // resource and schema_url fields of ResourceLogs/Spans
	scope    []byte // scope and schema_url fields of ScopeLogs/Spans
}

// newEnvelope encodes the resource and scope once.
func newEnvelope(o Options) (*envelope, error) {
	res := newResource(o).res
	rpb := &resourcepb.Resource{}
	for it := res.Iter(); it.Next(); {
		rpb.Attributes = append(rpb.Attributes, keyValuePB(it.Attribute()))
	}
	rb, err := proto.Marshal(rpb)
	if err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	env := &envelope{}
	env.resource = append(appendLenHeader(nil, 1, len(rb)), rb...)
	env.resource = appendString(env.resource, 3, res.SchemaURL())

	var sc []byte // InstrumentationScope
	sc = appendString(sc, 1, scopeName)
	sc = appendString(sc, 2, o.Observer.ServiceVersion)
	env.scope = append(appendLenHeader(nil, 1, len(sc)), sc...)
	env.scope = appendString(env.scope, 3, semconv.SchemaURL)
	return env, nil
}

// headRoom is the most header bytes build writes before the records.
func (v *envelope) headRoom() int { return len(v.resource) + len(v.scope) + 2*(1+10) }

// build writes the request header into b's header room, right before the
// records, and returns the request.
func (v *envelope) build(b *batch) []byte {
	head := b.head
	scopeLen := len(v.scope) + b.recordsLen()
	resLen := len(v.resource) + sizeLenField(2, scopeLen)
	var hdr [64]byte
	h := appendLenHeader(hdr[:0], 1, resLen)
	h = append(h, v.resource...)
	h = appendLenHeader(h, 2, scopeLen)
	h = append(h, v.scope...)
	start := head - len(h)
	copy(b.buf[start:head], h)
	return b.buf[start:]
}
