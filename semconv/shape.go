package semconv

import "time"

// This file decides, once, what OTLP says of an event and of a lifetime
// besides their attributes: ids, flags, name, body, severity, times,
// status and links. The standalone exporter's wire encoder and the
// Collector receiver's pdata mapping only transcribe a RecordShape and a
// SpanShape, so both emit the same OTLP.

// OTLP span and link flag bits (opentelemetry-proto SpanFlags): the low
// byte holds the W3C trace flags.
const (
	SpanFlagHasIsRemote uint32 = 0x100
	SpanFlagIsRemote    uint32 = 0x200
)

// TraceFlagsSampled is the W3C trace flags byte of every record and span
// procotel emits. procotel records every process the kernel reports, so
// everything it exports is sampled; an inherited TRACEPARENT gives a
// process its trace id and parent span id, but not its sampling decision:
// a back end that drops unsampled spans would otherwise lose processes
// procotel did see (the traceparent's flags are not copied).
const TraceFlagsSampled byte = 0x01

// RecordShape is one log record as OTLP carries it, attributes aside.
type RecordShape struct {
	EventName      string
	Time           time.Time // when it happened
	SeverityNumber int
	SeverityText   string
	Body           string
	TraceID        [16]byte
	SpanID         [8]byte
	Flags          uint32 // LogRecord.flags: the W3C trace flags
}

// ShapeRecord returns the record of e, whose process has the span ids ids.
// ok is false for kinds that never become records (exec attempts,
// existing-process snapshots).
func ShapeRecord(e *Event, ids *SpanIDs) (r RecordShape, ok bool) {
	name := EventName(e.Kind)
	if name == "" {
		return RecordShape{}, false
	}
	num, text := EventSeverity(e)
	return RecordShape{
		EventName:      name,
		Time:           e.Time,
		SeverityNumber: num,
		SeverityText:   text,
		Body:           EventBody(e),
		TraceID:        ids.TraceID,
		SpanID:         ids.SpanID,
		Flags:          uint32(ids.TraceFlags),
	}, true
}

// SpanShape is one process span as OTLP carries it, attributes aside.
type SpanShape struct {
	TraceID      [16]byte
	SpanID       [8]byte
	ParentSpanID [8]byte // zero for a root without an inherited context
	// Flags are the W3C trace flags with SpanFlagHasIsRemote, and
	// SpanFlagIsRemote when there is a parent: every parent is a remote
	// context to the exporter (derived, or inherited), never a span it
	// started itself.
	Flags uint32
	Name  string
	// Kind is always INTERNAL.
	Start, End time.Time
	// Error is true for a process that exited non-zero or was killed;
	// StatusMessage then describes it. Otherwise the status is unset.
	Error         bool
	StatusMessage string
	// Link, when HasLink, is the creating process's span in another trace.
	HasLink     bool
	LinkTraceID [16]byte
	LinkSpanID  [8]byte
	LinkFlags   uint32
}

// ShapeSpan returns the span of l, whose process has the span ids ids.
// Its start is the process's creation; its end the exit (or the flush of
// an incomplete lifetime), never before the start. A lifetime whose start
// is unknown starts when it ends: no clock is read here, so both paths give
// the same times.
func ShapeSpan(l *Lifetime, ids *SpanIDs) SpanShape {
	s := SpanShape{
		TraceID: ids.TraceID,
		SpanID:  ids.SpanID,
		Flags:   uint32(ids.TraceFlags) | SpanFlagHasIsRemote,
		Name:    SpanName(l),
		Start:   l.Start,
		End:     l.End,
	}
	if s.Start.IsZero() {
		s.Start = s.End
	}
	if s.End.Before(s.Start) {
		s.End = s.Start
	}
	if ids.ParentSpanID != ([8]byte{}) {
		s.ParentSpanID = ids.ParentSpanID
		s.Flags |= SpanFlagIsRemote
	}
	s.Error, _, s.StatusMessage = SpanStatus(l)
	if ids.HasLink {
		s.HasLink = true
		s.LinkTraceID, s.LinkSpanID = ids.LinkTraceID, ids.LinkSpanID
		// The creator's trace is one procotel rooted: sampled.
		s.LinkFlags = uint32(TraceFlagsSampled) | SpanFlagHasIsRemote | SpanFlagIsRemote
	}
	return s
}
