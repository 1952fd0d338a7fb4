package export

import (
	"sync"

	"github.com/procotel/procotel/semconv"
)

// traceTable remembers the trace id of recently seen processes, so that a
// trace root's span can link to its parent's span, which lies in another
// trace: the contract carries the parent's key but not the parent's root.
//
// It holds at most 2*generation entries: when the current generation
// fills, it becomes the previous one and the older is forgotten. Processes
// seen in neither generation get no link.
type traceTable struct {
	mu         sync.Mutex
	generation int
	cur, prev  map[semconv.Key][16]byte
}

func newTraceTable(generation int) *traceTable {
	return &traceTable{generation: generation, cur: make(map[semconv.Key][16]byte, generation)}
}

// ids derives the span ids of p and remembers its trace id.
func (t *traceTable) ids(boot semconv.BootID, p *semconv.Process, root semconv.Key, traceparent string) semconv.SpanIDs {
	t.mu.Lock()
	defer t.mu.Unlock()
	var parentTrace [16]byte
	if pk := p.ParentKey(); !pk.IsZero() {
		parentTrace = t.lookup(pk)
	}
	ids := semconv.SpanContextIDs(boot, p, root, traceparent, parentTrace)
	k := p.Key()
	if old, ok := t.cur[k]; !ok || old != ids.TraceID {
		if len(t.cur) >= t.generation {
			t.prev, t.cur = t.cur, make(map[semconv.Key][16]byte, t.generation)
		}
		t.cur[k] = ids.TraceID
	}
	return ids
}

func (t *traceTable) lookup(k semconv.Key) [16]byte {
	if id, ok := t.cur[k]; ok {
		return id
	}
	return t.prev[k]
}
