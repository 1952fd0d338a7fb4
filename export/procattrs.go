package export

import (
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/semconv"
)

// procAttrsSize is the number of processes a procAttrs remembers (a power
// of two).
const procAttrsSize = 512

// procAttrs remembers the encoded process attributes
// (semconv.ProcessAttributes) of recent processes. Every log record of a
// process and its span carry the same ones, and encoding them is most of
// the cost of a record; a process that changed (an exec, a new parent)
// misses and is encoded again. The log and span sinks share one: entries
// are encoded as log record attributes and given the span's field number
// on the way out. Not safe for concurrent use (the Exporter's Event and
// Lifetime are called from one goroutine).
type procAttrs struct {
	attrs []attribute.KeyValue
	slots []procAttrsEntry
}

type procAttrsEntry struct {
	ok      bool
	p       semconv.Process
	created time.Time
	enc     []byte // KeyValue messages in field logAttributes
}

func newProcAttrs() *procAttrs {
	return &procAttrs{attrs: make([]attribute.KeyValue, 0, 32), slots: make([]procAttrsEntry, procAttrsSize)}
}

// append appends the process attributes of p, created at created, as
// KeyValue messages in field (logAttributes or spanAttributes).
func (c *procAttrs) append(b []byte, field int, p *semconv.Process, created time.Time) []byte {
	e := &c.slots[uint32(p.PID)&(procAttrsSize-1)]
	if !e.ok || !e.created.Equal(created) || !e.p.Equal(p) {
		c.attrs = semconv.ProcessAttributes(p, created, c.attrs[:0])
		e.enc = e.enc[:0]
		for _, kv := range c.attrs {
			e.enc = appendKeyValue(e.enc, logAttributes, kv)
		}
		e.ok, e.p, e.created = true, *p, created
	}
	if field == logAttributes {
		return append(b, e.enc...)
	}
	return retag(b, e.enc, field)
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
