package export

import (
	"strconv"
	"sync/atomic"

	"github.com/procotel/procotel/semconv"
)

// Counts are the counters of one kind of record (or of spans).
//
// Every record given to a signal is counted once: refused at once
// (DroppedQueueFull, DroppedClosed) or Handed; every handed record is,
// at any time, Pending or in exactly one of Exported, DroppedExport,
// DroppedPermanent, DroppedRejected and DroppedShutdown. After Close
// returns nothing is Pending, so records given = Exported + Dropped().
type Counts struct {
	// Handed counts records accepted into the exporter's queue.
	Handed uint64
	// Exported counts records the OTLP endpoint accepted.
	Exported uint64
	// DroppedQueueFull counts records refused because the queue was full
	// (reason queue_full).
	DroppedQueueFull uint64
	// DroppedExport counts records whose export still failed, with a
	// retryable error, when retrying ended (reason export_failed).
	DroppedExport uint64
	// DroppedPermanent counts records of batches the endpoint refused
	// with a permanent error, not retried (reason permanent_error).
	DroppedPermanent uint64
	// DroppedRejected counts records the endpoint's partial-success
	// answer rejected (reason rejected).
	DroppedRejected uint64
	// DroppedShutdown counts records still queued, or being retried,
	// when Close's deadline passed (reason shutdown).
	DroppedShutdown uint64
	// DroppedClosed counts records that arrived after Close (reason
	// closed).
	DroppedClosed uint64
	// Pending counts handed records neither exported nor dropped yet:
	// queued or being exported. Zero after Close returns.
	Pending uint64
}

// The drop reasons of Counts and of the procotel.events.dropped metric.
const (
	ReasonQueueFull    = "queue_full"
	ReasonExportFailed = "export_failed"
	ReasonPermanent    = "permanent_error"
	ReasonRejected     = "rejected"
	ReasonShutdown     = "shutdown"
	ReasonClosed       = "closed"
	ReasonFiltered     = "filtered" // kept back by the pipeline's filter; not in Counts
)

// DropReasons are the reasons Counts tells apart, in report order.
var DropReasons = []string{ReasonQueueFull, ReasonExportFailed, ReasonPermanent, ReasonRejected, ReasonShutdown, ReasonClosed}

// DroppedBy returns the records dropped for reason (one of DropReasons).
func (c Counts) DroppedBy(reason string) uint64 {
	switch reason {
	case ReasonQueueFull:
		return c.DroppedQueueFull
	case ReasonExportFailed:
		return c.DroppedExport
	case ReasonPermanent:
		return c.DroppedPermanent
	case ReasonRejected:
		return c.DroppedRejected
	case ReasonShutdown:
		return c.DroppedShutdown
	case ReasonClosed:
		return c.DroppedClosed
	}
	return 0
}

// DropsByReason lists, in DropReasons order, each reason that dropped
// any records as "reason N".
func (c Counts) DropsByReason() []string {
	var out []string
	for _, r := range DropReasons {
		if n := c.DroppedBy(r); n > 0 {
			out = append(out, r+" "+strconv.FormatUint(n, 10))
		}
	}
	return out
}

// Dropped returns the number of records dropped for any reason.
func (c Counts) Dropped() uint64 {
	return c.DroppedQueueFull + c.DroppedExport + c.DroppedPermanent + c.DroppedRejected + c.DroppedShutdown + c.DroppedClosed
}

// Given returns the records given to the signal: Handed and those
// refused at once.
func (c Counts) Given() uint64 { return c.Handed + c.DroppedQueueFull + c.DroppedClosed }

func (c *Counts) add(o Counts) {
	c.Handed += o.Handed
	c.Exported += o.Exported
	c.DroppedQueueFull += o.DroppedQueueFull
	c.DroppedExport += o.DroppedExport
	c.DroppedPermanent += o.DroppedPermanent
	c.DroppedRejected += o.DroppedRejected
	c.DroppedShutdown += o.DroppedShutdown
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

// outcome is what became of a batch.
type outcome int

const (
	outcomeExported outcome = iota
	outcomeExportFailed
	outcomePermanent
	outcomeShutdown
)

// counters are the live, atomically updated form of Counts.
type counters struct {
	handed, exported, droppedQueueFull, droppedExport, droppedPermanent,
	droppedRejected, droppedShutdown, droppedClosed atomic.Uint64
}

// count adds n records of a batch with outcome o, of which rejected (at
// most n) the server rejected; it returns what is left of rejected.
func (c *counters) count(o outcome, n, rejected uint64) uint64 {
	switch o {
	case outcomeExported:
		r := min(n, rejected)
		c.droppedRejected.Add(r)
		c.exported.Add(n - r)
		return rejected - r
	case outcomeExportFailed:
		c.droppedExport.Add(n)
	case outcomePermanent:
		c.droppedPermanent.Add(n)
	case outcomeShutdown:
		c.droppedShutdown.Add(n)
	}
	return rejected
}

func (c *counters) snapshot() Counts {
	// Read the outcomes before handed so Pending never underflows.
	s := Counts{
		Exported:         c.exported.Load(),
		DroppedExport:    c.droppedExport.Load(),
		DroppedPermanent: c.droppedPermanent.Load(),
		DroppedRejected:  c.droppedRejected.Load(),
		DroppedShutdown:  c.droppedShutdown.Load(),
		DroppedQueueFull: c.droppedQueueFull.Load(),
		DroppedClosed:    c.droppedClosed.Load(),
	}
	s.Handed = c.handed.Load()
	s.Pending = s.Handed - s.Exported - s.DroppedExport - s.DroppedPermanent - s.DroppedRejected - s.DroppedShutdown
	return s
}

// gate bounds the records in flight (queued or being exported, not yet
// exported or failed) to the queue's size, and the bytes that hold them
// to the queue's byte bound. Every queue-full drop happens here, where it
// is counted.
type gate struct {
	inFlight atomic.Int64
	limit    int64
	bytes    atomic.Int64
	maxBytes int64
}

// acquire reserves room for one record; false when the queue is full.
func (g *gate) acquire() bool {
	if g.inFlight.Add(1) > g.limit {
		g.inFlight.Add(-1)
		return false
	}
	return true
}

// acquireBytes reserves n bytes for a record whose slot is held; false
// when they would pass the byte bound.
func (g *gate) acquireBytes(n int) bool {
	if g.bytes.Add(int64(n)) > g.maxBytes {
		g.bytes.Add(-int64(n))
		return false
	}
	return true
}

// release frees room for n records, held in size bytes, that left the
// queue.
func (g *gate) release(n, size int) {
	g.inFlight.Add(-int64(n))
	g.bytes.Add(-int64(size))
}
