//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

// requireRoot skips, loudly, a test that runs the eBPF backend when the
// test is not root; as root the backend must start, or the test fails.
func requireRoot(t *testing.T) {
	t.Helper()
	testenv.RequireKernel(t, "this test runs procotel on the eBPF backend")
}

// buildProcotel builds the binary under test.
func buildProcotel(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "procotel")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build procotel: %v\n%s", err, out)
	}
	return bin
}

// child is the ground truth of one process the test ran.
type child struct {
	pid  int32
	code int32
}

// TestStopSignal runs the binary on the eBPF backend, runs a workload of
// processes with known pids and exit codes, and stops procotel with a
// signal right after the workload's last reap. Whatever the signal, every
// fork, exec, exit and reap must come out, and the summary must follow.
func TestStopSignal(t *testing.T) {
	requireRoot(t)
	bin := buildProcotel(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { stopSignal(t, bin, sig, 300) })
	}
}

func stopSignal(t *testing.T, bin string, sig syscall.Signal, n int) {
	self := os.Getpid()
	var stdout, stderr otelcoltest.Output
	pc := exec.Command(bin, "--output", "json", "--filter", fmt.Sprintf("pid=%d+ pid!=%d", self, self))
	pc.Stdout, pc.Stderr = &stdout, &stderr
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- pc.Wait() }()
	defer pc.Process.Kill()

	// Attached once a probe's exec shows up.
	probe := "procotel-ready-" + strconv.Itoa(self)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), probe); {
		select {
		case err := <-exited:
			t.Fatalf("procotel exited before attaching: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("procotel did not report a probe within 20s\nstderr: %s", stderr.String())
		}
		exec.Command("/bin/sh", "-c", ":", probe).Run()
		time.Sleep(100 * time.Millisecond)
	}

	// The kernel reports a reap after an RCU grace period, which on a
	// loaded machine can take seconds. So the first processes' reaps are
	// awaited (as long as the conformance suite awaits a workload's end),
	// and only the last few run right before the signal: their fork, exec
	// and exit are in the kernel buffer or the ordering window when it
	// comes, and must come out all the same.
	const last = 20
	children := runChildren(t, n-last)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if seen := kindsByPID(t, stdout.String()); !slices.ContainsFunc(children, func(c child) bool { return seen[c.pid][semconv.KindReap] == 0 }) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	children = append(children, runChildren(t, last)...)
	if err := pc.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("procotel after %s: %v\nstderr: %s", sig, err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("procotel did not stop within 30s of %s\nstderr: %s", sig, stderr.String())
	}

	msg := stderr.String()
	for _, want := range []string{"events from the kernel", "lost in the kernel: 0", "pipeline:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("after %s the summary lacks %q:\n%s", sig, want, msg)
		}
	}
	if strings.Contains(msg, "output dropped") {
		t.Errorf("output dropped lines:\n%s", msg)
	}

	seen, codes := kindsByPID(t, stdout.String()), exitCodes(t, stdout.String())
	missing := map[semconv.Kind]int{}
	for i, c := range children {
		for _, k := range []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExit, semconv.KindReap} {
			got := seen[c.pid][k]
			if k == semconv.KindReap && i >= n-last && got == 0 {
				continue // the kernel may not have reported it yet
			}
			if got != 1 {
				missing[k]++
				if missing[k] <= 3 {
					t.Errorf("pid %d: %d %s events, want 1", c.pid, got, k)
				}
			}
		}
		if got, ok := codes[c.pid]; ok && got != c.code {
			t.Errorf("pid %d: exit code %d, want %d", c.pid, got, c.code)
		}
	}
	if len(missing) > 0 {
		t.Errorf("after %s, of %d processes, events not reported once: %v\nsummary:\n%s", sig, n, missing, msg)
	}
}

// runChildren runs n shells one after the other, exiting 0 to 6, and
// returns their pids and codes.
func runChildren(t *testing.T, n int) []child {
	t.Helper()
	children := make([]child, n)
	for i := range children {
		code := i % 7
		c := exec.Command("/bin/sh", "-c", "exit "+strconv.Itoa(code))
		err := c.Run()
		if err != nil && !(code != 0 && errors.As(err, new(*exec.ExitError))) {
			t.Fatalf("run child %d: %v", i, err)
		}
		children[i] = child{pid: int32(c.Process.Pid), code: int32(c.ProcessState.ExitCode())}
	}
	return children
}

// events decodes procotel's JSON-lines output.
func events(t *testing.T, out string) []semconv.Event {
	t.Helper()
	var evs []semconv.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e semconv.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			if line := sc.Text(); sc.Scan() || strings.HasSuffix(out, "\n") {
				t.Fatalf("output line %q: %v", line, err)
			}
			break // the last line is still being written
		}
		evs = append(evs, e)
	}
	return evs
}

// kindsByPID counts the events of each kind per pid in the output.
func kindsByPID(t *testing.T, out string) map[int32]map[semconv.Kind]int {
	seen := map[int32]map[semconv.Kind]int{}
	for _, e := range events(t, out) {
		if seen[e.Process.PID] == nil {
			seen[e.Process.PID] = map[semconv.Kind]int{}
		}
		seen[e.Process.PID][e.Kind]++
	}
	return seen
}

// exitCodes returns the exit code reported per pid.
func exitCodes(t *testing.T, out string) map[int32]int32 {
	codes := map[int32]int32{}
	for _, e := range events(t, out) {
		if e.Kind == semconv.KindExit {
			codes[e.Process.PID] = e.Exit.Code
		}
	}
	return codes
}
