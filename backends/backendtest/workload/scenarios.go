package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/procotel/procotel/backends/backendtest/truth"
)

// runExit starts one child per argument that exits with that code.
func runExit(w *workload, args []string) error {
	if len(args) == 0 {
		return errors.New("want at least one exit code")
	}
	for _, a := range args {
		code, err := strconv.Atoi(a)
		if err != nil || code < 0 || code > 255 {
			return fmt.Errorf("bad exit code %q (want 0..255)", a)
		}
		ex := w.selfExec("child-exit", a)
		pid, st, err := runChild(ex.Filename, ex.Argv, stdio{}, "start child")
		if err != nil {
			return err
		}
		w.add(w.child(pid, "child exiting with "+a, st, ex))
	}
	return nil
}

// lookBinary finds a system binary, preferring /bin/NAME (a symbolic link
// on merged-/usr systems, which tests the resolved executable path).
func lookBinary(name string) (path, exe string, err error) {
	path = "/bin/" + name
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath(name); err != nil {
			return "", "", fmt.Errorf("find %s: %w", name, err)
		}
	}
	exe, err = filepath.EvalSymlinks(path)
	if err != nil {
		return "", "", fmt.Errorf("resolve %s: %w", path, err)
	}
	return path, exe, nil
}

// argvBytes is the size of argv in the new image: each string and its NUL.
func argvBytes(argv []string) int {
	n := 0
	for _, a := range argv {
		n += len(a) + 1
	}
	return n
}

// longArgv returns argv0 followed by numbered 1000-byte arguments, at
// least size bytes in all.
func longArgv(argv0 string, size int) []string {
	argv := []string{argv0}
	for i := 0; argvBytes(argv) < size; i++ {
		prefix := fmt.Sprintf("arg%04d-", i)
		argv = append(argv, prefix+strings.Repeat("x", 1000-len(prefix)))
	}
	return argv
}

// runExecOK runs true(1) with the given arguments, and with -long BYTES
// once more with an argument vector of at least BYTES bytes.
func runExecOK(w *workload, args []string) error {
	fs := flag.NewFlagSet("exec-ok", flag.ContinueOnError)
	long := fs.Int("long", 0, "also exec with an argv of at least this many bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path, exe, err := lookBinary("true")
	if err != nil {
		return err
	}
	argvs := [][]string{append([]string{"true"}, fs.Args()...)}
	if *long > 0 {
		argvs = append(argvs, longArgv("true", *long))
	}
	for i, argv := range argvs {
		pid, st, err := runChild(path, argv, stdio{}, "exec "+path)
		if err != nil {
			return err
		}
		role := "true with a short argv"
		if i == 1 {
			role = fmt.Sprintf("true with a %d-byte argv", argvBytes(argv))
		}
		w.add(w.child(pid, role, st, truth.Exec{Filename: path, Argv: argv, Exe: exe}))
	}
	return nil
}

// runExecFail makes three execs fail in forked children (ENOENT, EACCES,
// ENOEXEC) and one in a child that reports the errno and exits with 127.
func runExecFail(w *workload, args []string) error {
	dir, err := scratchDir("procotel-workload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		return fmt.Errorf("create non-executable file: %w", err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("this is not a program\x00\x01\x02\x03\n"), 0o755); err != nil {
		return fmt.Errorf("create garbage file: %w", err)
	}
	for _, path := range []string{"/no/such/file", notExec, garbage} {
		argv := []string{path, "forked child"}
		_, err := start(path, argv, stdio{})
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			return fmt.Errorf("exec %s: want an errno, got %v", path, err)
		}
		w.report.OrphanExecFailures = append(w.report.OrphanExecFailures,
			truth.ExecFailure{Parent: w.pid, Filename: path, Argv: argv, Errno: int32(errno)})
	}

	ex := w.selfExec("child-exec-fail", "/no/such/file")
	var r report
	pid, st, err := runReporting(ex.Argv, stdio{}, &r)
	if err != nil {
		return err
	}
	p := w.child(pid, "child whose own exec fails", st, ex)
	p.ExecFailures = []truth.ExecFailure{{PID: pid, Parent: w.pid, Filename: "/no/such/file",
		Argv: failedArgv("/no/such/file"), Errno: r.Errno}}
	w.add(p)
	return nil
}

// failedArgv is the argv child-exec-fail passes to its failing exec.
func failedArgv(path string) []string { return []string{path, "direct"} }

// runSignal sends SIGTERM to sleep(1), and SIGUSR1 then SIGKILL to a child
// that ignores SIGUSR1.
func runSignal(w *workload, args []string) error {
	path, exe, err := lookBinary("sleep")
	if err != nil {
		return err
	}
	argv := []string{"sleep", "60"}
	pid, err := start(path, argv, stdio{})
	if err != nil {
		return fmt.Errorf("start sleep: %w", err)
	}
	if err := awaitExec(pid); err != nil {
		return err
	}
	if err := w.kill(pid, syscall.SIGTERM, false); err != nil {
		return err
	}
	st, err := reap(pid)
	if err != nil {
		return err
	}
	w.add(w.child(pid, "sleep killed by SIGTERM", st, truth.Exec{Filename: path, Argv: argv, Exe: exe}))

	ex := w.selfExec("child-wait", "ignore-usr1")
	var r report
	c, err := startReporting(ex.Argv, stdio{}, &r)
	if err != nil {
		return err
	}
	defer c.close()
	if err := w.kill(c.pid, syscall.SIGUSR1, r.Ignored); err != nil {
		return err
	}
	if err := w.kill(c.pid, syscall.SIGKILL, false); err != nil {
		return err
	}
	st, err = reap(c.pid)
	if err != nil {
		return err
	}
	w.add(w.child(c.pid, "child ignoring SIGUSR1, killed by SIGKILL", st, ex))
	return nil
}

