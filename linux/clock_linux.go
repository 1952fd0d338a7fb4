package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/semconv"
)

// bootClock computes the wall-clock time of boot from CLOCK_REALTIME and
// CLOCK_BOOTTIME, taking the closest of a few paired readings.
func bootClock() semconv.Clock {
	var best time.Time
	bestGap := time.Duration(1 << 62)
	for i := 0; i < 5; i++ {
		var b1, r, b2 unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b1)
		_ = unix.ClockGettime(unix.CLOCK_REALTIME, &r)
		_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b2)
		gap := time.Duration(b2.Nano() - b1.Nano())
		if gap < bestGap {
			bestGap = gap
			mid := (b1.Nano() + b2.Nano()) / 2
			best = time.Unix(0, r.Nano()-mid)
		}
	}
	return semconv.Clock{BootWall: best}
}

// Resampling the wall clock: the kernel stamps events on CLOCK_BOOTTIME,
// which no one sets, and the reader converts them with the wall-clock
// time of boot. That time moves whenever the wall clock is set: an NTP
// step at boot (an agent starts before time is synchronized), a VM
// resumed from a snapshot, date -s. The reader samples it again every
// clockResample and adopts the new value when it moved by more than
// clockStep, so event times follow the wall clock within one interval,
// while the jitter of sampling (tens of nanoseconds) and slow NTP slew
// do not change the conversion from one event to the next:
// process.creation.time, derived from it, stays the same on every
// record of a process unless the clock really moved.
const (
	clockResample = 250 * time.Millisecond
	clockStep     = time.Millisecond
)

// followClock is the reader's boot-to-wall conversion, kept current.
type followClock struct {
	semconv.Clock
	// sampledAt is the boot time of the last sample.
	sampledAt uint64
	// sample reads the conversion from the system (bootClock).
	sample func() semconv.Clock
	// steps counts the adopted changes.
	steps uint64
}

// refresh samples the conversion when clockResample passed since the
// last sample at boot time now and adopts it when it moved by more than
// clockStep. It reports whether it did.
func (c *followClock) refresh(now uint64) bool {
	if now-c.sampledAt < uint64(clockResample) && c.sampledAt != 0 {
		return false
	}
	c.sampledAt = now
	s := c.sample()
	if d := s.BootWall.Sub(c.BootWall); d <= clockStep && d >= -clockStep {
		return false
	}
	c.Clock = s
	c.steps++
	return true
}
