package linux

import (
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// TestFollowClock sets the sampled wall clock forward and back and checks
// that the conversion follows a step within one resample interval and
// ignores sampling jitter.
func TestFollowClock(t *testing.T) {
	boot := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	wall := boot
	c := followClock{Clock: semconv.Clock{BootWall: boot}, sampledAt: 1, sample: func() semconv.Clock {
		return semconv.Clock{BootWall: wall}
	}}
	const s = uint64(time.Second)
	steps := []struct {
		now     uint64
		wall    time.Time
		adopted bool
		want    time.Time
	}{
		{10 * s, boot.Add(40 * time.Nanosecond), false, boot},                                      // jitter
		{10*s + uint64(time.Millisecond), boot.Add(5 * time.Second), false, boot},                  // too soon to sample again
		{11 * s, boot.Add(5 * time.Second), true, boot.Add(5 * time.Second)},                       // date -s +5s
		{12 * s, boot.Add(5*time.Second + 900*time.Microsecond), false, boot.Add(5 * time.Second)}, // slew below the threshold
		{13 * s, boot.Add(-time.Hour), true, boot.Add(-time.Hour)},                                 // set back
	}
	for i, st := range steps {
		wall = st.wall
		if got := c.refresh(st.now); got != st.adopted {
			t.Errorf("step %d: refresh at %v adopted %v, want %v", i, time.Duration(st.now), got, st.adopted)
		}
		if !c.BootWall.Equal(st.want) {
			t.Errorf("step %d: boot wall %v, want %v", i, c.BootWall, st.want)
		}
		if got, want := c.Wall(20*s), st.want.Add(20*time.Second); !got.Equal(want) {
			t.Errorf("step %d: Wall(20s) = %v, want %v", i, got, want)
		}
	}
	if c.steps != 2 {
		t.Errorf("%d steps adopted, want 2", c.steps)
	}
}
