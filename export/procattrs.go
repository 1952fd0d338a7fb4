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
// misses and is encoded again. Not safe for concurrent use: each sink has
// its own.
type procAttrs struct {
	field int // the KeyValue field of the enclosing message
	attrs []attribute.KeyValue
	slots []procAttrsEntry
}

type procAttrsEntry struct {
	ok      bool
	p       semconv.Process
	created time.Time
	enc     []byte
}

func newProcAttrs(field int) *procAttrs {
	return &procAttrs{field: field, attrs: make([]attribute.KeyValue, 0, 32),
		slots: make([]procAttrsEntry, procAttrsSize)}
}

// append appends the process attributes of p, created at created, as
// KeyValue messages in c.field.
func (c *procAttrs) append(b []byte, p *semconv.Process, created time.Time) []byte {
	e := &c.slots[uint32(p.PID)&(procAttrsSize-1)]
	if !e.ok || !e.created.Equal(created) || !e.p.Equal(p) {
		c.attrs = semconv.ProcessAttributes(p, created, c.attrs[:0])
		e.enc = e.enc[:0]
		for _, kv := range c.attrs {
			e.enc = appendKeyValue(e.enc, c.field, kv)
		}
		e.ok, e.p, e.created = true, *p, created
	}
	return append(b, e.enc...)
}
