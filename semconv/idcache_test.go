package semconv

import (
	"math/rand/v2"
	"testing"
)

// The cache must return exactly what the hash functions compute, also when
// keys collide in a slot and evict each other.
func TestIDCacheMatchesHashes(t *testing.T) {
	boot := BootID("3f1c0c1e-4b52-4a8e-9d1a-2f7f0b9b6c11")
	c := NewIDCache(boot)
	r := rand.New(rand.NewPCG(1, 2))
	var keys []Key
	for i := 0; i < 3*idCacheSize; i++ {
		keys = append(keys, KeyOf(int32(r.IntN(1<<22)), r.Uint64N(1<<45)))
	}
	// Same pid, a start that lands in the same slot: a reused pid.
	keys = append(keys, Key{PID: 42, Start: 0}, Key{PID: 42, Start: idCacheSize << 20}, Key{PID: 42, Start: 0})
	for round := 0; round < 2; round++ {
		for _, k := range keys {
			if got, want := c.SpanID(k), SpanID(boot, k); got != want {
				t.Fatalf("SpanID(%v) = %x, want %x", k, got, want)
			}
			if got, want := c.TraceID(k), TraceID(boot, k); got != want {
				t.Fatalf("TraceID(%v) = %x, want %x", k, got, want)
			}
		}
	}
	if (Key{PID: 42, Start: 0}).slot() != (Key{PID: 42, Start: idCacheSize << 20}).slot() {
		t.Fatal("the collision case does not collide; the test no longer tests eviction")
	}

	self := Process{PID: 300, PPID: 200, Start: 5e9, ParentStart: 4e9}
	lineages := []Lineage{
		{},
		{Root: KeyOf(100, 1e9), Creator: KeyOf(200, 4e9)},
		{Root: self.Key(), Creator: KeyOf(250, 4e9), CreatorRoot: KeyOf(100, 1e9)},
		{Root: self.Key(), TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	for _, l := range lineages {
		if got, want := c.SpanContextIDs(&self, l), SpanContextIDs(boot, &self, l); got != want {
			t.Fatalf("lineage %+v: cached ids %+v, want %+v", l, got, want)
		}
	}
}
