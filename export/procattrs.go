package export

import (
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/semconv"
)

// procAttrs keeps the encoded process attributes
// (semconv.ProcessAttributes) of recent processes in a
// semconv.ProcessCache: identity and place per process, the program per
// program. The log and span sinks share one: the parts are encoded as log
// record attributes and given the span's field number on the way out.
// Not safe for concurrent use (the Exporter's Event and Lifetime are
// called from one goroutine).
type procAttrs struct {
	attrs []attribute.KeyValue
	cache *semconv.ProcessCache[[]byte]
}

func newProcAttrs() *procAttrs {
	c := &procAttrs{attrs: make([]attribute.KeyValue, 0, 32)}
	c.cache = semconv.NewProcessCache(func(b []byte, attrs []attribute.KeyValue) []byte {
		return c.encode(b[:0], attrs)
	})
	return c
}

// append appends the process attributes of p, created at created, as
// KeyValue messages in field (logAttributes or spanAttributes).
func (c *procAttrs) append(b []byte, field int, p *semconv.Process, created time.Time) []byte {
	ident, image, place, ok := c.cache.Parts(p, created)
	if !ok { // a cgroup's, not a process's
		for _, kv := range semconv.ProcessAttributes(p, created, c.attrs[:0]) {
			b = appendKeyValue(b, field, kv)
		}
		return b
	}
	if field == logAttributes {
		b = append(b, ident...)
		b = append(b, image...)
		return append(b, place...)
	}
	b = retag(b, ident, field)
	b = retag(b, image, field)
	return retag(b, place, field)
}

// encode appends attrs as KeyValue messages in field logAttributes.
func (c *procAttrs) encode(b []byte, attrs []attribute.KeyValue) []byte {
	for _, kv := range attrs {
		b = appendKeyValue(b, logAttributes, kv)
	}
	return b
}

// retag appends the length-delimited fields of enc, all of field
// logAttributes, with their tag set to field. Both tags are one byte.
func retag(b, enc []byte, field int) []byte {
	tag := byte(field<<3 | wireLen)
	for len(enc) > 0 {
		// enc[0] is the old tag; a varint length follows.
		n, w := uint64(0), 1
		for shift := 0; ; shift += 7 {
			c := enc[w]
			n |= uint64(c&0x7f) << shift
			w++
			if c < 0x80 {
				break
			}
		}
		end := w + int(n)
		b = append(b, tag)
		b = append(b, enc[1:end]...)
		enc = enc[end:]
	}
	return b
}
