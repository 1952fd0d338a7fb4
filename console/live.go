package console

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/procotel/procotel/semconv"
	"github.com/procotel/procotel/terminal"
)

// This file holds the live views, tail and top. A view subscribes to the
// sink (taking the ring's recent events and every later one, with nothing
// lost or repeated in between), runs until the user presses Ctrl-C (or q),
// the input ends, or the event stream closes, and then reports what it
// dropped.

// DefaultTailBacklog is how many recent matching events tail prints first.
const DefaultTailBacklog = 20

// nextToken returns the token of s that starts at or after byte i, and
// the offsets of its start and end.
func nextToken(s string, i int) (tok string, start, end int) {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	start = i
	for i < len(s) && s[i] != ' ' && s[i] != '\t' {
		i++
	}
	return s[start:i], start, i
}

func (c *Console) tail(ctx context.Context, in input) {
	backlogN := DefaultTailBacklog
	off := in.off
	if tok, _, end := nextToken(in.line, off); tok == "-n" {
		num, nstart, nend := nextToken(in.line, end)
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			c.caret(in.line, len([]rune(in.line[:nstart])), "-n wants a count of recent events to show first")
			return
		}
		backlogN, off = n, nend
	}
	f, ok := c.parseFilter(in.line, off)
	if !ok {
		return
	}
	pipe := c.opts.Pipeline
	match := func(e *semconv.Event) bool { return f == nil || f.Match(e, pipe) }

	stop := c.kb.beginView()
	defer c.kb.endView()
	backlog, sub := c.opts.Sink.subscribe()
	defer sub.cancel()

	var recent []*semconv.Event
	for i := range backlog {
		if match(&backlog[i].ev) {
			recent = append(recent, &backlog[i].ev)
		}
	}
	if len(recent) > backlogN {
		recent = recent[len(recent)-backlogN:]
	}
	what := "every event"
	if f != nil {
		what = "events matching " + strconv.Quote(strings.TrimSpace(f.String()))
	}
	c.printf("-- %s: %d recent of %d in memory, then live; Ctrl-C or q stops --\n", what, len(recent), len(backlog))
	text := terminal.NewText(c.out, terminal.Options{Color: c.opts.Color, Header: true})
	for _, e := range recent {
		text.Event(e)
	}
	live := 0
	why := runView(ctx, stop, sub, nil, func(st *stamped) {
		if match(&st.ev) {
			live++
			text.Event(&st.ev)
		}
	}, nil)
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	text.Close(flushCtx)
	dropped := sub.dropped.Load() + text.Stats().Dropped
	c.printf("-- tail %s: %d recent and %d live events shown, %d dropped (terminal too slow) --\n",
		why, len(recent), live, dropped)
}

// runView hands each event of sub to event until the event stream ends,
// the user stops the view (stop) or ctx is done, calling tick on every
// value of ticks (nil: never). It returns why the view ended, for its
// closing line.
func runView(ctx context.Context, stop <-chan struct{}, sub *subscription, ticks <-chan time.Time, event func(*stamped), tick func()) string {
	for {
		select {
		case s, ok := <-sub.ch:
			if !ok {
				return "event stream ended"
			}
			event(&s)
		case <-ticks:
			tick()
		case <-stop:
			return "stopped"
		case <-ctx.Done():
			return "stopped"
		}
	}
}

// hit is one fork (counted for the parent) or exec (for the process) in
// top's window.
type hit struct {
	at   time.Time
	pid  int32
	fork bool
	name string
}

// topRows is how many processes top lists.
const topRows = 20

