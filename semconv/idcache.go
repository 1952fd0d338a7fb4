package semconv

// idCacheSize is the number of processes an IDCache remembers: a power of
// two, several times the processes a busy host has live at once.
const idCacheSize = 4096

// IDCache remembers the span and trace ids of recently seen processes, so
// that exporting the several records of one process, and of its children
// that share its trace, hashes each key once instead of once per record.
// The ids are those SpanID and TraceID compute. An IDCache is not safe
// for concurrent use: give each goroutine its own.
type IDCache struct {
	boot  BootID
	spans [idCacheSize]spanEntry
	trace [idCacheSize]traceEntry
}

type spanEntry struct {
	key Key
	ok  bool
	id  [8]byte
}

type traceEntry struct {
	key Key
	ok  bool
	id  [16]byte
}

// NewIDCache returns an empty cache for the ids of boot.
func NewIDCache(boot BootID) *IDCache { return &IDCache{boot: boot} }

// slot spreads keys over the cache: pids are sequential, and the start
// time separates a pid's reuse.
func (k Key) slot() int {
	return int((uint64(uint32(k.PID)) ^ k.Start>>20) & (idCacheSize - 1))
}

// SpanID returns SpanID(boot, k).
func (c *IDCache) SpanID(k Key) [8]byte {
	e := &c.spans[k.slot()]
	if !e.ok || e.key != k {
		*e = spanEntry{key: k, ok: true, id: SpanID(c.boot, k)}
	}
	return e.id
}

// TraceID returns TraceID(boot, k).
func (c *IDCache) TraceID(k Key) [16]byte {
	e := &c.trace[k.slot()]
	if !e.ok || e.key != k {
		*e = traceEntry{key: k, ok: true, id: TraceID(c.boot, k)}
	}
	return e.id
}

// SpanContextIDs returns SpanContextIDs(boot, p, l).
func (c *IDCache) SpanContextIDs(p *Process, l Lineage) SpanIDs {
	return spanContextIDs(c, p, l)
}

// hasher computes ids directly, for SpanContextIDs without a cache.
type hasher struct{ boot BootID }

func (h hasher) SpanID(k Key) [8]byte   { return SpanID(h.boot, k) }
func (h hasher) TraceID(k Key) [16]byte { return TraceID(h.boot, k) }
