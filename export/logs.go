package export

import (
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/semconv"
)

// Field numbers of logs.v1.LogRecord and of the messages around it.
const (
	logTime         = 1
	logSeverity     = 2
	logSeverityText = 3
	logBody         = 5
	logAttributes   = 6
	logFlags        = 8
	logTraceID      = 9
	logSpanID       = 10
	logObserved     = 11
	logEventName    = 12

	scopeLogsRecords = 2 // ScopeLogs.log_records
)

// logSink turns events into OTLP log records, encoded as they arrive.
// Event is called from the pipeline's one goroutine; the counters are
// shared with the export goroutine.
type logSink struct {
	q      *batcher
	out    sender
	ids    *semconv.IDCache // span and trace ids of recent processes
	counts *[semconv.NumKinds]counters
	now    func() time.Time

	procs *procAttrs           // encoded process attributes of recent processes
	attrs []attribute.KeyValue // reused per event
	rec   []byte               // reused per event
}

// newLogSink builds the sink over out, an OTLP (or test) sender.
func newLogSink(out sender, o Options, env *envelope, procs *procAttrs, ids *semconv.IDCache, rep *reporter) *logSink {
	s := &logSink{
		out:    out,
		ids:    ids,
		counts: new([semconv.NumKinds]counters),
		now:    time.Now,
		procs:  procs,
		attrs:  make([]attribute.KeyValue, 0, 48),
		rec:    make([]byte, 0, 2048),
	}
	s.q = newBatcher(o, o.LogQueueSize, env.headRoom(), env, out, rep, s.done)
	return s
}

// Event encodes one log record for e, or counts why it could not.
func (s *logSink) Event(e *semconv.Event) (accepted bool) {
	name := semconv.EventName(e.Kind)
	if name == "" {
		return false
	}
	c := &s.counts[e.Kind]
	if !s.q.gate.acquire() {
		c.droppedQueueFull.Add(1)
		return true
	}
	s.rec = s.encode(s.rec[:0], e, name)
	s.q.add(e.Kind, semconv.ResourceKeyOf(&e.Process), scopeLogsRecords, s.rec, c)
	return true
}

// encode appends the LogRecord message of e: semconv.ShapeRecord
// transcribed, with the attributes of semconv.EventAttributes — what the
// OTel SDK's OTLP log exporters send for that record.
func (s *logSink) encode(b []byte, e *semconv.Event, name string) []byte {
	ids := s.ids.SpanContextIDs(&e.Process, e.Lineage)
	sh, _ := semconv.ShapeRecord(e, &ids) // name != "": the kind becomes a record
	b = appendFixed64(b, logTime, unixNano(sh.Time))
	b = appendUvarint(b, logSeverity, uint64(sh.SeverityNumber))
	b = appendString(b, logSeverityText, sh.SeverityText)
	b = appendStringValue(b, logBody, sh.Body)
	// semconv.EventAttributes, with the process part from the cache.
	b = appendKeyValue(b, logAttributes, semconv.EventKindAttribute(e))
	b = s.procs.append(b, logAttributes, &e.Process, semconv.EventCreationTime(e))
	s.attrs = semconv.EventDetailAttributes(e, s.attrs[:0])
	for _, kv := range s.attrs {
		b = appendKeyValue(b, logAttributes, kv)
	}
	b = appendFixed32(b, logFlags, sh.Flags)
	if sh.TraceID != ([16]byte{}) {
		b = appendBytes(b, logTraceID, sh.TraceID[:])
	}
	if sh.SpanID != ([8]byte{}) {
		b = appendBytes(b, logSpanID, sh.SpanID[:])
	}
	b = appendFixed64(b, logObserved, unixNano(s.now()))
	return appendString(b, logEventName, sh.EventName)
}

// done counts a batch's records per kind. A partial success does not
// say which records were rejected: the rejected count is charged to the
// batch's kinds in kind order.
func (s *logSink) done(b *batch, o outcome, rejected uint64) {
	for k, n := range b.kinds {
		if n != 0 {
			rejected = s.counts[k].count(o, uint64(n), rejected)
		}
	}
}

func (s *logSink) snapshot(st *Stats) {
	for k := range s.counts {
		st.Logs[k] = s.counts[k].snapshot()
	}
}

func (s *logSink) countClosed(k semconv.Kind) {
	if semconv.EventName(k) != "" {
		s.counts[k].droppedClosed.Add(1)
	}
}