func (c *Console) top(ctx context.Context, in input) {
	window := 10 * time.Second
	if a := in.fields(); len(a) > 0 {
		secs, err := strconv.ParseFloat(a[0], 64)
		if len(a) > 1 || err != nil || secs <= 0 || secs > 3600 {
			c.printf("top: want a window in seconds, from 0 to 3600 (usage: top [seconds])\n")
			return
		}
		window = time.Duration(secs * float64(time.Second))
	}
	stop := c.kb.beginView()
	defer c.kb.endView()
	backlog, sub := c.opts.Sink.subscribe()
	defer sub.cancel()
	st := c.opts.Sink.Stats()
	// Events older than the ring's oldest are gone: when the ring is
	// full, the window can reach back only as far as the ring does.
	since := c.started
	if st.Ring == st.RingSize && len(backlog) > 0 {
		since = backlog[0].at
	}

	var hits []hit
	add := func(s *stamped) {
		e := &s.ev
		switch e.Kind {
		case semconv.KindFork:
			// Just after fork the child runs its parent's image.
			hits = append(hits, hit{at: s.at, pid: e.Process.PPID, fork: true, name: terminal.Escape(e.Process.Comm)})
		case semconv.KindExec:
			hits = append(hits, hit{at: s.at, pid: e.Process.PID, name: name(&e.Process)})
		}
	}
	now := time.Now()
	for i := range backlog {
		if now.Sub(backlog[i].at) <= window {
			add(&backlog[i])
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	c.renderTop(hits, window, since, sub)
	why := runView(ctx, stop, sub, tick.C, add, func() {
		cut := time.Now().Add(-window)
		i := 0
		for i < len(hits) && hits[i].at.Before(cut) {
			i++
		}
		hits = slices.Delete(hits, 0, i)
		c.renderTop(hits, window, since, sub)
	})
	c.printf("-- top %s, %d dropped (console too slow) --\n", why, sub.dropped.Load())
}

func (c *Console) renderTop(hits []hit, window time.Duration, since time.Time, sub *subscription) {
	type row struct {
		pid          int32
		forks, execs int
		name         string
	}
	rows := map[int32]*row{}
	var forks, execs int
	for _, h := range hits {
		r := rows[h.pid]
		if r == nil {
			r = &row{pid: h.pid}
			rows[h.pid] = r
		}
		if h.fork {
			r.forks++
			forks++
		} else {
			r.execs++
			execs++
		}
		if r.name == "" || !h.fork {
			r.name = h.name
		}
	}
	list := make([]*row, 0, len(rows))
	for _, r := range rows {
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b *row) int {
		if n := cmp.Compare(b.forks+b.execs, a.forks+a.execs); n != 0 {
			return n
		}
		return cmp.Compare(a.pid, b.pid)
	})
	covered := window
	if d := time.Since(since); d < covered {
		covered = d
	}
	secs := covered.Seconds()
	if secs < 1 {
		secs = 1
	}
	var b strings.Builder
	if c.interactive {
		b.WriteString("\x1b[H\x1b[2J") // home, clear screen
	} else {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "top — forks by parent and execs by process over the last %s", compactDuration(window))
	if covered < window {
		fmt.Fprintf(&b, " (data for %s)", compactDuration(covered))
	}
	fmt.Fprintf(&b, "; %s, Ctrl-C or q stops\n", time.Now().Format("15:04:05"))
	fmt.Fprintf(&b, "forks %d (%.1f/s)  execs %d (%.1f/s)  dropped %d\n", forks, float64(forks)/secs, execs, float64(execs)/secs, sub.dropped.Load())
	fmt.Fprintf(&b, "%7s %7s %7s  %-16s %s\n", "PID", "FORKS", "EXECS", "NAME", "STATE")
	for i, r := range list {
		if i == topRows {
			fmt.Fprintf(&b, "… and %d more\n", len(list)-topRows)
			break
		}
		nm, state := r.name, "?"
		if info, ok := c.opts.Pipeline.Lookup(r.pid); ok {
			nm = name(&info.Process)
			state = ending(&info)
		}
		fmt.Fprintf(&b, "%7d %7d %7d  %-16s %s\n", r.pid, r.forks, r.execs, clip(nm, 16), state)
	}
	c.print(b.String())
}
