package console

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// samples kept for rates: one a second, for the last ten seconds.
const (
	sampleEvery = time.Second
	sampleKeep  = 11
)

// sample is the backend's received counts at one moment.
type sample struct {
	at       time.Time
	received [semconv.NumKinds]uint64
}

// sampler records the backend's counts every second, so stats can show
// rates over the last second and the last ten.
type sampler struct {
	mu   sync.Mutex
	list []sample // oldest first, at most sampleKeep
}

func (s *sampler) run(ctx context.Context, b backends.Backend) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	s.add(sample{at: time.Now(), received: b.Stats().Received})
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.add(sample{at: now, received: b.Stats().Received})
		}
	}
}

func (s *sampler) add(x sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) == sampleKeep {
		s.list = append(s.list[:0], s.list[1:]...)
	}
	s.list = append(s.list, x)
}

// before returns the newest sample taken at least d before now; ok is
// false when there is none, or it is too recent to give a rate.
func (s *sampler) before(now time.Time, d time.Duration) (sample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.list) - 1; i >= 0; i-- {
		if now.Sub(s.list[i].at) >= d {
			return s.list[i], true
		}
	}
	// Not that old yet: take the oldest if it spans a useful interval.
	if len(s.list) > 0 && now.Sub(s.list[0].at) >= 200*time.Millisecond {
		return s.list[0], true
	}
	return sample{}, false
}

func rate(cur uint64, old sample, k semconv.Kind, now time.Time, ok bool) string {
	if !ok {
		return "-"
	}
	dt := now.Sub(old.at).Seconds()
	if dt <= 0 || cur < old.received[k] {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(cur-old.received[k])/dt)
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func (c *Console) stats(context.Context, input) {
	now := time.Now()
	bs := c.opts.Backend.Stats()
	ps := c.opts.Pipeline.Stats()
	ss := c.opts.Sink.Stats()
	s1, ok1 := c.samples.before(now, time.Second)
	s10, ok10 := c.samples.before(now, 10*time.Second)

	c.printf("backend %s (%s), console up %s\n", c.opts.Backend.Name(), c.caps.OS, compactDuration(now.Sub(c.started)))
	c.printf("%-13s %10s %9s %9s %10s %10s\n", "KIND", "EVENTS", "/s (1s)", "/s (10s)", "LOST", "UNMATCHED")
	for _, k := range semconv.Kinds() {
		if bs.Received[k] == 0 && bs.Lost[k] == 0 && ps.Unmatched[k] == 0 && !c.caps.Has(k) {
			continue
		}
		c.printf("%-13s %10d %9s %9s %10d %10d\n", k, bs.Received[k],
			rate(bs.Received[k], s1, k, now, ok1), rate(bs.Received[k], s10, k, now, ok10),
			bs.Lost[k], ps.Unmatched[k])
	}
	lostNote := ""
	if bs.TotalLost() > 0 {
		lostNote = "  ← LOST events"
	}
	c.printf("%-13s %10d %9s %9s %10d%s\n", "total", bs.TotalReceived()-bs.Received[semconv.KindExisting], "", "", bs.TotalLost(), lostNote)
	if bs.Lost[semconv.KindInvalid] > 0 {
		c.printf("lost, kind not known: %d\n", bs.Lost[semconv.KindInvalid])
	}
	c.printf("backend: %d existing processes seeded, %d decode errors, %d truncated records, %d executables unreadable for their hash\n",
		bs.Existing, bs.DecodeErrors, bs.Truncated, bs.HashUnavailable)

	var filtered uint64
	for _, n := range ps.Filtered {
		filtered += n
	}
	c.printf("pipeline: table %d processes (live %d, exited %d, reaped %d), evicted %d (%d alive)\n",
		ps.TableSize, ps.Live, ps.Exited, ps.Reaped, ps.Evicted, ps.EvictedLive)
	c.printf("pipeline: %d lifetimes closed, %d events filtered out, %d lost exits, %d duplicates, %d re-parented\n",
		ps.Lifetimes, filtered, ps.LostExits, ps.Duplicates, ps.Reparented)
	c.printf("pipeline: ordering window holds %d events; %d reordered, %d late; exec attempts %d paired, %d unpaired\n",
		ps.Buffered, ps.Reordered, ps.Late, ps.PairedExecs, ps.UnpairedExecAttempts)
	if c.opts.QueueDepth != nil {
		n, capacity := c.opts.QueueDepth()
		c.printf("queue: %d of %d events waiting between backend and pipeline\n", n, capacity)
	}
	c.printf("console: %d recent events in memory (of %d), %d dropped by slow views\n",
		ss.Ring, ss.RingSize, ss.ViewDropped)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	c.printf("memory: heap %s in use, %s from the OS, %d GCs, %d goroutines\n",
		mib(m.HeapAlloc), mib(m.Sys), m.NumGC, runtime.NumGoroutine())
}
