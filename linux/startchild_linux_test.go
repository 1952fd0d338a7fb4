//go:build linux

package linux

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

// startChildEnv makes the test binary, run as a child, start the backend
// with default options, run a shell whose exec fails (it exits 127), and
// print a startReport as JSON on stdout. The parent runs the child with
// other privileges or in another mount namespace.
const startChildEnv = "PROCOTEL_TEST_START_CHILD"

// startReport is what a start child saw.
type startReport struct {
	StartErr   string   `json:"start_err,omitempty"`
	Missing    bool     `json:"missing,omitempty"` // StartErr wraps a MissingFeatureError
	Warnings   []string `json:"warnings,omitempty"`
	Kinds      []string `json:"kinds,omitempty"`
	ExecFailed bool     `json:"exec_failed,omitempty"` // the shell's failed exec was reported
	Exit       bool     `json:"exit,omitempty"`        // the shell's exit (code 127) was reported
}

func init() {
	if os.Getenv(startChildEnv) == "" {
		return
	}
	rep := runStartChild()
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	os.Exit(0)
}

func runStartChild() startReport {
	var rep startReport
	be, err := New("", backends.Options{})
	if err != nil {
		rep.StartErr = err.Error()
		return rep
	}
	defer be.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := be.Start(ctx); err != nil {
		var mf *backends.MissingFeatureError
		rep.StartErr, rep.Missing = err.Error(), errors.As(err, &mf)
		return rep
	}
	caps := be.Capabilities()
	rep.Warnings = caps.Warnings
	for _, k := range caps.Kinds {
		rep.Kinds = append(rep.Kinds, k.String())
	}
	q := semconv.NewQueue(4096, 0)
	out := testenv.Events(q, 4096)
	go func() { _ = be.Run(ctx, q); q.Close() }()
	sh := exec.Command("/bin/sh", "-c", "exec /no/such/file 2>/dev/null")
	_ = sh.Run()
	pid := int32(sh.Process.Pid)
	timeout := time.After(5 * time.Second)
	for !rep.Exit {
		select {
		case ev := <-out:
			if ev.Process.PID != pid {
				continue
			}
			switch {
			case ev.Kind == semconv.KindExecFailed && ev.Exec.Filename == "/no/such/file":
				rep.ExecFailed = true
			case ev.Kind == semconv.KindExit && ev.Exit.Code == 127:
				rep.Exit = true
			}
		case <-timeout:
			return rep
		}
	}
	return rep
}

// startChild runs the test binary as a start child through wrapper (a
// command line such as setpriv ... or unshare ...; the binary's path is
// appended) and returns its report. The binary is copied where any user
// may run it.
func startChild(t *testing.T, wrapper ...string) startReport {
	t.Helper()
	bin := worldExecutableCopy(t)
	args := append(slices.Clone(wrapper[1:]), bin)
	cmd := exec.Command(wrapper[0], args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), startChildEnv+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	var rep startReport
	if err := json.Unmarshal(outb, &rep); err != nil {
		t.Fatalf("start child printed %q: %v\n%s", outb, err, stderr.String())
	}
	t.Logf("%s: %+v", strings.Join(wrapper, " "), rep)
	return rep
}

// worldExecutableCopy copies the test binary into a directory every user
// may enter (go test's own build directory is its owner's only).
func worldExecutableCopy(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "procotel-test-bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "linux.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// needRootAnd skips unless the test runs as root with the named tools.
func needRootAnd(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: needs root to run the backend under other privileges")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPING: needs %s: %v", tool, err)
		}
	}
}

func hasKind(rep startReport, k semconv.Kind) bool { return slices.Contains(rep.Kinds, k.String()) }

// warningWith returns the first warning containing every one of subs.
func warningWith(rep startReport, subs ...string) (string, bool) {
	for _, w := range rep.Warnings {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(w, s)
		}
		if ok {
			return w, true
		}
	}
	return "", false
}

// nobody is the unprivileged user the least-privilege runs use.
const nobody = "65534"
