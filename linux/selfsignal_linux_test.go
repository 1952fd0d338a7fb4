//go:build linux

package linux

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// selfSignalEnv makes the test binary, run as a child, send itself
// selfURGs SIGURG (through tgkill, as the Go runtime preempts) and
// selfWINCHs SIGWINCH (through kill), then exit 0.
const selfSignalEnv = "PROCOTEL_TEST_SELF_SIGNALS"

const (
	selfURGs   = 50
	selfWINCHs = 3
)

func init() {
	if os.Getenv(selfSignalEnv) == "" {
		return
	}
	pid, tid := unix.Getpid(), unix.Gettid()
	for i := 0; i < selfURGs; i++ {
		_ = unix.Tgkill(pid, tid, unix.SIGURG)
	}
	for i := 0; i < selfWINCHs; i++ {
		_ = unix.Kill(pid, unix.SIGWINCH)
	}
	os.Exit(0)
}

// TestBackendRuntimeSignals: a Go program's SIGURG to itself is runtime
// machinery and left out by default, and every one of them is reported
// with SignalsAll; a signal a process sends itself that is not runtime
// machinery (SIGWINCH) is reported either way, and SIGURG from another
// process too.
func TestBackendRuntimeSignals(t *testing.T) {
	def, cDef := startBackend(t, backends.Options{SignalDeliver: true})
	_, cAll := startBackend(t, backends.Options{SignalsAll: true, SignalDeliver: true})

	child := exec.Command(os.Args[0], "-test.run=^$")
	// No asynchronous preemption: the child's runtime sends no SIGURG of
	// its own, so the count is the test's.
	child.Env = append(os.Environ(), selfSignalEnv+"=1", "GODEBUG=asyncpreemptoff=1")
	if err := child.Run(); err != nil {
		t.Fatalf("self-signalling child: %v", err)
	}
	pid := int32(child.Process.Pid)
	sleep := exec.Command("/bin/sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	other := int32(sleep.Process.Pid)
	for _, c := range []*collector{cDef, cAll} {
		c.wait(t, "exec of sleep", func(e *semconv.Event) bool { return e.Kind == semconv.KindExec && e.Process.PID == other })
	}
	sleep.Process.Signal(syscall.SIGURG)
	sleep.Process.Kill()
	sleep.Wait()

	type count struct{ urg, urgDelivered, winch, urgFromOther int }
	tally := func(c *collector) count {
		c.wait(t, "exit of the child", func(e *semconv.Event) bool { return e.Kind == semconv.KindExit && e.Process.PID == pid })
		c.wait(t, "exit of sleep", func(e *semconv.Event) bool { return e.Kind == semconv.KindExit && e.Process.PID == other })
		c.mu.Lock()
		defer c.mu.Unlock()
		var n count
		for _, e := range c.events {
			if e.Kind != semconv.KindSignal {
				continue
			}
			s := e.Signal
			switch {
			case e.Process.PID == other && s.Signo == int32(unix.SIGURG) && s.Outcome != semconv.SignalDelivered:
				n.urgFromOther++
			case e.Process.PID != pid:
			case s.Signo == int32(unix.SIGURG) && s.Outcome == semconv.SignalDelivered:
				n.urgDelivered++
			case s.Signo == int32(unix.SIGURG) && s.SenderPID == pid:
				n.urg++
			case s.Signo == int32(unix.SIGWINCH) && s.SenderPID == pid && s.Outcome != semconv.SignalDelivered:
				n.winch++
			}
		}
		return n
	}
	if got, want := tally(cDef), (count{urg: 0, urgDelivered: 0, winch: selfWINCHs, urgFromOther: 1}); got != want {
		t.Errorf("default: %+v, want %+v", got, want)
	}
	all := tally(cAll)
	if all.urg != selfURGs || all.winch != selfWINCHs || all.urgFromOther != 1 || all.urgDelivered == 0 {
		t.Errorf("signals all: %+v, want %d SIGURG generated, some delivered, %d SIGWINCH, 1 SIGURG from another process",
			all, selfURGs, selfWINCHs)
	}
	if s := def.Stats(); s.TotalLost() != 0 {
		t.Errorf("lost %d", s.TotalLost())
	}
}
