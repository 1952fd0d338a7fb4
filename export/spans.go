package export

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/semconv"
)

// Field numbers of trace.v1.Span and its parts.
const (
	spanTraceID    = 1
	spanSpanID     = 2
	spanParentID   = 4
	spanName       = 5
	spanKind       = 6
	spanStart      = 7
	spanEnd        = 8
	spanAttributes = 9
	spanLinks      = 13
	spanStatus     = 15
	spanFlags      = 16

	linkTraceID = 1
	linkSpanID  = 2
	linkFlags   = 6

	statusMessage = 2
	statusCode    = 3

	scopeSpansSpans = 2 // ScopeSpans.spans

	spanKindInternal = 1
	statusCodeError  = 2
)

// spanSink turns lifetimes into OTLP spans with past timestamps and
// derived ids, encoded as they arrive. Lifetime is called from the
// pipeline's one goroutine.
type spanSink struct {
	q      *batcher
	out    sender
	ids    *semconv.IDCache // span and trace ids of recent processes
	counts counters

	procs *procAttrs           // encoded process attributes of recent processes
	attrs []attribute.KeyValue // reused per lifetime
	rec   []byte               // reused per lifetime
	link  []byte
}

func newSpanSink(out sender, o Options, env *envelope, procs *procAttrs, ids *semconv.IDCache, rep *reporter) *spanSink {
	s := &spanSink{
		out:   out,
		ids:   ids,
		procs: procs,
		attrs: make([]attribute.KeyValue, 0, 48),
		rec:   make([]byte, 0, 2048),
	}
	s.q = newBatcher(o, o.SpanQueueSize, env.headRoom(), env, out, rep, s.done)
	return s
}

// Lifetime encodes one span for l, or counts why it could not.
func (s *spanSink) Lifetime(l *semconv.Lifetime) {
	if !s.q.gate.acquire() {
		s.counts.droppedQueueFull.Add(1)
		return
	}
	s.rec = s.encode(s.rec[:0], l)
	s.q.add(0, semconv.ResourceKeyOf(&l.Process), scopeSpansSpans, s.rec, &s.counts)
}

// encode appends the Span message of l: semconv.ShapeSpan transcribed,
// with the attributes of semconv.LifetimeAttributes — what the OTel SDK's
// OTLP trace exporters send for that span.
func (s *spanSink) encode(b []byte, l *semconv.Lifetime) []byte {
	ids := s.ids.SpanContextIDs(&l.Process, l.Lineage)
	sh := semconv.ShapeSpan(l, &ids)
	b = appendBytes(b, spanTraceID, sh.TraceID[:])
	b = appendBytes(b, spanSpanID, sh.SpanID[:])
	if sh.ParentSpanID != ([8]byte{}) {
		b = appendBytes(b, spanParentID, sh.ParentSpanID[:])
	}
	b = appendString(b, spanName, sh.Name)
	b = appendUvarint(b, spanKind, spanKindInternal)
	b = appendFixed64(b, spanStart, unixNano(sh.Start))
	b = appendFixed64(b, spanEnd, unixNano(sh.End))
	// semconv.LifetimeAttributes, with the process part from the cache.
	b = s.procs.append(b, spanAttributes, &l.Process, l.CreationTime())
	s.attrs = semconv.LifetimeDetailAttributes(l, s.attrs[:0])
	for _, kv := range s.attrs {
		b = appendKeyValue(b, spanAttributes, kv)
	}
	if sh.HasLink {
		lk := appendBytes(s.link[:0], linkTraceID, sh.LinkTraceID[:])
		lk = appendBytes(lk, linkSpanID, sh.LinkSpanID[:])
		lk = appendFixed32(lk, linkFlags, sh.LinkFlags)
		s.link = lk
		b = append(appendLenHeader(b, spanLinks, len(lk)), lk...)
	}
	if sh.Error {
		msg := validString(sh.StatusMessage)
		b = appendLenHeader(b, spanStatus, sizeLenField(statusMessage, len(msg))*btoi(msg != "")+2)
		b = appendString(b, statusMessage, msg)
		b = appendUvarint(b, statusCode, statusCodeError)
	} else {
		b = appendLenHeader(b, spanStatus, 0) // the SDK always sends a status
	}
	return appendFixed32(b, spanFlags, sh.Flags)
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// done counts a batch's spans.
func (s *spanSink) done(b *batch, o outcome, rejected uint64) {
	s.counts.count(o, uint64(b.n), rejected)
}
