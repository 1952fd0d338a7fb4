//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/procotel/procotel/internal/otelcoltest"
)

// anchorEnv makes the test binary run as an anchor (anchorMain) instead
// of running tests.
const anchorEnv = "PROCOTEL_E2E_ANCHOR"

func TestMain(m *testing.M) {
	if os.Getenv(anchorEnv) == "1" {
		os.Exit(anchorMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// anchorMain is the anchor process: it waits for a line on stdin, then
// runs argv as the leader of a new process group (so that the workload
// roots its own trace under the process_group policy), waits for it and
// prints "exit root PID STATUS", STATUS being the shell's $? form.
//
// The anchor exists before the backend starts, so a pipeline filter
// "pid=ANCHOR+ pid!=ANCHOR" selects exactly the workload it starts, even
// while other tests of this process (Collectors, other workloads) create
// processes of their own.
func anchorMain(argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "anchor: no command")
		return 2
	}
	// The first process lookup makes the Go runtime check, once, that
	// pidfds work, by forking a child that exits at once. Do it now,
	// before the backend attaches, so that child is not in the workload.
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintf(os.Stderr, "anchor: wait for go: %v\n", err)
		return 2
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "anchor: %v\n", err)
		return 2
	}
	_ = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		fmt.Fprintf(os.Stderr, "anchor: wait status %T\n", cmd.ProcessState.Sys())
		return 2
	}
	status := ws.ExitStatus()
	if ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	fmt.Printf("exit root %d %d\n", cmd.Process.Pid, status)
	return 0
}

// anchor is a running anchor process.
type anchor struct {
	t     *testing.T
	cmd   *exec.Cmd
	PID   int
	stdin io.WriteCloser
	out   otelcoltest.Output
	errs  otelcoltest.Output
	done  chan struct{}
}

// startAnchor starts the anchor with argv and env (added to this
// process's environment); the workload waits for Go.
func startAnchor(t *testing.T, env []string, argv ...string) *anchor {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	a := &anchor{t: t, done: make(chan struct{})}
	a.cmd = exec.Command(self, argv...)
	a.cmd.Env = append(append(os.Environ(), anchorEnv+"=1"), env...)
	a.cmd.Stdout, a.cmd.Stderr = &a.out, &a.errs
	// A killed anchor's workload may hold its output open; Wait gives up
	// on it after WaitDelay instead of blocking the test's cleanup.
	a.cmd.WaitDelay = 5 * time.Second
	if a.stdin, err = a.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start anchor: %v", err)
	}
	a.PID = a.cmd.Process.Pid
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			_ = a.cmd.Process.Kill()
			<-a.done
		}
	})
	return a
}

// Go lets the workload start.
func (a *anchor) Go() {
	a.t.Helper()
	if _, err := io.WriteString(a.stdin, "go\n"); err != nil {
		a.t.Fatalf("start workload: %v", err)
	}
	_ = a.stdin.Close()
}

// Wait waits for the anchor to exit and returns what the workload printed.
func (a *anchor) Wait(timeout time.Duration) string {
	a.t.Helper()
	select {
	case <-a.done:
	case <-time.After(timeout):
		_ = a.cmd.Process.Kill()
		<-a.done
		a.t.Fatalf("workload did not finish in %v; output:\n%s\nstderr:\n%s", timeout, a.out.String(), a.errs.String())
	}
	if !a.cmd.ProcessState.Success() {
		a.t.Fatalf("anchor: %v\nstderr:\n%s", a.cmd.ProcessState, a.errs.String())
	}
	return a.out.String()
}
