// Command workload runs small process-lifecycle scenarios with known ground
// truth for the backend conformance suite (backends/backendtest). Each
// scenario subcommand creates processes, waits for them, and prints one
// truth.Report as JSON on stdout: the pids it created, what each executed,
// the errno of every failed exec, the wait status of every exit, who reaped
// whom, and the signals it sent.
//
// Scenarios:
//
//	exit N...      one child per N that exits with code N
//	exec-ok [-long BYTES] [-- ARG...]
//	               runs true(1) with ARGs, and (with -long) with an argv
//	               of at least BYTES bytes
//	exec-fail      three failed execs in forked children (ENOENT, EACCES,
//	               ENOEXEC) and one in a child that then exits with 127
//	signal         SIGTERM to sleep(1); SIGUSR1 (ignored) then SIGKILL to a
//	               child that ignores SIGUSR1
//	core           a child that aborts with RLIMIT_CORE raised
//	thread-exec    a child that executes from a non-leader thread
//	double-fork    a child that calls setsid, starts a grandchild and exits
//	tree           two children, each with one grandchild
//
// The workload makes itself a child subreaper, so every descendant is
// re-parented to it and reaped by it. Subcommands named child-* are the
// workload's own children; they are not meant to be run by hand.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
)

func init() {
	// Keep the main goroutine on the main thread (the thread group
	// leader), so that child-thread-exec can exec from another thread.
	runtime.LockOSThread()
}

var scenarios = map[string]func(w *workload, args []string) error{
	"exit":        runExit,
	"exec-ok":     runExecOK,
	"exec-fail":   runExecFail,
	"signal":      runSignal,
	"core":        runCore,
	"thread-exec": runThreadExec,
	"double-fork": runDoubleFork,
	"tree":        runTree,
}

var children = map[string]func(args []string) error{
	"child-exit":        childExit,
	"child-exec-fail":   childExecFail,
	"child-wait":        childWait,
	"child-abort":       childAbort,
	"child-thread-exec": childThreadExec,
	"child-double-fork": childDoubleFork,
	"child-grandchild":  childGrandchild,
	"child-tree":        childTree,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: workload SCENARIO [ARG...]")
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	if child, ok := children[name]; ok {
		if err := child(args); err != nil {
			fmt.Fprintf(os.Stderr, "workload %s: %v\n", name, err)
			os.Exit(99)
		}
		return
	}
	scenario, ok := scenarios[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "workload: unknown scenario %q\n", name)
		os.Exit(2)
	}
	w, err := newWorkload(name)
	if err == nil {
		err = scenario(w, args)
	}
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "workload %s: %v\n", name, err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(w.report); err != nil {
		fmt.Fprintf(os.Stderr, "workload %s: write report: %v\n", name, err)
		os.Exit(1)
	}
}
