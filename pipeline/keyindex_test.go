package pipeline

import (
	"testing"

	"github.com/procotel/procotel/semconv"
)

// TestKeyIndex puts keys that pack and keys that do not (a pid past
// 2^22, a start time off the granularity, a negative pid, a start time
// past what the packed form holds) and finds each one again, tells apart
// keys that differ in one field only, and forgets what is deleted.
func TestKeyIndex(t *testing.T) {
	g := uint64(semconv.StartGranularity)
	keys := []semconv.Key{
		semconv.KeyOf(1, 0), semconv.KeyOf(1, g), semconv.KeyOf(2, g),
		semconv.KeyOf(1<<22-1, 1<<41*g), {PID: 1 << 22, Start: g}, {PID: 5, Start: g + 1},
		{PID: -3, Start: g}, {PID: 5, Start: 1 << 63}, semconv.KeyOf(4242, 123456789012345),
	}
	x := newKeyIndex()
	ens := make([]*entry, len(keys))
	for i, k := range keys {
		ens[i] = &entry{}
		x.put(k, ens[i])
	}
	if x.len() != len(keys) {
		t.Fatalf("%d keys indexed, want %d (two keys collided)", x.len(), len(keys))
	}
	for i, k := range keys {
		if got := x.get(k); got != ens[i] {
			t.Fatalf("key %+v: got another entry", k)
		}
	}
	if _, ok := pack(keys[4]); ok {
		t.Fatalf("pid 2^22 packed")
	}
	for i, k := range keys {
		x.del(k)
		if x.get(k) != nil || x.len() != len(keys)-i-1 {
			t.Fatalf("key %+v still found after delete (len %d)", k, x.len())
		}
	}
}
