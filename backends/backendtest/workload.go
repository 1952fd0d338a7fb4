package backendtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/procotel/procotel/backends/backendtest/truth"
)

// WorkloadPackage is the import path of the workload program.
const WorkloadPackage = "github.com/procotel/procotel/backends/backendtest/workload"

// build is the shared workload binary: built once, kept while any test
// that asked for it is running, removed after the last one ends.
var build struct {
	sync.Mutex
	dir   string
	bin   string
	users int
}

// BuildWorkload compiles the workload program (with the go command, which
// must be on PATH or in GOROOT) and returns the path of the binary, named
// "workload". The binary is built once and shared by every test that asks
// for it while one is running; it is removed when the last of them ends.
func BuildWorkload(t testing.TB) string {
	t.Helper()
	build.Lock()
	defer build.Unlock()
	if build.users == 0 {
		dir, err := os.MkdirTemp("", "procotel-conformance-")
		if err != nil {
			t.Fatalf("create directory for the workload: %v", err)
		}
		bin := filepath.Join(dir, "workload")
		cmd := exec.Command(goTool(), "build", "-o", bin, WorkloadPackage)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			t.Fatalf("build workload: %v\n%s", err, out)
		}
		build.dir, build.bin = dir, bin
	}
	build.users++
	t.Cleanup(func() {
		build.Lock()
		defer build.Unlock()
		build.users--
		if build.users == 0 {
			os.RemoveAll(build.dir)
			build.dir, build.bin = "", ""
		}
	})
	return build.bin
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go" // not on PATH: running it says so
}

// RunWorkload runs the workload binary bin with a scenario and its
// arguments, waits for it, and returns its report completed with what
// only the caller knows: the run's wall-clock window, the root's exec as
// the caller made it, its exit status, its reaper and its parent's comm.
func RunWorkload(ctx context.Context, bin string, args ...string) (truth.Report, error) {
	var rep truth.Report
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	started := time.Now()
	err := cmd.Run()
	finished := time.Now()
	if err != nil {
		return rep, fmt.Errorf("run workload %s: %w\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return rep, fmt.Errorf("decode workload report %q: %w", stdout.String(), err)
	}
	rep.Started, rep.Finished = started, finished
	rep.ParentComm = selfComm()
	if len(rep.Procs) == 0 || rep.Procs[0].PID != rep.Root || len(rep.Procs[0].Execs) != 1 {
		return rep, fmt.Errorf("workload report does not start with its root %d and its exec: %+v", rep.Root, rep.Procs)
	}
	root := &rep.Procs[0]
	if root.PID != int32(cmd.Process.Pid) || root.PPID != int32(os.Getpid()) {
		return rep, fmt.Errorf("workload root says pid %d ppid %d, but it was started as %d by %d",
			root.PID, root.PPID, cmd.Process.Pid, os.Getpid())
	}
	root.Execs[0].Filename = cmd.Path
	root.Execs[0].Argv = cmd.Args
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return rep, fmt.Errorf("workload wait status is %T, want syscall.WaitStatus", cmd.ProcessState.Sys())
	}
	root.Exit = &truth.Exit{Code: int32(ws.ExitStatus())}
	root.Reaper = int32(os.Getpid())
	return rep, nil
}

// selfComm returns the kernel task name of this process.
func selfComm() string {
	if b, err := os.ReadFile("/proc/self/comm"); err == nil {
		return strings.TrimSuffix(string(b), "\n")
	}
	return ""
}
