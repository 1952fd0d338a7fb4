//go:build linux

package linux

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

// startBackend starts the real backend, skipping loudly when the test is
// not root and failing when it is root and the kernel refuses.
func startBackend(t testing.TB, opts backends.Options) (*Backend, *collector) {
	t.Helper()
	b, ctx, cancel := attachBackend(t, opts)
	c := &collector{}
	out := semconv.NewQueue(1024, 0)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, out); out.Close() }()
	go out.Consume(func(ev *semconv.Event) { c.add(*ev) })
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
	return b, c
}

// attachBackend makes and starts the real backend, skipping loudly when
// the test is not root and failing when it is root and the kernel
// refuses; cancel ends the context its Run is given.
func attachBackend(t testing.TB, opts backends.Options) (b *Backend, ctx context.Context, cancel context.CancelFunc) {
	t.Helper()
	testenv.RequireKernel(t, "eBPF backend test")
	be, err := New("", opts)
	if err != nil {
		t.Fatal(err)
	}
	b = be.(*Backend)
	ctx, cancel = context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start as root: %+v", err)
	}
	return b, ctx, cancel
}

// collector keeps the events a test has seen.
type collector struct {
	mu     sync.Mutex
	events []semconv.Event
}

func (c *collector) add(ev semconv.Event) {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
}

// wait returns the first event that match accepts, failing the test
// after a few seconds.
func (c *collector) wait(t *testing.T, what string, match func(*semconv.Event) bool) semconv.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for i := range c.events {
			if match(&c.events[i]) {
				ev := c.events[i]
				c.mu.Unlock()
				return ev
			}
		}
		c.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s event within 5s", what)
	return semconv.Event{}
}

func TestBackendExitCode(t *testing.T) {
	b, c := startBackend(t, backends.Options{})
	c.wait(t, "existing self", func(e *semconv.Event) bool {
		return e.Kind == semconv.KindExisting && e.Process.PID == int32(os.Getpid())
	})

	cmd := exec.Command("/bin/sh", "-c", "exit 7")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("workload: %v", err)
	}
	pid := int32(cmd.Process.Pid)
	self := int32(os.Getpid())

	fork := c.wait(t, "fork", func(e *semconv.Event) bool { return e.Kind == semconv.KindFork && e.Process.PID == pid })
	if fork.Process.PPID != self || fork.Process.Start == 0 || fork.Process.ParentStart == 0 {
		t.Errorf("fork: ppid %d (want %d), start %d, parent start %d", fork.Process.PPID, self, fork.Process.Start, fork.Process.ParentStart)
	}
	if fork.Fork.ParentTID == 0 {
		t.Errorf("fork: no parent tid")
	}
	// os/exec forks with CLONE_VM|CLONE_VFORK and SIGCHLD; flags derived
	// without fentry cannot show CLONE_VFORK.
	const want = syscall.CLONE_VM | uint64(syscall.SIGCHLD)
	if f := fork.Fork.CloneFlags; f&want != want || f&syscall.CLONE_THREAD != 0 {
		t.Errorf("fork: clone flags %#x, want %#x and no CLONE_THREAD", f, want)
	}

	ex := c.wait(t, "exec", func(e *semconv.Event) bool { return e.Kind == semconv.KindExec && e.Process.PID == pid })
	if ex.Exec.Filename != "/bin/sh" {
		t.Errorf("exec filename %q, want /bin/sh", ex.Exec.Filename)
	}
	wantExe, _ := os.Readlink("/proc/self/root/bin/sh") // absent unless /bin/sh is a link
	if wantExe == "" {
		wantExe = "/bin/sh"
	}
	if !strings.HasSuffix(ex.Process.Exe, "sh") || ex.Process.Exe[0] != '/' {
		t.Errorf("exec exe %q, want an absolute path to a shell (%s)", ex.Process.Exe, wantExe)
	}
	if got := strings.Join(ex.Process.Argv, " "); got != "/bin/sh -c exit 7" {
		t.Errorf("exec argv %q", ex.Process.Argv)
	}
	wd, _ := os.Getwd()
	if ex.Process.Cwd != wd {
		t.Errorf("exec cwd %q, want %q", ex.Process.Cwd, wd)
	}
	if ex.Process.Start != fork.Process.Start {
		t.Errorf("exec start %d differs from fork start %d", ex.Process.Start, fork.Process.Start)
	}
	if ex.Time.IsZero() || time.Since(ex.Time) > time.Minute || time.Since(ex.Time) < 0 {
		t.Errorf("exec wall time %v is not now", ex.Time)
	}

	exit := c.wait(t, "exit", func(e *semconv.Event) bool { return e.Kind == semconv.KindExit && e.Process.PID == pid })
	if exit.Exit != (semconv.ExitInfo{Code: 7}) {
		t.Errorf("exit %+v, want code 7", exit.Exit)
	}
	reap := c.wait(t, "reap", func(e *semconv.Event) bool { return e.Kind == semconv.KindReap && e.Process.PID == pid })
	if reap.Reap.ReaperPID != self {
		t.Errorf("reap by %d, want %d", reap.Reap.ReaperPID, self)
	}
	if s := b.Stats(); s.TotalLost() != 0 || s.DecodeErrors != 0 || s.Existing == 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestBackendExecFailed(t *testing.T) {
	_, c := startBackend(t, backends.Options{})
	cmd := exec.Command("/no/such/file", "a1", "a2")
	if err := cmd.Start(); err == nil {
		t.Fatal("started /no/such/file")
	}
	// os/exec checks the path before forking; make the kernel refuse it.
	sh := exec.Command("/bin/sh", "-c", "exec /no/such/file a1 a2; exit 3")
	_ = sh.Run()
	pid := int32(sh.Process.Pid)
	ev := c.wait(t, "exec_failed", func(e *semconv.Event) bool {
		return e.Kind == semconv.KindExecFailed && e.Process.PID == pid && e.Exec.Filename == "/no/such/file"
	})
	if ev.Exec.Errno != int32(syscall.ENOENT) {
		t.Errorf("errno %d, want ENOENT", ev.Exec.Errno)
	}
	if got := strings.Join(ev.Exec.Argv, " "); got != "/no/such/file a1 a2" {
		t.Errorf("failed exec argv %q", ev.Exec.Argv)
	}
}

