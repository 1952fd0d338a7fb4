package e2e

import (
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// Sink is what a Source drives: pipeline.Sink without Close (the test
// closes the exporter itself).
type Sink interface {
	Event(e *semconv.Event)
	Lifetime(l *semconv.Lifetime)
}

// Workload is the ground truth of one run: every event and lifetime a
// Source handed to the sink, in order, and the boot id their ids derive
// from.
type Workload struct {
	Boot      semconv.BootID
	Events    []semconv.Event
	Lifetimes []semconv.Lifetime
}

// Source produces a workload by driving sink and returns what it handed
// over. SyntheticSource replays hand-built values; a live source runs
// real programs under the eBPF backend and the pipeline, with a sink that
// records a copy of each value before passing it on.
type Source func(t *testing.T, sink Sink) Workload

// Tree names the processes of the synthetic workload: a login shell
// (its own trace) starts a job sh → make → cc, which is one trace rooted
// at sh. make fails an exec with ENOENT and exits 2; cc is killed by
// SIGTERM.
type Tree struct {
	Login, Sh, Make, Cc semconv.Process
}

// SyntheticBoot is the boot id of the synthetic workload.
const SyntheticBoot = semconv.BootID("e2e-synthetic-boot")

// SyntheticTree returns the processes of the synthetic workload.
func SyntheticTree() Tree {
	mk := func(pid, ppid int32, startS, parentStartS float64, pgid int32, exe string, argv ...string) semconv.Process {
		return semconv.Process{
			PID: pid, TID: pid, PPID: ppid,
			Start: uint64(startS * 1e9), ParentStart: uint64(parentStartS * 1e9),
			Creds: semconv.Creds{UID: 1000, EUID: 1000, GID: 1000, EGID: 1000},
			PGID:  pgid, SID: 900, TTY: "pts/1",
			Comm: baseName(exe), Exe: exe, Argv: argv, Cwd: "/home/dev/src",
			CgroupID: 4242, CgroupPath: "/user.slice/user-1000.slice/session-1.scope",
		}
	}
	return Tree{
		Login: mk(900, 1, 100, 0.5, 900, "/usr/bin/bash", "-bash"),
		Sh:    mk(1000, 900, 200, 100, 1000, "/bin/sh", "sh", "-c", "make all"),
		Make:  mk(1001, 1000, 201, 200, 1000, "/usr/bin/make", "make", "all"),
		Cc:    mk(1002, 1001, 202, 201, 1000, "/usr/bin/cc", "cc", "-c", "main.c"),
	}
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// SyntheticSource replays the synthetic workload (SyntheticTree): every
// kind of event, and the three lifetimes of the job. It needs neither
// root nor the kernel.
func SyntheticSource(t *testing.T, sink Sink) Workload {
	tr := SyntheticTree()
	// Boot an hour ago, so every timestamp is recent and in the past.
	clock := semconv.Clock{BootWall: time.Now().Add(-time.Hour).Truncate(time.Microsecond)}
	root := tr.Sh.Key()
	w := Workload{Boot: SyntheticBoot}

	ev := func(k semconv.Kind, atS float64, p semconv.Process, fill func(*semconv.Event)) {
		ns := uint64(atS * 1e9)
		e := semconv.Event{Kind: k, Time: clock.Wall(ns), BootNS: ns, CPU: 1, OS: semconv.OSLinux, Process: p}
		if p.PID != tr.Login.PID && p.PID != tr.Sh.PID {
			e.Root = root
		}
		if fill != nil {
			fill(&e)
		}
		w.Events = append(w.Events, e)
	}
	lt := func(p semconv.Process, endS float64, exit semconv.ExitInfo, children int, execs ...semconv.ExecRecord) {
		l := semconv.Lifetime{
			Process: p, Start: clock.Wall(p.Start), End: clock.Wall(uint64(endS * 1e9)),
			Exited: true, Exit: exit, Execs: execs, Children: children,
		}
		if p.PID != tr.Sh.PID {
			l.Root = root
		}
		w.Lifetimes = append(w.Lifetimes, l)
	}

	ev(semconv.KindExec, 100.01, tr.Login, func(e *semconv.Event) { e.Exec.Filename = "/usr/bin/bash" })
	ev(semconv.KindFork, 200, tr.Sh, func(e *semconv.Event) { e.Fork = semconv.ForkInfo{ParentTID: 900, CloneFlags: 0x1200011} })
	ev(semconv.KindExec, 200.01, tr.Sh, func(e *semconv.Event) { e.Exec.Filename = "/bin/sh" })
	ev(semconv.KindFork, 201, tr.Make, func(e *semconv.Event) { e.Fork = semconv.ForkInfo{ParentTID: 1000, CloneFlags: 0x1200011} })
	ev(semconv.KindExec, 201.01, tr.Make, func(e *semconv.Event) { e.Exec.Filename = "/usr/bin/make" })
	ev(semconv.KindExecFailed, 201.5, tr.Make, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/no/such/file", Argv: []string{"/no/such/file", "--x"}, Errno: 2}
	})
	ev(semconv.KindFork, 202, tr.Cc, func(e *semconv.Event) { e.Fork = semconv.ForkInfo{ParentTID: 1001, CloneFlags: 0x1200011} })
	ev(semconv.KindExec, 202.01, tr.Cc, func(e *semconv.Event) { e.Exec.Filename = "/usr/bin/cc" })
	ev(semconv.KindSignal, 203, tr.Cc, func(e *semconv.Event) {
		e.Signal = semconv.SignalInfo{Signo: 15, SenderPID: 1001, SenderTID: 1001, SenderComm: "make", TargetTID: 1002, Outcome: semconv.SignalGenerated, Group: true}
	})
	ev(semconv.KindExit, 203.001, tr.Cc, func(e *semconv.Event) { e.Exit = semconv.ExitInfo{Signal: 15} })
	ev(semconv.KindReap, 203.002, tr.Cc, func(e *semconv.Event) { e.Reap.ReaperPID = 1001 })
	ev(semconv.KindExit, 205, tr.Make, func(e *semconv.Event) { e.Exit = semconv.ExitInfo{Code: 2} })
	ev(semconv.KindReap, 205.001, tr.Make, func(e *semconv.Event) { e.Reap.ReaperPID = 1000 })
	ev(semconv.KindExit, 206, tr.Sh, nil)
	ev(semconv.KindReap, 206.001, tr.Sh, func(e *semconv.Event) { e.Reap.ReaperPID = 900 })

	lt(tr.Cc, 203.001, semconv.ExitInfo{Signal: 15}, 0,
		semconv.ExecRecord{Time: clock.Wall(202_010_000_000), Filename: "/usr/bin/cc", Exe: "/usr/bin/cc", Argv: tr.Cc.Argv})
	lt(tr.Make, 205, semconv.ExitInfo{Code: 2}, 1,
		semconv.ExecRecord{Time: clock.Wall(201_010_000_000), Filename: "/usr/bin/make", Exe: "/usr/bin/make", Argv: tr.Make.Argv},
		semconv.ExecRecord{Time: clock.Wall(201_500_000_000), Filename: "/no/such/file", Errno: 2})
	lt(tr.Sh, 206, semconv.ExitInfo{}, 1,
		semconv.ExecRecord{Time: clock.Wall(200_010_000_000), Filename: "/bin/sh", Exe: "/bin/sh", Argv: tr.Sh.Argv})

	// Hand over in time order: each lifetime right after its exit event.
	li := 0
	for i := range w.Events {
		sink.Event(&w.Events[i])
		if w.Events[i].Kind == semconv.KindExit && li < len(w.Lifetimes) && w.Lifetimes[li].Process.PID == w.Events[i].Process.PID {
			sink.Lifetime(&w.Lifetimes[li])
			li++
		}
	}
	if li != len(w.Lifetimes) {
		t.Fatalf("synthetic workload: handed %d of %d lifetimes", li, len(w.Lifetimes))
	}
	return w
}
