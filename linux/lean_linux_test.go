//go:build linux

package linux

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// eventSink is a pipeline sink that keeps the events in a collector.
type eventSink struct{ *collector }

func (s eventSink) Event(e *semconv.Event)    { s.add(*e) }
func (eventSink) Lifetime(*semconv.Lifetime)  {}
func (eventSink) Close(context.Context) error { return nil }

// TestExitAndReapIdentity checks that the exit and reap events the
// pipeline puts out tell who the process was, as its fork and exec did:
// the exit, exec and reap records leave out what the pipeline has from
// the fork (the namespace pid, the parent's start time), and the reap
// record what a zombie cannot change (group, session, terminal, audit ids).
// The workload runs in a session of its own, as another user, so that
// none of these is the test's own or zero.
func TestExitAndReapIdentity(t *testing.T) {
	b, ctx, cancel := attachBackend(t, backends.Options{})
	caps := b.Capabilities()
	sink := eventSink{&collector{}}
	pipe := pipeline.New(pipeline.Config{Clock: caps.Clock, CredsComplete: caps.Creds}, sink)
	events := semconv.NewQueue(8192, 0)
	backendDone, pipeDone := make(chan error, 1), make(chan error, 1)
	go func() {
		err := b.Run(ctx, events)
		events.Close()
		backendDone <- err
	}()
	go func() { pipeDone <- pipe.Run(context.Background(), events) }()
	t.Cleanup(func() {
		cancel()
		if err := <-backendDone; err != nil {
			t.Errorf("backend run: %v", err)
		}
		if err := <-pipeDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("pipeline run: %v", err)
		}
		b.Close()
	})
	self := int32(os.Getpid())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, ok := pipe.Lookup(self); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline never learnt of the test process %d", self)
		}
	}

	const nobody = 65534
	cmd := exec.Command("/bin/sh", "-c", "exit 5")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("workload: %v", err)
	}
	pid := int32(cmd.Process.Pid)

	of := func(kind semconv.Kind) func(*semconv.Event) bool {
		return func(e *semconv.Event) bool { return e.Kind == kind && e.Process.PID == pid }
	}
	fork := sink.wait(t, "fork", of(semconv.KindFork))
	if fork.Process.PPID != self || fork.Process.ParentStart == 0 || fork.Process.NSPID != pid {
		t.Fatalf("fork: ppid %d (want %d), parent start %d, namespace pid %d (want %d)",
			fork.Process.PPID, self, fork.Process.ParentStart, fork.Process.NSPID, pid)
	}
	for _, k := range []semconv.Kind{semconv.KindExec, semconv.KindExit, semconv.KindReap} {
		e := sink.wait(t, k.String(), of(k))
		p := &e.Process
		if p.Start != fork.Process.Start || p.PPID != self || p.ParentStart != fork.Process.ParentStart {
			t.Errorf("%v: start %d ppid %d parent start %d, want %d %d %d", k, p.Start, p.PPID, p.ParentStart,
				fork.Process.Start, self, fork.Process.ParentStart)
		}
		if p.NSPID != pid || p.PGID != pid || p.SID != pid {
			t.Errorf("%v: namespace pid %d, group %d, session %d; want %d for each", k, p.NSPID, p.PGID, p.SID, pid)
		}
		if p.UID != nobody || p.EUID != nobody || p.GID != nobody || p.EGID != nobody {
			t.Errorf("%v: credentials %+v, want %d throughout", k, p.Creds, nobody)
		}
		if p.Comm != "sh" || p.Exe == "" || p.Cwd != "/" || p.CgroupID == 0 || p.TTY != "" {
			t.Errorf("%v: comm %q exe %q cwd %q cgroup %d tty %q; want sh, the shell, /, a cgroup, no terminal",
				k, p.Comm, p.Exe, p.Cwd, p.CgroupID, p.TTY)
		}
		if p.LoginUID != fork.Process.LoginUID || p.AuditSessionID != fork.Process.AuditSessionID {
			t.Errorf("%v: audit ids %v %v, want the fork's %v %v", k, p.LoginUID, p.AuditSessionID,
				fork.Process.LoginUID, fork.Process.AuditSessionID)
		}
		switch k {
		case semconv.KindExit:
			if e.Exit != (semconv.ExitInfo{Code: 5}) {
				t.Errorf("exit %+v, want code 5", e.Exit)
			}
		case semconv.KindReap:
			if e.Reap.ReaperPID != self {
				t.Errorf("reap by %d, want %d", e.Reap.ReaperPID, self)
			}
		}
	}
}

// TestExecPathComponents checks the exe and cwd paths of an exec whose
// components are of every length the walk copies differently: short
// names kept in the dentry (copied a word and then a byte at a time) and
// names too long for it (copied by a helper).
func TestExecPathComponents(t *testing.T) {
	_, c := startBackend(t, backends.Options{})
	dir := t.TempDir()
	for _, n := range []int{1, 7, 8, 9, 16, 39, 40, 41, 200} {
		dir = filepath.Join(dir, strings.Repeat(string(rune('a'+n%26)), n))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "sh-copy-with-a-name-of-thirty-nine-byte")
	if err := os.WriteFile(exe, sh, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-c", "exit 0")
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	pid := int32(cmd.Process.Pid)
	ex := c.wait(t, "exec", func(e *semconv.Event) bool { return e.Kind == semconv.KindExec && e.Process.PID == pid })
	wantDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wantDir, filepath.Base(exe)); ex.Process.Exe != want {
		t.Errorf("exe %q, want %q", ex.Process.Exe, want)
	}
	if ex.Process.Cwd != wantDir {
		t.Errorf("cwd %q, want %q", ex.Process.Cwd, wantDir)
	}
}
