package export

// This file writes OTLP protobuf by hand: log records and spans are
// encoded straight from the mapping's attributes into a batch buffer,
// without building OTel SDK records or protobuf messages per event. The
// output decodes to the same messages the OTel SDK's OTLP exporters send
// (wire_test.go compares them).

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Protobuf wire types.
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireI32    = 5
)

func sizeVarint(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendTag(b []byte, field, wire int) []byte {
	return appendVarint(b, uint64(field)<<3|uint64(wire))
}

func sizeTag(field int) int { return sizeVarint(uint64(field) << 3) }

// sizeLenField is the size of a length-delimited field of n bytes.
func sizeLenField(field, n int) int { return sizeTag(field) + sizeVarint(uint64(n)) + n }

func appendLenHeader(b []byte, field, n int) []byte {
	return appendVarint(appendTag(b, field, wireLen), uint64(n))
}

// appendString appends a string field, left out when empty (proto3),
// made valid UTF-8.
func appendString(b []byte, field int, s string) []byte {
	if s == "" {
		return b
	}
	s = validString(s)
	return append(appendLenHeader(b, field, len(s)), s...)
}

// validString returns s if it is valid UTF-8, as protobuf requires of a
// string field, and otherwise s with each byte that is not part of a
// valid encoding replaced by U+FFFD. Process names, paths and command
// lines are bytes to the kernel; a receiver's decoder rejects a whole
// request over one invalid string.
func validString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return replaceInvalidUTF8(s)
}

func replaceInvalidUTF8(s string) string {
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, string(utf8.RuneError)...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// validStrings returns ss, or a copy with each string made valid UTF-8
// if one is not.
func validStrings(ss []string) []string {
	for i, s := range ss {
		if !utf8.ValidString(s) {
			out := make([]string, len(ss))
			copy(out, ss[:i])
			for j := i; j < len(ss); j++ {
				out[j] = validString(ss[j])
			}
			return out
		}
	}
	return ss
}

// appendBytes appends a bytes field, left out when empty (proto3).
func appendBytes(b []byte, field int, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return append(appendLenHeader(b, field, len(v)), v...)
}

// appendUvarint appends a varint field, left out when zero (proto3).
func appendUvarint(b []byte, field int, v uint64) []byte {
	if v == 0 {
		return b
	}
	return appendVarint(appendTag(b, field, wireVarint), v)
}

// appendFixed64 appends a fixed64 field, left out when zero (proto3).
func appendFixed64(b []byte, field int, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint64(appendTag(b, field, wireI64), v)
}

// appendFixed32 appends a fixed32 field, left out when zero (proto3).
func appendFixed32(b []byte, field int, v uint32) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint32(appendTag(b, field, wireI32), v)
}

