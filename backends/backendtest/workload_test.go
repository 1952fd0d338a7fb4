//go:build linux || freebsd

package backendtest

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/backendtest/truth"
)

// runWorkload runs one scenario of the real workload and checks the
// report's shape common to all scenarios.
func runWorkload(t *testing.T, args ...string) truth.Report {
	t.Helper()
	bin := BuildWorkload(t)
	rep, err := RunWorkload(context.Background(), bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scenario != args[0] || rep.Root == 0 || rep.UID != uint32(os.Getuid()) || rep.GID != uint32(os.Getgid()) {
		t.Errorf("report header: scenario %q root %d uid %d gid %d", rep.Scenario, rep.Root, rep.UID, rep.GID)
	}
	if rep.Procs[0].Exit == nil || rep.Procs[0].Exit.Code != 0 || rep.Procs[0].Reaper != int32(os.Getpid()) {
		t.Errorf("root: %+v", rep.Procs[0])
	}
	if len(rep.Notes) > 0 {
		t.Logf("notes: %q", rep.Notes)
	}
	// The events a correct backend would produce for this truth must
	// pass the check: the report is coherent with the checker.
	for _, opts := range []backends.Options{{}, {ArgvMax: 4096}} {
		if f := Check(rep, fullCaps, opts, synth(rep, opts.ArgvLimit())); !f.OK() {
			t.Errorf("synthetic events for the real report fail the check (argv limit %d):\n%s",
				opts.ArgvLimit(), strings.Join(f.Failures, "\n"))
		}
	}
	return rep
}

func children(rep truth.Report) []truth.Proc { return rep.Procs[1:] }

func TestWorkloadExit(t *testing.T) {
	rep := runWorkload(t, "exit", "0", "1", "3", "255")
	kids := children(rep)
	if len(kids) != 4 {
		t.Fatalf("got %d children, want 4", len(kids))
	}
	for i, code := range []int32{0, 1, 3, 255} {
		k := kids[i]
		if k.Exit == nil || *k.Exit != (truth.Exit{Code: code}) || k.PPID != rep.Root || k.Reaper != rep.Root || k.PID == 0 {
			t.Errorf("child %d: %+v exit %+v, want code %d, parent and reaper %d", i, k, k.Exit, code, rep.Root)
		}
	}
}

func TestWorkloadExecOK(t *testing.T) {
	rep := runWorkload(t, "exec-ok", "-long", "40000", "--", "hello world", "ünïcödé ✓", "")
	kids := children(rep)
	if len(kids) != 2 {
		t.Fatalf("got %d children, want 2", len(kids))
	}
	short := kids[0].Execs[0]
	if want := []string{"true", "hello world", "ünïcödé ✓", ""}; strings.Join(short.Argv, "|") != strings.Join(want, "|") {
		t.Errorf("short argv %q, want %q", short.Argv, want)
	}
	if short.Exe == "" || short.Exe[0] != '/' {
		t.Errorf("exe %q is not an absolute path", short.Exe)
	}
	if n := argvSize(kids[1].Execs[0].Argv); n < 40000 {
		t.Errorf("long argv is %d bytes, want at least 40000", n)
	}
	for _, k := range kids {
		if k.Exit == nil || k.Exit.Code != 0 {
			t.Errorf("%s: exit %+v, want 0", k.Role, k.Exit)
		}
	}
}

func TestWorkloadExecFail(t *testing.T) {
	rep := runWorkload(t, "exec-fail")
	var got []syscall.Errno
	for _, o := range rep.OrphanExecFailures {
		got = append(got, syscall.Errno(o.Errno))
		if o.Parent != rep.Root {
			t.Errorf("orphan failure %+v: parent %d, want %d", o, o.Parent, rep.Root)
		}
	}
	want := []syscall.Errno{syscall.ENOENT, syscall.EACCES, syscall.ENOEXEC}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("forked exec failures %v, want %v", got, want)
	}
	kids := children(rep)
	if len(kids) != 1 || len(kids[0].ExecFailures) != 1 {
		t.Fatalf("want one child with one failed exec, got %+v", kids)
	}
	k := kids[0]
	if k.ExecFailures[0].Errno != int32(syscall.ENOENT) || k.ExecFailures[0].PID != k.PID || k.Exit == nil || k.Exit.Code != 127 {
		t.Errorf("direct failure: %+v exit %+v, want ENOENT in pid %d and exit 127", k.ExecFailures[0], k.Exit, k.PID)
	}
}

