//go:build linux || freebsd

package collector

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/semconv"
)

// testBoot is the boot id of the recorded workload.
const testBoot = semconv.BootID("collector-test-boot")

// recorded is the ground truth of a recording written by writeRecording:
// a login shell (alive, seeded) whose job sh → make → cc is one trace
// rooted at sh; make fails an exec with ENOENT and exits 2, cc is killed
// by SIGTERM, sh exits 0.
type recorded struct {
	path             string
	clock            semconv.Clock
	bash, sh, mk, cc semconv.Process
	wantLogs         int // log records the events become
	wantSpans        int // lifetimes that close
	lostExit         uint64
	// what the trailer says the recording backend throttled and inferred
	throttled, reapsInferred, lateReaps uint64
}

// writeRecording writes the workload as a replay recording and returns
// its ground truth. The trailer says the recording backend lost 4 exit
// events, throttled 9 execs, inferred 2 reaps and dropped 1 late one.
func writeRecording(t *testing.T) recorded {
	t.Helper()
	clock := semconv.Clock{BootWall: time.Now().Add(-time.Hour).Truncate(time.Microsecond)}
	creds := semconv.Creds{UID: 1000, EUID: 1000, GID: 100, EGID: 100}
	mk := func(pid, ppid int32, startS, parentStartS float64, pgid int32, exe string, argv ...string) semconv.Process {
		return semconv.Process{
			PID: pid, TID: pid, PPID: ppid, Start: uint64(startS * 1e9), ParentStart: uint64(parentStartS * 1e9),
			Creds: creds, PGID: pgid, SID: 900, TTY: "pts/1", Comm: filepath.Base(exe), Exe: exe, Argv: argv,
			Cwd: "/home/dev/src",
		}
	}
	w := recorded{
		clock: clock,
		bash:  mk(900, 1, 100, 0.5, 900, "/usr/bin/bash", "-bash"),
		sh:    mk(1000, 900, 200, 100, 1000, "/bin/sh", "sh", "-c", "make all"),
		mk:    mk(1001, 1000, 201, 200, 1000, "/usr/bin/make", "make", "all", "--password=hunter2"),
		cc:    mk(1002, 1001, 202, 201, 1000, "/usr/bin/cc", "cc", "-c", "main.c"),
	}
	var events []semconv.Event
	ev := func(k semconv.Kind, atS float64, p semconv.Process, fill func(*semconv.Event)) {
		ns := uint64(atS * 1e9)
		e := semconv.Event{Kind: k, Time: clock.Wall(ns), BootNS: ns, CPU: 1, OS: semconv.OSLinux, Process: p}
		if fill != nil {
			fill(&e)
		}
		events = append(events, e)
	}
	// A process is forked as a copy of its parent: comm, exe and argv
	// are the parent's until it execs.
	forked := func(child, parent semconv.Process) semconv.Process {
		child.Comm, child.Exe, child.Argv = parent.Comm, parent.Exe, parent.Argv
		return child
	}
	exec := func(p semconv.Process) func(*semconv.Event) {
		return func(e *semconv.Event) { e.Exec.Filename = p.Exe; e.Exec.Argv = p.Argv }
	}
	ev(semconv.KindExisting, 150, w.bash, nil)
	ev(semconv.KindFork, 200, forked(w.sh, w.bash), func(e *semconv.Event) { e.Fork = semconv.ForkInfo{ParentTID: 900, CloneFlags: 0x1200011} })
	ev(semconv.KindExec, 200.01, w.sh, exec(w.sh))
	ev(semconv.KindFork, 201, forked(w.mk, w.sh), func(e *semconv.Event) { e.Fork = semconv.ForkInfo{ParentTID: 1000, CloneFlags: 0x1200011} })
	ev(semconv.KindExec, 201.01, w.mk, exec(w.mk))
	ev(semconv.KindExecFailed, 201.5, w.mk, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/no/such/file", Argv: []string{"/no/such/file", "--x"}, Errno: 2}
	})
	ev(semconv.KindFork, 202, forked(w.cc, w.mk), func(e *semconv.Event) { e.Fork = semconv.ForkInfo{ParentTID: 1001, CloneFlags: 0x1200011} })
	ev(semconv.KindExec, 202.01, w.cc, exec(w.cc))
	ev(semconv.KindSignal, 203, w.cc, func(e *semconv.Event) {
		e.Signal = semconv.SignalInfo{Signo: 15, SenderPID: 1001, SenderTID: 1001, SenderComm: "make", TargetTID: 1002, Outcome: semconv.SignalGenerated, Group: true}
	})
	ev(semconv.KindExit, 203.001, w.cc, func(e *semconv.Event) { e.Exit = semconv.ExitInfo{Signal: 15} })
	ev(semconv.KindReap, 203.002, w.cc, func(e *semconv.Event) { e.Reap.ReaperPID = 1001 })
	ev(semconv.KindExit, 205, w.mk, func(e *semconv.Event) { e.Exit = semconv.ExitInfo{Code: 2} })
	ev(semconv.KindReap, 205.001, w.mk, func(e *semconv.Event) { e.Reap.ReaperPID = 1000 })
	ev(semconv.KindExit, 206, w.sh, nil)
	ev(semconv.KindReap, 206.001, w.sh, func(e *semconv.Event) { e.Reap.ReaperPID = 900 })
	w.wantLogs = len(events) - 1 // all but the existing bash
	w.wantSpans = 3

	w.path = filepath.Join(t.TempDir(), "recording.jsonl")
	caps := backends.Capabilities{OS: semconv.OSLinux, Boot: testBoot, Clock: clock, Kinds: semconv.Kinds()}
	var st backends.Stats
	st.Lost[semconv.KindExit] = 4
	w.lostExit = 4
	st.Throttled, st.ReapsInferred, st.LateReapsDropped = 9, 2, 1
	w.throttled, w.reapsInferred, w.lateReaps = 9, 2, 1
	if err := replay.WriteFile(w.path, "ebpf", caps, events, st); err != nil {
		t.Fatal(err)
	}
	return w
}
