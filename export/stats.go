package export

import (
	"sync/atomic"

	"github.com/procotel/procotel/semconv"
)

// Counts are the counters of one kind of record (or of spans).
//
// Every record handed to a signal is, at any time, in exactly one of
// Exported, DroppedExport or Pending; records refused before that are in
// DroppedQueueFull or DroppedClosed.
type Counts struct {
	// Handed counts records accepted into the exporter's queue.
	Handed uint64
	// Exported counts records the OTLP exporter reported sent.
	Exported uint64
	// DroppedQueueFull counts records refused because the queue was full.
	DroppedQueueFull uint64
	// DroppedExport counts records whose export failed after retrying.
	DroppedExport uint64
	// DroppedClosed counts records that arrived after Close.
	DroppedClosed uint64
	// Pending is Handed - Exported - DroppedExport: records queued or
	// being exported; after Close returns, records lost to the shutdown.
	Pending uint64
}

// Dropped returns the number of records dropped for any reason.
func (c Counts) Dropped() uint64 { return c.DroppedQueueFull + c.DroppedExport + c.DroppedClosed }

func (c *Counts) add(o Counts) {
	c.Handed += o.Handed
	c.Exported += o.Exported
	c.DroppedQueueFull += o.DroppedQueueFull
	c.DroppedExport += o.DroppedExport
	c.DroppedClosed += o.DroppedClosed
	c.Pending += o.Pending
}

// Stats are an Exporter's counters.
type Stats struct {
	// Logs counts log records by event kind.
	Logs [semconv.NumKinds]Counts
	// Spans counts lifetime spans.
	Spans Counts
	// Unmapped counts events of kinds that have no log record (exec
	// attempts, existing-process snapshots); the pipeline should never
	// pass them.
	Unmapped uint64
}

// LogTotals sums Logs over all kinds.
func (s Stats) LogTotals() Counts {
	var t Counts
	for _, c := range s.Logs {
		t.add(c)
	}
	return t
}

// counters are the live, atomically updated form of Counts.
type counters struct {
	handed, exported, droppedQueueFull, droppedExport, droppedClosed atomic.Uint64
}

func (c *counters) snapshot() Counts {
	// Read the outcomes before handed so Pending never underflows.
	s := Counts{
		Exported:         c.exported.Load(),
		DroppedExport:    c.droppedExport.Load(),
		DroppedQueueFull: c.droppedQueueFull.Load(),
		DroppedClosed:    c.droppedClosed.Load(),
	}
	s.Handed = c.handed.Load()
	s.Pending = s.Handed - s.Exported - s.DroppedExport
	return s
}

// gate bounds the records in flight (queued or being exported, not yet
// exported or failed) to the queue's size. Every queue-full drop happens
// here, where it is counted.
type gate struct {
	inFlight atomic.Int64
	limit    int64
}

// acquire reserves room for one record; false when the queue is full.
func (g *gate) acquire() bool {
	if g.inFlight.Add(1) > g.limit {
		g.inFlight.Add(-1)
		return false
	}
	return true
}

// release frees room for n records that left the queue.
func (g *gate) release(n int) { g.inFlight.Add(-int64(n)) }
