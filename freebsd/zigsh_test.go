package freebsd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakePython writes a python3 stand-in that logs its arguments to log.
// "-m pip --version" succeeds when pip is true; "-m pip install ...
// --target DIR" makes DIR/ziglang/zig, a script that prints "zig ARGS".
func fakePython(t *testing.T, dir, log string, pip bool) string {
	t.Helper()
	pipExit := "0"
	if !pip {
		pipExit = "1"
	}
	script := `#!/bin/sh
echo "$*" >>` + log + `
[ "$1 $2" = "-m pip" ] || exit 2
[ "$3" = --version ] && exit ` + pipExit + `
while [ $# -gt 0 ]; do
	[ "$1" = --target ] && target=$2
	shift
done
mkdir -p "$target/ziglang"
printf '#!/bin/sh\necho zig "$@"\n' >"$target/ziglang/zig"
chmod +x "$target/ziglang/zig"
`
	p := filepath.Join(dir, "python3")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runZigSh(t *testing.T, python, cache string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"zig.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHON="+python, "PROCOTEL_ZIG_CACHE="+cache)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestZigShInstallsOnceThenRunsFromCache(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	python := fakePython(t, dir, log, true)
	cache := filepath.Join(dir, "cache")

	out, err := runZigSh(t, python, cache, "cc", "-v")
	if err != nil || !strings.Contains(out, "zig cc -v") {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	if !strings.Contains(string(calls), "install") || !strings.Contains(string(calls), "ziglang==") {
		t.Fatalf("first run did not pip install ziglang; python calls:\n%s", calls)
	}
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	out, err = runZigSh(t, python, cache, "version")
	if err != nil || strings.TrimSpace(out) != "zig version" {
		t.Fatalf("second run: %v\n%q", err, out)
	}
	if calls, err := os.ReadFile(log); err == nil {
		t.Errorf("second run called python again (cache ignored):\n%s", calls)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cache, ".install.*"))
	if len(leftovers) > 0 {
		t.Errorf("install left temporary directories: %q", leftovers)
	}
}

func TestZigShWithoutPipNamesTheFix(t *testing.T) {
	dir := t.TempDir()
	python := fakePython(t, dir, filepath.Join(dir, "calls"), false)
	cache := filepath.Join(dir, "cache")
	out, err := runZigSh(t, python, cache, "version")
	if err == nil {
		t.Fatalf("zig.sh succeeded with a python without pip:\n%s", out)
	}
	if !strings.Contains(out, "has no pip") || !strings.Contains(out, "ensurepip") || !strings.Contains(out, "ZIG=zig") {
		t.Errorf("message does not say pip is missing and how to fix it:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(cache, "ziglang-"+pinnedZig(t))); err == nil {
		t.Errorf("a failed install left a cache entry")
	}
}

// pinnedZig reads the version zig.sh pins.
func pinnedZig(t *testing.T) string {
	b, err := os.ReadFile("zig.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ZIG_VERSION="); ok {
			return v
		}
	}
	t.Fatal("no ZIG_VERSION= line in zig.sh")
	return ""
}
