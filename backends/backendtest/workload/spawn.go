package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/procotel/procotel/backends/backendtest/truth"
)

// workload is the root of one scenario run: it records what it does in
// report.
type workload struct {
	report truth.Report
	self   string // path of this binary, used to start children
	selfEx string // self with every symbolic link resolved
	pid    int32
}

func newWorkload(scenario string) (*workload, error) {
	if err := becomeSubreaper(); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	selfEx, err := filepath.EvalSymlinks(self)
	if err != nil {
		return nil, fmt.Errorf("resolve own executable: %w", err)
	}
	w := &workload{self: self, selfEx: selfEx, pid: int32(os.Getpid())}
	w.report = truth.Report{
		Scenario: scenario,
		Root:     w.pid,
		UID:      uint32(os.Getuid()),
		GID:      uint32(os.Getgid()),
	}
	rootExe, err := filepath.EvalSymlinks(os.Args[0])
	if err != nil {
		rootExe = selfEx
	}
	w.report.Procs = append(w.report.Procs, truth.Proc{
		PID:   w.pid,
		PPID:  int32(os.Getppid()),
		Role:  "workload root (" + scenario + ")",
		Execs: []truth.Exec{{Filename: os.Args[0], Argv: append([]string(nil), os.Args...), Exe: rootExe}},
	})
	return w, nil
}

// selfExec describes an exec of this binary with the given child
// subcommand and arguments.
func (w *workload) selfExec(args ...string) truth.Exec {
	argv := append([]string{w.self}, args...)
	return truth.Exec{Filename: w.self, Argv: argv, Exe: w.selfEx}
}

// add records a process and returns its index in the report.
func (w *workload) add(p truth.Proc) int {
	w.report.Procs = append(w.report.Procs, p)
	return len(w.report.Procs) - 1
}

// child describes a process the workload started, reaped (ending as st)
// and that ran execs.
func (w *workload) child(pid int32, role string, st *truth.Exit, execs ...truth.Exec) truth.Proc {
	return truth.Proc{PID: pid, PPID: w.pid, Role: role, Execs: execs, Exit: st, Reaper: w.pid}
}

func (w *workload) note(format string, args ...any) {
	w.report.Notes = append(w.report.Notes, fmt.Sprintf(format, args...))
}

// finish reaps any descendant that was re-parented to the workload and
// not waited for yet, and notes it: a correct scenario leaves none.
func (w *workload) finish() error {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.ECHILD) || pid == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reap leftover children: %w", err)
		}
		w.note("reaped unexpected leftover child %d (status %#x)", pid, uint32(ws))
	}
}

// io says what a child's standard streams are.
type stdio struct {
	stdin  *os.File // nil: /dev/null
	stdout *os.File // nil: /dev/null
	dir    string
	setsid bool
}

// start forks and executes path with argv; it returns the child's pid
// once the exec succeeded, or the errno of a failed exec.
func start(path string, argv []string, s stdio) (int32, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	in, out := devnull, devnull
	if s.stdin != nil {
		in = s.stdin
	}
	if s.stdout != nil {
		out = s.stdout
	}
	attr := &syscall.ProcAttr{
		Dir:   s.dir,
		Env:   os.Environ(),
		Files: []uintptr{in.Fd(), out.Fd(), os.Stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: s.setsid},
	}
	pid, err := syscall.ForkExec(path, argv, attr)
	return int32(pid), err
}

// piped is a child whose standard output the parent reads.
type piped struct {
	pid int32
	out *bufio.Reader
	f   *os.File
}

// startPiped starts argv with its standard output on a pipe the caller
// reads with line.
func startPiped(argv []string, s stdio) (*piped, error) {
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	s.stdout = wr
	pid, err := start(argv[0], argv, s)
	wr.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %q: %w", argv, err)
	}
	return &piped{pid: pid, out: bufio.NewReader(r), f: r}, nil
}

// startReporting starts argv as startPiped does and reads the report it
// prints first into v.
func startReporting(argv []string, s stdio, v any) (*piped, error) {
	c, err := startPiped(argv, s)
	if err != nil {
		return nil, err
	}
	if err := c.line(v); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// runReporting starts argv as startPiped does, reads the report it prints
// first into v and reaps it.
func runReporting(argv []string, s stdio, v any) (int32, *truth.Exit, error) {
	c, err := startReporting(argv, s, v)
	if err != nil {
		return 0, nil, err
	}
	defer c.close()
	st, err := reap(c.pid)
	return c.pid, st, err
}

// runChild starts path with argv and reaps it; what names it in the
// error if it does not start.
func runChild(path string, argv []string, s stdio, what string) (int32, *truth.Exit, error) {
	pid, err := start(path, argv, s)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	st, err := reap(pid)
	return pid, st, err
}

// scratchDir creates a temporary directory; the caller removes it.
func scratchDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("create scratch directory: %w", err)
	}
	return dir, nil
}

// line reads the next JSON line the child printed into v.
func (p *piped) line(v any) error {
	b, err := p.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read report of child %d: %w", p.pid, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode report of child %d %q: %w", p.pid, b, err)
	}
	return nil
}

func (p *piped) close() { p.f.Close() }

// reap waits for pid and returns its end as the wait status says.
func reap(pid int32) (*truth.Exit, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(int(pid), &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wait for %d: %w", pid, err)
		}
		break
	}
	return exitOf(ws), nil
}

func exitOf(ws syscall.WaitStatus) *truth.Exit {
	switch {
	case ws.Exited():
		return &truth.Exit{Code: int32(ws.ExitStatus())}
	case ws.Signaled():
		return &truth.Exit{Signal: int32(ws.Signal()), CoreDumped: ws.CoreDump()}
	}
	return nil
}

// report is the line a child prints for its parent.
type report struct {
	PID     int32       `json:"pid"`
	PPID    int32       `json:"ppid,omitempty"`
	SID     int32       `json:"sid,omitempty"`
	TID     int32       `json:"tid,omitempty"`
	Child   int32       `json:"child,omitempty"`
	Errno   int32       `json:"errno,omitempty"`
	Ignored bool        `json:"ignored,omitempty"`
	Exit    *truth.Exit `json:"exit,omitempty"`
	Error   string      `json:"error,omitempty"`
}

// say prints r as one JSON line on standard output.
func say(r report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if _, err := os.Stdout.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
