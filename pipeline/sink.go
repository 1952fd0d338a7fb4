// Package pipeline owns the process table: it orders a backend's events,
// pairs exec attempts with their results, enriches events from what it
// knows of each process, tracks lineage, applies filters and redaction,
// and closes a lifetime when a process exits. It hands the result to sinks.
package pipeline

import (
	"context"

	"github.com/procotel/procotel/semconv"
)

// Sink consumes the pipeline's output: events, and lifetimes when they
// close. The pipeline calls Event and Lifetime from its one goroutine, in
// event order; they must not block: a sink that does I/O queues
// internally, with a bound, and counts what it drops. The pointers are
// valid only for the duration of the call; a sink that keeps data copies
// it. Close flushes what is queued (within ctx) and is idempotent.
type Sink interface {
	Event(e *semconv.Event)
	Lifetime(l *semconv.Lifetime)
	Close(ctx context.Context) error
}

// Flusher is a Sink that queues its output and writes it when told. Run
// calls Flush after each pass that handed sinks anything, before it waits
// for more: what a pass released then goes out together, and the sink
// needs no timer of its own to gather it. Flush must not block.
type Flusher interface {
	Flush()
}
