package collector

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/semconv"
)

// This file maps events and lifetimes onto pdata with semconv's mapping,
// the one the standalone exporter (export/) hands to the OpenTelemetry
// SDK, so both emit the same names, attributes and ids. Where the SDK
// adds something of its own to the OTLP it sends, this file does the same
// and says so.

// scopeName is the instrumentation scope of every record and span; the
// standalone exporter uses the same.
const scopeName = "github.com/procotel/procotel"

// mapper turns events and lifetimes into pdata. It is not safe for
// concurrent use: its caches are not guarded.
type mapper struct {
	ids     *semconv.IDCache // span and trace ids of recent processes
	procs   *semconv.ProcessCache[[]attribute.KeyValue]
	now     func() time.Time
	layouts layouts
}

func newMapper(boot semconv.BootID) *mapper {
	return &mapper{ids: semconv.NewIDCache(boot), now: time.Now,
		procs: semconv.NewProcessCache(func(dst, attrs []attribute.KeyValue) []attribute.KeyValue {
			return append(dst[:0], attrs...)
		})}
}

// processAttributes appends semconv.ProcessAttributes(p, created), taken
// from the mapper's cache of recent processes and programs.
func (m *mapper) processAttributes(dst []attribute.KeyValue, p *semconv.Process, created time.Time) []attribute.KeyValue {
	ident, image, place, ok := m.procs.Parts(p, created)
	if !ok {
		return semconv.ProcessAttributes(p, created, dst)
	}
	dst = append(dst, ident...)
	dst = append(dst, image...)
	return append(dst, place...)
}

// appendLogRecord appends e's log record to dst: semconv.ShapeRecord
// transcribed. It reports false, and appends nothing, for kinds that are
// never exported (exec attempts and existing-process snapshots).
func (m *mapper) appendLogRecord(dst plog.LogRecordSlice, e *semconv.Event) bool {
	ids := m.ids.SpanContextIDs(&e.Process, e.Lineage)
	shape, ok := semconv.ShapeRecord(e, &ids)
	if !ok {
		return false
	}
	r := dst.AppendEmpty()
	r.SetEventName(shape.EventName)
	r.SetTimestamp(pcommon.NewTimestampFromTime(shape.Time))
	r.SetObservedTimestamp(pcommon.NewTimestampFromTime(m.now()))
	r.SetSeverityNumber(plog.SeverityNumber(shape.SeverityNumber))
	r.SetSeverityText(shape.SeverityText)
	r.Body().SetStr(shape.Body)
	// The attributes are gathered on the stack: copied into a heap buffer
	// while the GC marks, each would cost a write barrier.
	// semconv.EventAttributes, with the process attributes from the cache.
	var buf [attrsOnStack]attribute.KeyValue
	attrs := append(buf[:0], semconv.EventKindAttribute(e))
	attrs = m.processAttributes(attrs, &e.Process, semconv.EventCreationTime(e))
	m.putFresh(r.Attributes(), semconv.EventDetailAttributes(e, attrs))
	r.SetTraceID(pcommon.TraceID(shape.TraceID))
	r.SetSpanID(pcommon.SpanID(shape.SpanID))
	r.SetFlags(plog.LogRecordFlags(shape.Flags))
	return true
}

// appendSpan appends l's span to dst: semconv.ShapeSpan transcribed.
func (m *mapper) appendSpan(dst ptrace.SpanSlice, l *semconv.Lifetime) {
	ids := m.ids.SpanContextIDs(&l.Process, l.Lineage)
	shape := semconv.ShapeSpan(l, &ids)
	s := dst.AppendEmpty()
	s.SetTraceID(pcommon.TraceID(shape.TraceID))
	s.SetSpanID(pcommon.SpanID(shape.SpanID))
	if shape.ParentSpanID != ([8]byte{}) {
		s.SetParentSpanID(pcommon.SpanID(shape.ParentSpanID))
	}
	s.SetFlags(shape.Flags)
	s.SetName(shape.Name)
	s.SetKind(ptrace.SpanKindInternal)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(shape.Start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(shape.End))
	// semconv.LifetimeAttributes, as in appendLogRecord.
	var buf [attrsOnStack]attribute.KeyValue
	attrs := m.processAttributes(buf[:0], &l.Process, l.CreationTime())
	m.putFresh(s.Attributes(), semconv.LifetimeDetailAttributes(l, attrs))
	if shape.Error {
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage(shape.StatusMessage)
	}
	if shape.HasLink {
		link := s.Links().AppendEmpty()
		link.SetTraceID(pcommon.TraceID(shape.LinkTraceID))
		link.SetSpanID(pcommon.SpanID(shape.LinkSpanID))
		link.SetFlags(shape.LinkFlags)
	}
}

// attrsOnStack is how many attributes of a record or span are gathered
// on the stack; a longer list moves to the heap.
const attrsOnStack = 40

// putAttributes puts kvs into m; a later key replaces an earlier one.
func putAttributes(m pcommon.Map, kvs []attribute.KeyValue) {
	m.EnsureCapacity(m.Len() + len(kvs))
	for _, kv := range kvs {
		// PutEmpty looks the key up itself and reuses an existing value.
		putValue(m.PutEmpty(string(kv.Key)), &kv.Value)
	}
}

