package export

import (
	"crypto/rand"
	"time"

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

	// Span flags: the W3C sampled bit, and "whether the parent is remote
	// is known" and "is remote", as the SDK's exporters set them.
	flagSampled       = 0x01
	flagHasIsRemote   = 0x100
	flagIsRemote      = 0x200
	flagsRemoteParent = flagSampled | flagHasIsRemote | flagIsRemote
)

// spanSink turns lifetimes into OTLP spans with past timestamps and
// derived ids, encoded as they arrive. Lifetime is called from the
// pipeline's one goroutine.
type spanSink struct {
	q      *batcher
	out    sender
	ids    *semconv.IDCache // span and trace ids of recent processes
	counts counters
	now    func() time.Time

	procs *procAttrs           // encoded process attributes of recent processes
	attrs []attribute.KeyValue // reused per lifetime
	rec   []byte               // reused per lifetime
	link  []byte
}

func newSpanSink(out sender, o Options, env *envelope, procs *procAttrs, rep *reporter) *spanSink {
	s := &spanSink{
		out:   out,
		ids:   semconv.NewIDCache(o.Boot),
		now:   time.Now,
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
	if !s.q.add(0, semconv.ResourceKeyOf(&l.Process), scopeSpansSpans, s.rec, &s.counts.handed) {
		s.counts.droppedClosed.Add(1)
		s.q.gate.release(1)
	}
}

// encode appends the Span message of l: what the OTel SDK's OTLP trace
// exporters send for a span started and ended with the mapping's ids,
// times, attributes, link and status.
func (s *spanSink) encode(b []byte, l *semconv.Lifetime) []byte {
	ids := s.ids.SpanContextIDs(&l.Process, l.Lineage)
	if ids.TraceID == ([16]byte{}) || ids.SpanID == ([8]byte{}) {
		// Never derived as zero in practice; the SDK would have drawn
		// random ids for an invalid span context.
		_, _ = rand.Read(ids.TraceID[:])
		_, _ = rand.Read(ids.SpanID[:])
	}
	start, end := l.Start, l.End
	if end.Before(start) {
		end = start
	}
	// The SDK stamps a span given no time with the current time.
	if start.IsZero() {
		start = s.now()
	}
	if end.IsZero() {
		end = s.now()
	}
	flags := uint32(flagSampled | flagHasIsRemote)
	b = appendBytes(b, spanTraceID, ids.TraceID[:])
	b = appendBytes(b, spanSpanID, ids.SpanID[:])
	if ids.ParentSpanID != ([8]byte{}) {
		b = appendBytes(b, spanParentID, ids.ParentSpanID[:])
		flags = flagsRemoteParent // the parent is always a remote context
	}
	b = appendString(b, spanName, semconv.SpanName(l))
	b = appendUvarint(b, spanKind, spanKindInternal)
	b = appendFixed64(b, spanStart, unixNano(start))
	b = appendFixed64(b, spanEnd, unixNano(end))
	// semconv.LifetimeAttributes, with the process part from the cache.
	b = s.procs.append(b, spanAttributes, &l.Process, l.CreationTime())
	s.attrs = semconv.LifetimeDetailAttributes(l, s.attrs[:0])
	for _, kv := range s.attrs {
		b = appendKeyValue(b, spanAttributes, kv)
	}
	if ids.HasLink {
		lk := appendBytes(s.link[:0], linkTraceID, ids.LinkTraceID[:])
		lk = appendBytes(lk, linkSpanID, ids.LinkSpanID[:])
		lk = appendFixed32(lk, linkFlags, flagsRemoteParent)
		s.link = lk
		b = append(appendLenHeader(b, spanLinks, len(lk)), lk...)
	}
	if isErr, _, desc := semconv.SpanStatus(l); isErr {
		desc = validString(desc)
		b = appendLenHeader(b, spanStatus, sizeLenField(statusMessage, len(desc))*btoi(desc != "")+2)
		b = appendString(b, statusMessage, desc)
		b = appendUvarint(b, statusCode, statusCodeError)
	} else {
		b = appendLenHeader(b, spanStatus, 0) // the SDK always sends a status
	}
	return appendFixed32(b, spanFlags, flags)
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