func TestWorkloadSignal(t *testing.T) {
	rep := runWorkload(t, "signal")
	kids := children(rep)
	if len(kids) != 2 {
		t.Fatalf("got %d children, want 2", len(kids))
	}
	if e := kids[0].Exit; e == nil || *e != (truth.Exit{Signal: int32(syscall.SIGTERM)}) {
		t.Errorf("sleep exit %+v, want SIGTERM", e)
	}
	if e := kids[1].Exit; e == nil || *e != (truth.Exit{Signal: int32(syscall.SIGKILL)}) {
		t.Errorf("waiting child exit %+v, want SIGKILL", e)
	}
	want := []truth.Signal{
		{Sender: rep.Root, Target: kids[0].PID, Signo: int32(syscall.SIGTERM)},
		{Sender: rep.Root, Target: kids[1].PID, Signo: int32(syscall.SIGUSR1), Ignored: true},
		{Sender: rep.Root, Target: kids[1].PID, Signo: int32(syscall.SIGKILL)},
	}
	if len(rep.Signals) != len(want) {
		t.Fatalf("signals %+v, want %+v", rep.Signals, want)
	}
	for i := range want {
		if rep.Signals[i] != want[i] {
			t.Errorf("signal %d: %+v, want %+v", i, rep.Signals[i], want[i])
		}
	}
}

func TestWorkloadCore(t *testing.T) {
	rep := runWorkload(t, "core")
	k := children(rep)[0]
	if k.Exit == nil || k.Exit.Signal != int32(syscall.SIGABRT) || k.Exit.Code != 0 {
		t.Fatalf("exit %+v, want death by SIGABRT", k.Exit)
	}
	if where, plain := coreInWorkingDir(t); !k.Exit.CoreDumped && plain {
		t.Errorf("no core dump although %s and RLIMIT_CORE was raised", where)
	}
	if len(rep.Signals) != 1 || rep.Signals[0] != (truth.Signal{Sender: k.PID, Target: k.PID, Signo: int32(syscall.SIGABRT)}) {
		t.Errorf("signals %+v, want SIGABRT from %d to itself", rep.Signals, k.PID)
	}
}

func TestWorkloadThreadExec(t *testing.T) {
	rep := runWorkload(t, "thread-exec")
	k := children(rep)[0]
	if len(k.Execs) != 2 {
		t.Fatalf("execs %+v, want 2", k.Execs)
	}
	if tid := k.Execs[1].OldTID; tid == 0 || tid == k.PID || k.Execs[0].OldTID != 0 {
		t.Errorf("old tids %d, %d; want 0 then a thread other than %d", k.Execs[0].OldTID, tid, k.PID)
	}
	if k.Exit == nil || k.Exit.Code != 0 {
		t.Errorf("exit %+v, want 0", k.Exit)
	}
}

func TestWorkloadDoubleFork(t *testing.T) {
	rep := runWorkload(t, "double-fork")
	kids := children(rep)
	if len(kids) != 2 {
		t.Fatalf("got %d processes, want 2", len(kids))
	}
	mid, gc := kids[0], kids[1]
	if mid.SID != mid.PID {
		t.Errorf("middle process sid %d, want its own pid %d (setsid)", mid.SID, mid.PID)
	}
	if gc.PPID != mid.PID || gc.FinalPPID != rep.Root || gc.Reaper != rep.Root || gc.SID != mid.PID {
		t.Errorf("grandchild %+v: want parent %d, then %d (subreaper), reaper %d, sid %d", gc, mid.PID, rep.Root, rep.Root, mid.PID)
	}
	if gc.Exit == nil || gc.Exit.Code != 7 {
		t.Errorf("grandchild exit %+v, want 7", gc.Exit)
	}
}

func TestWorkloadTree(t *testing.T) {
	rep := runWorkload(t, "tree")
	kids := children(rep)
	if len(kids) != 4 {
		t.Fatalf("got %d processes, want 4", len(kids))
	}
	for i, want := range []struct{ parent, code int32 }{{rep.Root, 11}, {kids[0].PID, 21}, {rep.Root, 12}, {kids[2].PID, 22}} {
		k := kids[i]
		if k.PPID != want.parent || k.Reaper != want.parent || k.Exit == nil || k.Exit.Code != want.code {
			t.Errorf("%s: ppid %d reaper %d exit %+v, want parent/reaper %d code %d", k.Role, k.PPID, k.Reaper, k.Exit, want.parent, want.code)
		}
	}
}

func TestBuildWorkloadShared(t *testing.T) {
	a := BuildWorkload(t)
	b := BuildWorkload(t)
	if a != b {
		t.Errorf("two builds in one test: %q and %q", a, b)
	}
	if _, err := os.Stat(a); err != nil {
		t.Errorf("workload binary: %v", err)
	}
}