// putFresh puts kvs into dst, which must be empty, as putAttributes
// would, without looking each key up in dst: it copies in the keys, with
// empty values, from the layout of kvs' keys, then sets the values in
// order. A record's attributes come in a handful of layouts, so copying
// one is cheaper than the lookups (which cost a scan of the keys put so
// far per key). A list that repeats a key is put by putAttributes.
func (m *mapper) putFresh(dst pcommon.Map, kvs []attribute.KeyValue) {
	l := m.layouts.of(kvs)
	if l.repeats {
		putAttributes(dst, kvs)
		return
	}
	l.keys.CopyTo(dst)
	i := 0
	for _, v := range dst.All() {
		putValue(v, &kvs[i].Value)
		i++
	}
}

// layout is the keys of an attribute list, in its order.
type layout struct {
	list    []attribute.Key // the list's keys, repeats included
	keys    pcommon.Map     // the distinct keys, each with an empty value
	repeats bool            // a key occurs more than once
}

func newLayout(kvs []attribute.KeyValue) *layout {
	l := &layout{list: make([]attribute.Key, len(kvs)), keys: pcommon.NewMap()}
	l.keys.EnsureCapacity(len(kvs))
	for i, kv := range kvs {
		l.list[i] = kv.Key
		l.keys.PutEmpty(string(kv.Key))
	}
	l.repeats = l.keys.Len() != len(kvs)
	return l
}

// matches reports whether kvs' keys are l's, in the same order.
func (l *layout) matches(kvs []attribute.KeyValue) bool {
	if len(kvs) != len(l.list) {
		return false
	}
	for i := range kvs {
		if kvs[i].Key != l.list[i] {
			return false
		}
	}
	return true
}

// maxLayouts bounds the layouts kept; past it, a new layout replaces the
// oldest.
const maxLayouts = 32

// layouts is the layouts of the attribute lists seen lately.
type layouts struct {
	seen []*layout
	next int // the one to replace when seen is full
}

// of returns the layout of kvs' keys.
func (c *layouts) of(kvs []attribute.KeyValue) *layout {
	for _, l := range c.seen {
		if l.matches(kvs) {
			return l
		}
	}
	l := newLayout(kvs)
	if len(c.seen) < maxLayouts {
		c.seen = append(c.seen, l)
	} else {
		c.seen[c.next] = l
		c.next = (c.next + 1) % maxLayouts
	}
	return l
}

// putSlice makes dst a slice of xs, each element set by set.
func putSlice[T any](dst pcommon.Value, xs []T, set func(pcommon.Value, T)) {
	s := dst.SetEmptySlice()
	s.EnsureCapacity(len(xs))
	for _, x := range xs {
		set(s.AppendEmpty(), x)
	}
}

// putValue sets dst to a, keeping its type: slices become pcommon slices
// of the element type, maps become maps.
func putValue(dst pcommon.Value, a *attribute.Value) {
	switch a.Type() {
	case attribute.BOOL:
		dst.SetBool(a.AsBool())
	case attribute.INT64:
		dst.SetInt(a.AsInt64())
	case attribute.FLOAT64:
		dst.SetDouble(a.AsFloat64())
	case attribute.STRING:
		dst.SetStr(a.AsString())
	case attribute.BOOLSLICE:
		putSlice(dst, a.AsBoolSlice(), pcommon.Value.SetBool)
	case attribute.INT64SLICE:
		putSlice(dst, a.AsInt64Slice(), pcommon.Value.SetInt)
	case attribute.FLOAT64SLICE:
		putSlice(dst, a.AsFloat64Slice(), pcommon.Value.SetDouble)
	case attribute.STRINGSLICE:
		putSlice(dst, a.AsStringSlice(), pcommon.Value.SetStr)
	case attribute.BYTESLICE:
		dst.SetEmptyBytes().FromRaw(a.AsByteSlice())
	case attribute.SLICE:
		s := dst.SetEmptySlice()
		for _, x := range a.AsSlice() {
			putValue(s.AppendEmpty(), &x)
		}
	case attribute.MAP:
		putAttributes(dst.SetEmptyMap(), a.AsMap())
	default:
		// EMPTY: an attribute without a value stays an empty value.
	}
}

// appendResourceLogs adds to ld one resource with the attributes res and
// one scope, and returns the slice its records go to.
func appendResourceLogs(ld plog.Logs, res []attribute.KeyValue, version string) plog.LogRecordSlice {
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	rl.SetSchemaUrl(semconv.SchemaURL)
	sl.SetSchemaUrl(semconv.SchemaURL)
	describeResource(rl.Resource(), res, sl.Scope(), version)
	return sl.LogRecords()
}

// appendResourceSpans adds to td one resource with the attributes res and
// one scope, and returns the slice its spans go to.
func appendResourceSpans(td ptrace.Traces, res []attribute.KeyValue, version string) ptrace.SpanSlice {
	rs := td.ResourceSpans().AppendEmpty()
	ss := rs.ScopeSpans().AppendEmpty()
	rs.SetSchemaUrl(semconv.SchemaURL)
	ss.SetSchemaUrl(semconv.SchemaURL)
	describeResource(rs.Resource(), res, ss.Scope(), version)
	return ss.Spans()
}

// describeResource gives a resource the attributes res, and its scope
// procotel's name and the version version.
func describeResource(r pcommon.Resource, res []attribute.KeyValue, scope pcommon.InstrumentationScope, version string) {
	putAttributes(r.Attributes(), res)
	scope.SetName(scopeName)
	scope.SetVersion(version)
}
