package export

import (
	"fmt"

	"go.opentelemetry.io/otel/sdk/resource"
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
// fields in any order. The host's envelope carries the observer's
// Resource; each container or jail has its own (semconv.ResourceKey),
// made by forKey and kept by the batcher.
type envelope struct {
	base     *resource.Resource // the observer's Resource, under every key's
	resource []byte             // resource and schema_url fields of ResourceLogs/Spans
	scope    []byte             // scope and schema_url fields of ScopeLogs/Spans
}

// newEnvelope encodes the host's resource and the scope once.
func newEnvelope(o Options) (*envelope, error) {
	env := &envelope{base: newResource(o).res}
	if err := env.encodeResource(env.base); err != nil {
		return nil, err
	}
	var sc []byte // InstrumentationScope
	sc = appendString(sc, 1, scopeName)
	sc = appendString(sc, 2, o.Observer.ServiceVersion)
	env.scope = append(appendLenHeader(nil, 1, len(sc)), sc...)
	env.scope = appendString(env.scope, 3, semconv.SchemaURL)
	return env, nil
}

func (v *envelope) encodeResource(res *resource.Resource) error {
	rpb := &resourcepb.Resource{}
	for it := res.Iter(); it.Next(); {
		rpb.Attributes = append(rpb.Attributes, keyValuePB(it.Attribute()))
	}
	rb, err := proto.Marshal(rpb)
	if err != nil {
		return fmt.Errorf("encode resource: %w", err)
	}
	v.resource = append(appendLenHeader(nil, 1, len(rb)), rb...)
	v.resource = appendString(v.resource, 3, res.SchemaURL())
	return nil
}

// forKey returns the envelope of the Resource of key: the host's for the
// host key, else the observer's attributes with the key's on top.
func (v *envelope) forKey(key semconv.ResourceKey) *envelope {
	if key.IsHost() {
		return v
	}
	res, err := resource.Merge(v.base, resource.NewWithAttributes(v.base.SchemaURL(), key.Attributes(nil)...))
	if err != nil {
		res = v.base
	}
	k := &envelope{base: v.base, scope: v.scope}
	if k.encodeResource(res) != nil {
		return v
	}
	return k
}

// headRoom is the most header bytes build writes before the records for
// the host's Resource, with room for a container's attributes on top (a
// larger one is copied).
func (v *envelope) headRoom() int { return len(v.resource) + len(v.scope) + 2*(1+10) + 256 }

// build writes the request header into b's header room, right before the
// records, and returns the request.
func (v *envelope) build(b *batch) []byte {
	head := b.head
	scopeLen := len(v.scope) + b.recordsLen()
	resLen := len(v.resource) + sizeLenField(2, scopeLen)
	var hdr [512]byte
	h := appendLenHeader(hdr[:0], 1, resLen)
	h = append(h, v.resource...)
	h = appendLenHeader(h, 2, scopeLen)
	h = append(h, v.scope...)
	if len(h) > head {
		// A container Resource larger than the room the batch keeps.
		return append(h, b.buf[head:]...)
	}
	start := head - len(h)
	copy(b.buf[start:head], h)
	return b.buf[start:]
}
