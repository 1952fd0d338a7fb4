package collector

import (
	"reflect"
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
