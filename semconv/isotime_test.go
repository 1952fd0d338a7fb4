package semconv

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestISOTimeIsRFC3339Nano compares isoTime with time.Format on times that
// exercise every field: fractions with and without trailing zeros, none,
// the edges of a day and of the four-digit years, other zones, and random
// instants.
func TestISOTimeIsRFC3339Nano(t *testing.T) {
	east := time.FixedZone("east", 5*3600+30*60)
	ts := []time.Time{
		{},
		time.Date(2026, 12, 2, 1, 17, 35, 0, time.UTC),
		time.Date(2026, 12, 2, 1, 17, 35, 1, time.UTC),
		time.Date(2026, 12, 2, 1, 17, 35, 100000000, time.UTC),
		time.Date(2026, 12, 2, 1, 17, 35, 120000000, time.UTC),
		time.Date(2026, 12, 2, 1, 17, 35, 999999999, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 500, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, east),
		time.Date(0, 1, 1, 0, 0, 0, 10, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999990, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		ts = append(ts, time.Unix(r.Int64N(4102444800), r.Int64N(1e9)).In(east))
	}
	for _, tm := range ts {
		if got, want := isoTime(tm), tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("isoTime(%v) = %q, want %q", tm, got, want)
		}
	}
}