// With exec failures off no syscall tracepoint is attached: the shell's
// failed exec goes unreported while its exit and a later successful exec
// of the same shell's child still arrive.
func TestBackendNoExecFailures(t *testing.T) {
	b, c := startBackend(t, backends.Options{NoExecFailures: true})
	b.mu.Lock()
	for name := range b.coll.Programs {
		if strings.Contains(name, "execve") {
			t.Errorf("program %s loaded with exec failures off", name)
		}
	}
	b.mu.Unlock()
	if slices.Contains(b.Capabilities().Kinds, semconv.KindExecFailed) {
		t.Error("Capabilities list exec_failed with exec failures off")
	}
	trueExe, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("/bin/sh", "-c", "/no/such/file; exec /bin/true")
	_ = sh.Run()
	pid := int32(sh.Process.Pid)
	c.wait(t, "exec of /bin/true", func(e *semconv.Event) bool {
		return e.Kind == semconv.KindExec && e.Process.PID == pid && e.Process.Exe == trueExe
	})
	c.wait(t, "exit", func(e *semconv.Event) bool { return e.Kind == semconv.KindExit && e.Process.PID == pid })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if e.Kind == semconv.KindExecFailed {
			t.Errorf("exec_failed reported with exec failures off: %+v", e.Exec)
		}
	}
}

func TestBackendSignalKill(t *testing.T) {
	_, c := startBackend(t, backends.Options{})
	cmd := exec.Command("/bin/sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := int32(cmd.Process.Pid)
	c.wait(t, "exec of sleep", func(e *semconv.Event) bool { return e.Kind == semconv.KindExec && e.Process.PID == pid })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	sig := c.wait(t, "signal", func(e *semconv.Event) bool { return e.Kind == semconv.KindSignal && e.Process.PID == pid })
	if sig.Signal.Signo != int32(syscall.SIGTERM) || sig.Signal.SenderPID != int32(os.Getpid()) ||
		sig.Signal.Outcome != semconv.SignalGenerated || sig.Signal.Code != 0 {
		t.Errorf("signal %+v", sig.Signal)
	}
	exit := c.wait(t, "exit", func(e *semconv.Event) bool { return e.Kind == semconv.KindExit && e.Process.PID == pid })
	if exit.Exit != (semconv.ExitInfo{Signal: int32(syscall.SIGTERM)}) {
		t.Errorf("exit %+v, want killed by SIGTERM", exit.Exit)
	}
}

// TestBackendTraceParent: with the option on, an exec whose environment
// carries TRACEPARENT reports it; one without reports none.
func TestBackendTraceParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	_, c := startBackend(t, backends.Options{TraceParent: true})
	with := exec.Command("/bin/sleep", "0.3")
	with.Env = []string{"TRACEPARENT=" + tp, "PATH=/bin"}
	without := exec.Command("/bin/sleep", "0.3")
	without.Env = []string{"PATH=/bin"}
	for _, cmd := range []*exec.Cmd{with, without} {
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []struct {
		cmd  *exec.Cmd
		want string
	}{{with, tp}, {without, ""}} {
		pid := int32(x.cmd.Process.Pid)
		ev := c.wait(t, "exec", func(e *semconv.Event) bool { return e.Kind == semconv.KindExec && e.Process.PID == pid })
		if ev.TraceParent != x.want {
			t.Errorf("exec of %d: TraceParent %q, want %q", pid, ev.TraceParent, x.want)
		}
	}
}

// TestBackendIgnoresOwnRuntimeSignals: the Go runtime of the observing
// process signals its own threads (SIGURG for preemption); those are not
// events. A signal this process sends to itself through kill(2) is its own
// too and not reported, while one it sends to a child is.
func TestBackendIgnoresOwnRuntimeSignals(t *testing.T) {
	_, c := startBackend(t, backends.Options{})
	self := int32(os.Getpid())
	// Make the runtime preempt: busy goroutines on every core for a while.
	stop := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; time.Now().Before(stop); x++ {
				_ = x * x
			}
		}()
	}
	wg.Wait()
	syscall.Kill(int(self), syscall.SIGURG)
	cmd := exec.Command("/bin/sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := int32(cmd.Process.Pid)
	c.wait(t, "exec of sleep", func(e *semconv.Event) bool { return e.Kind == semconv.KindExec && e.Process.PID == pid })
	cmd.Process.Signal(syscall.SIGURG)
	cmd.Process.Kill()
	cmd.Wait()
	c.wait(t, "SIGURG to the child", func(e *semconv.Event) bool {
		return e.Kind == semconv.KindSignal && e.Process.PID == pid && e.Signal.Signo == int32(syscall.SIGURG)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if e.Kind == semconv.KindSignal && e.Process.PID == self && e.Signal.SenderPID == self {
			t.Errorf("own signal reported: %+v", e.Signal)
		}
	}
}