// unixNano is t in OTLP's nanoseconds since the epoch, 0 when t is before
// the epoch (as the SDK exporters do).
func unixNano(t time.Time) uint64 {
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// Field numbers of common.v1.AnyValue.
const (
	anyString = 1
	anyBool   = 2
	anyInt    = 3
	anyDouble = 4
	anyArray  = 5
)

// appendStringValue appends field as an AnyValue holding s, made valid
// UTF-8.
func appendStringValue(b []byte, field int, s string) []byte {
	s = validString(s)
	b = appendLenHeader(b, field, sizeLenField(anyString, len(s)))
	return append(appendLenHeader(b, anyString, len(s)), s...)
}

// appendKeyValue appends kv as a common.v1.KeyValue message in field:
// key (1) and an AnyValue (2) converted as the OTel SDK's exporters do.
// The types the mapping produces are encoded here directly.
func appendKeyValue(b []byte, field int, kv attribute.KeyValue) []byte {
	key := string(kv.Key)
	keyLen := sizeLenField(1, len(key))
	v := kv.Value
	switch v.Type() {
	case attribute.STRING:
		s := validString(v.AsString())
		vn := sizeLenField(anyString, len(s))
		b = appendLenHeader(b, field, keyLen+sizeLenField(2, vn))
		b = append(appendLenHeader(b, 1, len(key)), key...)
		b = appendLenHeader(b, 2, vn)
		return append(appendLenHeader(b, anyString, len(s)), s...)
	case attribute.INT64:
		x := uint64(v.AsInt64())
		vn := 1 + sizeVarint(x)
		b = appendLenHeader(b, field, keyLen+sizeLenField(2, vn))
		b = append(appendLenHeader(b, 1, len(key)), key...)
		b = appendLenHeader(b, 2, vn)
		return appendVarint(appendTag(b, anyInt, wireVarint), x)
	case attribute.BOOL:
		var x uint64
		if v.AsBool() {
			x = 1
		}
		b = appendLenHeader(b, field, keyLen+sizeLenField(2, 2))
		b = append(appendLenHeader(b, 1, len(key)), key...)
		b = appendLenHeader(b, 2, 2)
		return appendVarint(appendTag(b, anyBool, wireVarint), x)
	case attribute.FLOAT64:
		b = appendLenHeader(b, field, keyLen+sizeLenField(2, 9))
		b = append(appendLenHeader(b, 1, len(key)), key...)
		b = appendLenHeader(b, 2, 9)
		return binary.LittleEndian.AppendUint64(appendTag(b, anyDouble, wireI64), math.Float64bits(v.AsFloat64()))
	case attribute.STRINGSLICE:
		ss := validStrings(v.AsStringSlice())
		arr := 0 // ArrayValue: repeated AnyValue (1) holding strings
		for _, s := range ss {
			arr += sizeLenField(1, sizeLenField(anyString, len(s)))
		}
		vn := sizeLenField(anyArray, arr)
		b = appendLenHeader(b, field, keyLen+sizeLenField(2, vn))
		b = append(appendLenHeader(b, 1, len(key)), key...)
		b = appendLenHeader(b, 2, vn)
		b = appendLenHeader(b, anyArray, arr)
		for _, s := range ss {
			b = appendStringValue(b, 1, s)
		}
		return b
	case attribute.EMPTY:
		b = appendLenHeader(b, field, keyLen+sizeLenField(2, 0))
		b = append(appendLenHeader(b, 1, len(key)), key...)
		return appendLenHeader(b, 2, 0)
	}
	return appendKeyValueSlow(b, field, kv)
}

// appendKeyValueSlow encodes kv through the protobuf library, for value
// types the mapping does not produce. Strings are made valid UTF-8
// (keyValuePB), so marshalling does not fail; if it did, kv is left out.
func appendKeyValueSlow(b []byte, field int, kv attribute.KeyValue) []byte {
	m, err := proto.Marshal(keyValuePB(kv))
	if err != nil {
		return b
	}
	return append(appendLenHeader(b, field, len(m)), m...)
}

// keyValuePB converts kv as the OTel SDK's OTLP exporters do.
func keyValuePB(kv attribute.KeyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: validString(string(kv.Key)), Value: anyValuePB(kv.Value)}
}

func anyValuePB(v attribute.Value) *commonpb.AnyValue {
	av := new(commonpb.AnyValue)
	arr := func(n int, at func(int) *commonpb.AnyValue) {
		vals := make([]*commonpb.AnyValue, n)
		for i := range vals {
			vals[i] = at(i)
		}
		av.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}
	}
	switch v.Type() {
	case attribute.EMPTY:
	case attribute.BOOL:
		av.Value = &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}
	case attribute.INT64:
		av.Value = &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}
	case attribute.FLOAT64:
		av.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}
	case attribute.STRING:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: validString(v.AsString())}
	case attribute.BYTESLICE:
		av.Value = &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}
	case attribute.BOOLSLICE:
		s := v.AsBoolSlice()
		arr(len(s), func(i int) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: s[i]}}
		})
	case attribute.INT64SLICE:
		s := v.AsInt64Slice()
		arr(len(s), func(i int) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: s[i]}}
		})
	case attribute.FLOAT64SLICE:
		s := v.AsFloat64Slice()
		arr(len(s), func(i int) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: s[i]}}
		})
	case attribute.STRINGSLICE:
		s := validStrings(v.AsStringSlice())
		arr(len(s), func(i int) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s[i]}}
		})
	case attribute.SLICE:
		s := v.AsSlice()
		arr(len(s), func(i int) *commonpb.AnyValue { return anyValuePB(s[i]) })
	case attribute.MAP:
		m := v.AsMap()
		kvs := make([]*commonpb.KeyValue, len(m))
		for i, kv := range m {
			kvs[i] = keyValuePB(kv)
		}
		av.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}
	default:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: "INVALID"}
	}
	return av
}
