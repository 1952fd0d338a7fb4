package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childExit exits with the code given.
func childExit(args []string) error {
	code, err := exitCodeArg(args, 1, "want one exit code")
	if err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// exitCodeArg checks that args has n elements (usage says which) and
// parses the first, the exit code the child ends with.
func exitCodeArg(args []string, n int, usage string) (int, error) {
	if len(args) != n {
		return 0, errors.New(usage)
	}
	code, err := strconv.Atoi(args[0])
	if err != nil {
		return 0, fmt.Errorf("parse exit code: %w", err)
	}
	return code, nil
}

// childExecFail executes a path that fails, reports the errno and exits
// with 127, as a shell does.
func childExecFail(args []string) error {
	if len(args) != 1 {
		return errors.New("want one path")
	}
	argv := failedArgv(args[0])
	err := syscall.Exec(args[0], argv, os.Environ())
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("exec %s: want an errno, got %v", args[0], err)
	}
	if err := say(report{PID: int32(os.Getpid()), Errno: int32(errno)}); err != nil {
		return err
	}
	os.Exit(127)
	return nil
}

// childWait optionally ignores SIGUSR1, says it is ready and sleeps until
// killed; it gives up after a minute with exit code 3.
func childWait(args []string) error {
	r := report{PID: int32(os.Getpid())}
	if len(args) == 1 && args[0] == "ignore-usr1" {
		ignored, err := ignoreSIGUSR1()
		if err != nil {
			return err
		}
		r.Ignored = ignored
	}
	if err := say(r); err != nil {
		return err
	}
	time.Sleep(time.Minute)
	os.Exit(3)
	return nil
}

// childAbort raises its core size limit and kills itself with SIGABRT
// under the default disposition, so the kernel dumps core.
func childAbort(args []string) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
		return fmt.Errorf("get RLIMIT_CORE: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_CORE: %w", err)
	}
	if err := defaultSIGABRT(); err != nil {
		return err
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGABRT); err != nil {
		return fmt.Errorf("send SIGABRT to self: %w", err)
	}
	time.Sleep(time.Minute)
	return errors.New("still alive a minute after SIGABRT")
}

// childThreadExec reports its pid and the id of a thread other than the
// leader, then executes itself (child-exit 0) from that thread.
func childThreadExec(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	errc := make(chan error, 1)
	go func() {
		// The main goroutine holds the leader thread (see init), so this
		// goroutine runs on another one.
		runtime.LockOSThread()
		pid, tid := os.Getpid(), gettid()
		if tid == pid {
			errc <- errors.New("exec goroutine runs on the leader thread")
			return
		}
		if err := say(report{PID: int32(pid), TID: int32(tid)}); err != nil {
			errc <- err
			return
		}
		argv := append([]string{self}, threadExecArgs...)
		errc <- syscall.Exec(self, argv, os.Environ())
	}()
	return fmt.Errorf("exec from thread: %w", <-errc)
}

// childDoubleFork calls setsid, starts a grandchild that shares its
// standard input and output, reports the grandchild's pid and exits
// without waiting for it.
func childDoubleFork(args []string) error {
	sid, err := syscall.Setsid()
	if err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	argv := []string{self, "child-grandchild", "7"}
	pid, err := start(self, argv, stdio{stdin: os.Stdin, stdout: os.Stdout})
	if err != nil {
		return fmt.Errorf("start grandchild: %w", err)
	}
	return say(report{PID: int32(os.Getpid()), SID: int32(sid), Child: pid})
}

// childGrandchild waits for end of file on standard input (its parent has
// exited by then), reports its parent and session, and exits with the
// code given.
func childGrandchild(args []string) error {
	code, err := exitCodeArg(args, 1, "want one exit code")
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return fmt.Errorf("wait for the gate: %w", err)
	}
	sid, err := unix.Getsid(0)
	if err != nil {
		return fmt.Errorf("getsid: %w", err)
	}
	if err := say(report{PID: int32(os.Getpid()), PPID: int32(os.Getppid()), SID: int32(sid)}); err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// childTree starts a grandchild exiting with the second code, waits for
// it, reports it and exits with the first code.
func childTree(args []string) error {
	code, err := exitCodeArg(args, 2, "want own exit code and grandchild exit code")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	argv := []string{self, "child-exit", args[1]}
	pid, err := start(self, argv, stdio{})
	if err != nil {
		return fmt.Errorf("start grandchild: %w", err)
	}
	st, err := reap(pid)
	if err != nil {
		return err
	}
	if err := say(report{PID: int32(os.Getpid()), Child: pid, Exit: st}); err != nil {
		return err
	}
	os.Exit(code)
	return nil
}
