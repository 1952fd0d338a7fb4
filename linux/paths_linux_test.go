//go:build linux

package linux

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// TestBackendPathsFollowChanges: the exe and cwd of an exec are the paths
// as they are at that exec, as /proc/PID/exe and /proc/PID/cwd would show
// them, whatever changed since the same file or directory was last seen: a
// directory above it renamed, the file renamed, the mount it is on moved.
// The execs run on one CPU, one after another, so that anything on_exec
// kept of an earlier walk (per CPU) would be what the next one meets.
func TestBackendPathsFollowChanges(t *testing.T) {
	needRootAnd(t, "unshare", "taskset", "mount", "cp", "mv")
	_, c := startBackend(t, backends.Options{})
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"m", "n"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A copy of true whose name says which step ran it (argv[1]).
	if out, err := exec.Command("cp", "/bin/true", filepath.Join(dir, "a", "b", "prog")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	script := `set -e
D=$1
cd $D/a/b
$D/a/b/prog s1
$D/a/b/prog s2
mv $D/a $D/x
$D/x/b/prog s3
mv $D/x/b/prog $D/x/b/prog2
$D/x/b/prog2 s4
mount -t tmpfs procotel-test $D/m
cp $D/x/b/prog2 $D/m/prog
cd $D/m
$D/m/prog s5
$D/m/prog s6
mount --move $D/m $D/n
$D/n/prog s7
cd /
umount $D/n
`
	// A mount namespace of its own, private, so that the mount can move
	// and nothing of it reaches the host; one CPU for the whole script.
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "taskset", "-c", "0", "sh", "-c", script, "sh", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("workload: %v: %s", err, out)
	}
	want := []struct{ step, exe, cwd string }{
		{"s1", "a/b/prog", "a/b"},
		{"s2", "a/b/prog", "a/b"},
		{"s3", "x/b/prog", "x/b"}, // the shell's cwd went with the rename
		{"s4", "x/b/prog2", "x/b"},
		{"s5", "m/prog", "m"},
		{"s6", "m/prog", "m"},
		{"s7", "n/prog", "n"}, // the mount moved, and the shell's cwd with it
	}
	for _, w := range want {
		ev := c.wait(t, "exec of "+w.step, func(e *semconv.Event) bool {
			return e.Kind == semconv.KindExec && len(e.Process.Argv) == 2 && e.Process.Argv[1] == w.step &&
				strings.HasPrefix(e.Process.Argv[0], dir)
		})
		exe, cwd := filepath.Join(dir, w.exe), filepath.Join(dir, w.cwd)
		if ev.Process.Exe != exe || ev.Process.Cwd != cwd {
			t.Errorf("%s: exe %q cwd %q, want %q and %q", w.step, ev.Process.Exe, ev.Process.Cwd, exe, cwd)
		}
	}
}
