package collector

import (
	"reflect"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
)

func TestPutAttributesKeepsTypes(t *testing.T) {
	m := pcommon.NewMap()
	putAttributes(m, []attribute.KeyValue{
		attribute.Bool("b", true),
		attribute.Int64("i", -7),
		attribute.Float64("d", 1.5),
		attribute.String("s", "x"),
		attribute.BoolSlice("bs", []bool{true, false}),
		attribute.Int64Slice("is", []int64{1, 2}),
		attribute.Float64Slice("ds", []float64{0.5}),
		attribute.StringSlice("ss", []string{"sh", "-c", ""}),
		attribute.String("dup", "first"),
		attribute.String("dup", "last"),
	})
	want := map[string]any{
		"b": true, "i": int64(-7), "d": 1.5, "s": "x",
		"bs": []any{true, false}, "is": []any{int64(1), int64(2)}, "ds": []any{0.5},
		"ss": []any{"sh", "-c", ""}, "dup": "last",
	}
	if got := m.AsRaw(); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if v, _ := m.Get("is"); v.Slice().At(0).Type() != pcommon.ValueTypeInt {
		t.Errorf("int slice element type %v", v.Slice().At(0).Type())
	}
}

// entries is m's keys and values in m's order.
func entries(m pcommon.Map) []any {
	var kv []any
	for k, v := range m.All() {
		kv = append(kv, k, v.AsRaw())
	}
	return kv
}

func TestPutFreshIsPutAttributes(t *testing.T) {
	lists := [][]attribute.KeyValue{
		{attribute.String("a", "1"), attribute.Int64("b", 2), attribute.Bool("c", true)},
		{attribute.String("a", "x"), attribute.Int64("b", 3), attribute.Bool("c", false)}, // same layout, new values
		{attribute.String("a", "first"), attribute.Int64("b", 2), attribute.String("a", "last"), attribute.Int64("b", 9)},
		{attribute.Int64("b", 1), attribute.String("a", "1")}, // same keys, other order
		{attribute.String("dup", "1"), attribute.String("dup", "2"), attribute.StringSlice("dup", []string{"3"})},
		{},
	}
	// More layouts than the mapper keeps, twice over, so some are
	// evicted and made again.
	for i := range 2 * maxLayouts {
		l := []attribute.KeyValue{attribute.Int("n"+strconv.Itoa(i), i)}
		for j := range i % 5 {
			l = append(l, attribute.Int(string(rune('p'+j)), j))
		}
		lists = append(lists, l, append([]attribute.KeyValue{attribute.Int("first", i)}, l...))
	}
	m := newMapper("ed291ca6-5d3d-48b9-b06c-7a1aca05c27c")
	for round := range 2 {
		for i, kvs := range lists {
			want, got := pcommon.NewMap(), pcommon.NewMap()
			putAttributes(want, kvs)
			m.putFresh(got, kvs)
			if w, g := entries(want), entries(got); !reflect.DeepEqual(g, w) {
				t.Errorf("round %d, list %d: got  %v\nwant %v", round, i, g, w)
			}
		}
	}
	if n := len(m.layouts.seen); n != maxLayouts {
		t.Errorf("the mapper keeps %d layouts, want %d", n, maxLayouts)
	}
}