func (w *workload) kill(pid int32, sig syscall.Signal, ignored bool) error {
	if err := syscall.Kill(int(pid), sig); err != nil {
		return fmt.Errorf("send %v to %d: %w", sig, pid, err)
	}
	w.report.Signals = append(w.report.Signals,
		truth.Signal{Sender: w.pid, Target: pid, Signo: int32(sig), Ignored: ignored})
	return nil
}

// runCore starts a child that raises RLIMIT_CORE and aborts.
func runCore(w *workload, args []string) error {
	if note, ok := coreNote(); ok {
		w.note("%s", note)
	}
	dir, err := scratchDir("procotel-workload-core-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ex := w.selfExec("child-abort")
	pid, st, err := runChild(ex.Filename, ex.Argv, stdio{dir: dir}, "start child")
	if err != nil {
		return err
	}
	if st == nil || st.Signal != int32(syscall.SIGABRT) {
		return fmt.Errorf("aborting child %d ended with %+v, want death by SIGABRT", pid, st)
	}
	if !st.CoreDumped {
		w.note("child %d died by SIGABRT without a core dump", pid)
	}
	w.report.Signals = append(w.report.Signals,
		truth.Signal{Sender: pid, Target: pid, Signo: int32(syscall.SIGABRT)})
	w.add(w.child(pid, "child aborting with a core dump", st, ex))
	return nil
}

// runThreadExec starts a child that executes from a thread other than its
// thread group leader.
func runThreadExec(w *workload, args []string) error {
	ex := w.selfExec("child-thread-exec")
	var r report
	c, err := startReporting(ex.Argv, stdio{}, &r)
	if err != nil {
		return err
	}
	defer c.close()
	if r.TID == 0 || r.TID == c.pid || r.PID != c.pid {
		return fmt.Errorf("thread-exec child %d reported tgid %d tid %d, want its own pid and a non-leader thread",
			c.pid, r.PID, r.TID)
	}
	st, err := reap(c.pid)
	if err != nil {
		return err
	}
	second := w.selfExec(threadExecArgs...)
	second.OldTID = r.TID
	w.add(w.child(c.pid, "child executing from a non-leader thread", st, ex, second))
	return nil
}

// threadExecArgs are the arguments child-thread-exec executes itself with.
var threadExecArgs = []string{"child-exit", "0"}

// runDoubleFork starts a child that calls setsid, starts a grandchild and
// exits; the grandchild is re-parented to the workload, then reports its
// new parent and session and exits with 7.
func runDoubleFork(w *workload, args []string) error {
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("create pipe: %w", err)
	}
	defer gateW.Close()
	ex := w.selfExec("child-double-fork")
	var mid report
	c, err := startReporting(ex.Argv, stdio{stdin: gateR}, &mid)
	gateR.Close()
	if err != nil {
		return err
	}
	defer c.close()
	st, err := reap(c.pid)
	if err != nil {
		return err
	}
	leader := w.child(c.pid, "session leader that leaves its child behind", st, ex)
	leader.SID = mid.SID
	w.add(leader)
	// The middle process is gone: let the grandchild go on.
	gateW.Close()
	var gc report
	if err := c.line(&gc); err != nil {
		return err
	}
	if gc.PID != mid.Child {
		return fmt.Errorf("grandchild reported pid %d, its parent started %d", gc.PID, mid.Child)
	}
	gst, err := reap(gc.PID)
	if err != nil {
		return err
	}
	w.add(truth.Proc{PID: gc.PID, PPID: c.pid, Role: "grandchild re-parented to the workload",
		Execs: []truth.Exec{w.selfExec("child-grandchild", "7")}, Exit: gst, Reaper: w.pid,
		FinalPPID: gc.PPID, SID: gc.SID})
	if gc.PPID != w.pid {
		w.note("grandchild %d was re-parented to %d, not to the workload %d", gc.PID, gc.PPID, w.pid)
	}
	return nil
}

// runTree starts two children that each start one grandchild and wait for
// it. Exit codes: children 11 and 12, grandchildren 21 and 22.
func runTree(w *workload, args []string) error {
	codes := [][2]string{{"11", "21"}, {"12", "22"}}
	var kids []*piped
	var execs []truth.Exec
	for _, c := range codes {
		ex := w.selfExec("child-tree", c[0], c[1])
		k, err := startPiped(ex.Argv, stdio{})
		if err != nil {
			return err
		}
		defer k.close()
		kids = append(kids, k)
		execs = append(execs, ex)
	}
	for i, k := range kids {
		var r report
		if err := k.line(&r); err != nil {
			return err
		}
		st, err := reap(k.pid)
		if err != nil {
			return err
		}
		w.add(w.child(k.pid, "tree child exiting with "+codes[i][0], st, execs[i]))
		w.add(truth.Proc{PID: r.Child, PPID: k.pid, Role: "tree grandchild exiting with " + codes[i][1],
			Execs: []truth.Exec{w.selfExec("child-exit", codes[i][1])}, Exit: r.Exit, Reaper: k.pid})
	}
	return nil
}
