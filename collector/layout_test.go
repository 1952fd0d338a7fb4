package collector

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
)

// TestLayoutsPutAsPutAttributes puts attribute lists through one
// attrLayouts, interleaved so that layouts are made, reused, moved to the
// front and evicted, and checks each map against putAttributes': the same
// keys in the same order with the same typed values.
func TestLayoutsPutAsPutAttributes(t *testing.T) {
	exec := []attribute.KeyValue{
		attribute.String("event.kind", "exec"),
		attribute.Int("process.pid", 42),
		attribute.StringSlice("process.command_args", []string{"sh", "-c", "true"}),
		attribute.Bool("exec.setuid", true),
		attribute.Float64("x", 0.25),
	}
	// The same length and last key, another key before it.
	fork := []attribute.KeyValue{
		attribute.String("event.kind", "fork"),
		attribute.Int("process.ppid", 1),
		attribute.StringSlice("process.command_args", []string{"init"}),
		attribute.Bool("exec.setuid", false),
		attribute.Float64("x", 0.5),
	}
	repeated := []attribute.KeyValue{
		attribute.String("dup", "first"),
		attribute.Int("process.pid", 7),
		attribute.String("dup", "last"),
		attribute.Int64Slice("is", []int64{1, 2}),
		attribute.BoolSlice("bs", []bool{true}),
	}
	nested := []attribute.KeyValue{
		{Key: "m", Value: attribute.MapValue(attribute.String("a", "b"))},
		attribute.String("s", ""),
		{Key: "empty"},
	}
	long := make([]attribute.KeyValue, maxLayoutKeys+1)
	for i := range long {
		long[i] = attribute.Int(fmt.Sprintf("k%d", i), i)
	}
	lists := [][]attribute.KeyValue{exec, fork, exec, repeated, nested, long, fork, nil}
	// More layouts of one length than are kept: the first ones are
	// evicted and made again.
	for i := range layoutsPerLen + 3 {
		lists = append(lists, []attribute.KeyValue{
			attribute.Int("a", i), attribute.String(fmt.Sprintf("b%d", i), "v"), attribute.Bool("c", i%2 == 0),
			attribute.Int("d", 0), attribute.Int("e", 0)})
	}
	lists = append(lists, lists...)
	lists = append(lists, exec)

	var ls attrLayouts
	for i, kvs := range lists {
		got, want := pcommon.NewMap(), pcommon.NewMap()
		ls.put(got, kvs)
		putAttributes(want, kvs)
		if g, w := mapString(got), mapString(want); g != w {
			t.Errorf("list %d: got\n%s\nwant\n%s", i, g, w)
		}
	}
	if n := len(ls.byLen[len(exec)]); n != layoutsPerLen {
		t.Errorf("%d layouts of length %d kept, want %d", n, len(exec), layoutsPerLen)
	}
	if l := ls.byLen[len(exec)][0]; !sameKeys(l.keys, exec) {
		t.Errorf("most recently used layout has keys %v, want exec's", l.keys)
	}
}

// TestLayoutsPutIntoNonEmptyMap checks that a map that already holds
// attributes keeps them, and a repeated key replaces its value.
func TestLayoutsPutIntoNonEmptyMap(t *testing.T) {
	var ls attrLayouts
	got, want := pcommon.NewMap(), pcommon.NewMap()
	for _, m := range []pcommon.Map{got, want} {
		m.PutStr("service.name", "procotel")
		m.PutInt("process.pid", 1)
	}
	kvs := []attribute.KeyValue{attribute.Int("process.pid", 2), attribute.String("host.name", "h")}
	ls.put(got, kvs)
	putAttributes(want, kvs)
	if g, w := mapString(got), mapString(want); g != w {
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
}

// mapString is m's keys, value types and values, in m's order.
func mapString(m pcommon.Map) string {
	s := ""
	for k, v := range m.All() {
		s += fmt.Sprintf("%s %s %s\n", k, v.Type(), v.AsString())
	}
	return s
}
