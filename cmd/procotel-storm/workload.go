//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/procotel/procotel/semconv"
)

// truth is what one storm run reports of itself.
type truth struct {
	PID         int     `json:"pid"`
	Workers     int     `json:"workers"`
	Cycles      int64   `json:"cycles"`
	Forks       int64   `json:"forks"`
	Execs       int64   `json:"execs"`
	FailedExecs int64   `json:"failed_execs"`
	Signals     int64   `json:"signals"`
	Threads     int64   `json:"threads"`
	Bad         int64   `json:"bad"`
	CPU         float64 `json:"cpu"`
	Elapsed     float64 `json:"elapsed"`
}

func (t truth) rate() float64 { return float64(t.Cycles) / t.Elapsed }

// cpuPerCycle is the CPU time the storm's tree used per cycle.
func (t truth) cpuPerCycle() float64 {
	if t.Cycles == 0 {
		return 0
	}
	return t.CPU / float64(t.Cycles)
}

// countedKinds are the kinds the harness compares with the ground truth.
var countedKinds = []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed,
	semconv.KindExit, semconv.KindReap, semconv.KindSignal}

// expected returns the events the storm caused, per kind, for processes
// whose comm starts with "storm" (the rule every monitor's count uses):
// the storm's own exec, exit and reap (its fork is by the harness, under
// the harness's name), its workers', and every cycle's processes.
func (t truth) expected() map[semconv.Kind]int64 {
	procs := int64(t.Workers) + t.Forks // forked by storm processes
	return map[semconv.Kind]int64{
		semconv.KindFork:       procs,
		semconv.KindExec:       1 + t.Execs,
		semconv.KindExecFailed: t.FailedExecs,
		semconv.KindExit:       1 + procs,
		semconv.KindReap:       1 + procs,
		semconv.KindSignal:     t.Signals,
	}
}

// isStorm is the harness's rule for the storm's events: the process's
// comm starts with "storm" (storm, storm-true, storm-cc).
func isStorm(comm string) bool { return strings.HasPrefix(comm, "storm") }

// buildStorm compiles the workload into dir and links its two other
// names, storm-true (exit at once) and storm-cc (the build mode's driver).
func buildStorm(dir string) string {
	src := filepath.Join(dir, "storm.c")
	check(os.WriteFile(src, stormSource, 0o644))
	bin := filepath.Join(dir, "storm")
	out, err := exec.Command("cc", "-O2", "-static", "-pthread", "-o", bin, src).CombinedOutput()
	if err != nil { // no static libc: a dynamic one still works, only slower to exec
		out, err = exec.Command("cc", "-O2", "-pthread", "-o", bin, src).CombinedOutput()
	}
	if err != nil {
		check(fmt.Errorf("compile storm workload: %v\n%s", err, out))
	}
	check(os.Symlink(bin, filepath.Join(dir, "storm-true")))
	check(os.Symlink(bin, filepath.Join(dir, "storm-cc")))
	return bin
}

// runStorm runs one storm and returns its ground truth.
func runStorm(bin, mode string, workers int, seconds, rate float64) truth {
	var out bytes.Buffer
	cmd := exec.Command(bin, mode, strconv.Itoa(workers), fmt.Sprint(seconds),
		filepath.Join(filepath.Dir(bin), "storm-true"), fmt.Sprint(rate))
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	check(cmd.Run())
	var t truth
	check(json.Unmarshal(out.Bytes(), &t))
	if t.Bad != 0 {
		check(fmt.Errorf("storm %s: %d cycles went wrong", mode, t.Bad))
	}
	return t
}

// holder is a population of sleeping processes for the start-up check.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// hold starts n sleeping processes and waits until they all exist.
func hold(bin string, n int) (*holder, error) {
	cmd := exec.Command(bin, "hold", strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start holder: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("holder did not get ready: %q %v", line, err)
	}
	return &holder{cmd: cmd, stdin: stdin}, nil
}

func (h *holder) stop() {
	h.stdin.Close()
	done := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		<-done
	}
}

// syscallTax runs the workload's getppid() timing (the best of five runs of
// n calls) and returns nanoseconds per call: with a monitor attached, what
// it adds to every system call of every process on the host.
func syscallTax(bin string, n int) (float64, error) {
	out, err := exec.Command(bin, "syscalls", strconv.Itoa(n)).Output()
	if err != nil {
		return 0, fmt.Errorf("syscall timing: %w", err)
	}
	var r struct {
		NS float64 `json:"ns_per_syscall"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("syscall timing: %q: %w", out, err)
	}
	return r.NS, nil
}
