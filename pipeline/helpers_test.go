package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

const ms = uint64(time.Millisecond)

// boot is the wall-clock time of boot in the synthetic streams.
var boot = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ns uint64) time.Time { return boot.Add(time.Duration(ns)) }

// recorder is a Sink that keeps copies of everything it is given.
type recorder struct {
	mu        sync.Mutex
	events    []semconv.Event
	lifetimes []semconv.Lifetime
	order     []string // "e:<kind> <pid>" and "l:<pid>" in call order
	closed    int
	onEvent   func(e *semconv.Event)
}

func (r *recorder) Event(e *semconv.Event) {
	if r.onEvent != nil {
		r.onEvent(e)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, *e)
	r.order = append(r.order, fmt.Sprintf("e:%s %d", e.Kind, e.Process.PID))
}

func (r *recorder) Lifetime(l *semconv.Lifetime) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *l
	c.Execs = append([]semconv.ExecRecord(nil), l.Execs...)
	r.lifetimes = append(r.lifetimes, c)
	r.order = append(r.order, fmt.Sprintf("l:%d", l.Process.PID))
}

func (r *recorder) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

// run feeds evs through a new pipeline over a closed channel (so the
// window is flushed at the end) and returns what the sink received.
func run(t *testing.T, cfg Config, evs ...semconv.Event) (*recorder, *Pipeline) {
	t.Helper()
	return runHook(t, cfg, nil, evs...)
}

// runHook is run with hook called for each event the sink is given, while
// Run delivers it (sinks may use the views then).
func runHook(t *testing.T, cfg Config, hook func(p *Pipeline, e *semconv.Event), evs ...semconv.Event) (*recorder, *Pipeline) {
	t.Helper()
	rec := &recorder{}
	p := New(cfg, rec)
	if hook != nil {
		rec.onEvent = func(e *semconv.Event) { hook(p, e) }
	}
	// A frozen clock: only kernel time releases events, so the order
	// does not depend on how fast the test runs.
	frozen := time.Now()
	p.now = func() time.Time { return frozen }
	if err := p.Run(context.Background(), semconv.QueueOf(evs...)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rec, p
}

// Event builders, as a backend would send them.

func proc(pid, ppid int32, start uint64) semconv.Process {
	return semconv.Process{PID: pid, TID: pid, PPID: ppid, Start: start}
}

func existing(pid, ppid int32, start uint64, pgid, sid int32, exe string, argv ...string) semconv.Event {
	p := proc(pid, ppid, start)
	p.PGID, p.SID = pgid, sid
	p.Exe, p.Argv = exe, argv
	if exe != "" {
		p.Comm = exe[strings.LastIndexByte(exe, '/')+1:]
	}
	p.Cwd = "/home/u"
	p.Creds = semconv.Creds{UID: 1000, EUID: 1000, GID: 100, EGID: 100}
	return semconv.Event{Kind: semconv.KindExisting, OS: semconv.OSLinux, Process: p}
}

func fork(t uint64, pid, ppid int32) semconv.Event {
	p := proc(pid, ppid, t)
	return semconv.Event{Kind: semconv.KindFork, Time: at(t), BootNS: t, OS: semconv.OSLinux, Process: p, Fork: semconv.ForkInfo{ParentTID: ppid}}
}

// withGroup sets the process group and session an event reports.
func withGroup(e semconv.Event, pgid, sid int32) semconv.Event {
	e.Process.PGID, e.Process.SID = pgid, sid
	return e
}

func execOK(t uint64, pid int32, exe string, argv ...string) semconv.Event {
	p := semconv.Process{PID: pid, TID: pid}
	p.Exe, p.Argv = exe, argv
	p.Comm = exe[strings.LastIndexByte(exe, '/')+1:]
	return semconv.Event{Kind: semconv.KindExec, Time: at(t), BootNS: t, OS: semconv.OSLinux, Process: p,
		Exec: semconv.ExecInfo{Filename: exe, Argv: argv}}
}

func execFail(t uint64, pid int32, errno int32, filename string, argv ...string) semconv.Event {
	return semconv.Event{Kind: semconv.KindExecFailed, Time: at(t), BootNS: t, OS: semconv.OSLinux,
		Process: semconv.Process{PID: pid, TID: pid},
		Exec:    semconv.ExecInfo{Filename: filename, Argv: argv, Errno: errno}}
}

func exit(t uint64, pid int32, code, sig int32) semconv.Event {
	return semconv.Event{Kind: semconv.KindExit, Time: at(t), BootNS: t, OS: semconv.OSLinux,
		Process: semconv.Process{PID: pid, TID: pid}, Exit: semconv.ExitInfo{Code: code, Signal: sig}}
}

func reap(t uint64, pid int32) semconv.Event {
	return semconv.Event{Kind: semconv.KindReap, Time: at(t), BootNS: t, OS: semconv.OSLinux,
		Process: semconv.Process{PID: pid, TID: pid}}
}

// line summarises an event: kind, identity, lineage, image, root.
func line(e *semconv.Event) string {
	p := &e.Process
	s := fmt.Sprintf("%s pid=%d ppid=%d start=%d pstart=%d exe=%s argv=%q comm=%s root=%s", e.Kind, p.PID, p.PPID,
		p.Start/ms, p.ParentStart/ms, p.Exe, p.Argv, p.Comm, rootString(e.Root))
	switch e.Kind {
	case semconv.KindExecFailed:
		s += fmt.Sprintf(" file=%s errno=%d", e.Exec.Filename, e.Exec.Errno)
	case semconv.KindExit:
		s += fmt.Sprintf(" code=%d sig=%d", e.Exit.Code, e.Exit.Signal)
	}
	return s
}

func rootString(k semconv.Key) string {
	if k.IsZero() {
		return "self"
	}
	return fmt.Sprintf("%d", k.PID)
}

// ltLine summarises a lifetime.
func ltLine(l *semconv.Lifetime) string {
	s := fmt.Sprintf("lifetime pid=%d ppid=%d exe=%s root=%s start=%s end=%s exited=%v code=%d sig=%d seeded=%v incomplete=%v children=%d execs=[",
		l.Process.PID, l.Process.PPID, l.Process.Exe, rootString(l.Root), rel(l.Start), rel(l.End), l.Exited, l.Exit.Code, l.Exit.Signal,
		l.Seeded, l.Incomplete, l.Children)
	for i, x := range l.Execs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%d@%s", x.Filename, x.Errno, rel(x.Time))
	}
	return s + "]"
}

// rel formats a wall time as milliseconds since boot.
func rel(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return fmt.Sprintf("%dms", t.Sub(boot).Milliseconds())
}

func lines(r *recorder) []string {
	out := make([]string, 0, len(r.events))
	for i := range r.events {
		out = append(out, line(&r.events[i]))
	}
	return out
}

func ltLines(r *recorder) []string {
	out := make([]string, 0, len(r.lifetimes))
	for i := range r.lifetimes {
		out = append(out, ltLine(&r.lifetimes[i]))
	}
	return out
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
