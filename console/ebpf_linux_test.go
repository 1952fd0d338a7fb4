//go:build linux

package console

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/linux"
)

// treeLine is one line of the tree command's drawing.
var treeLine = regexp.MustCompile(`^((?:[│ ]  |[├└]─ )*)(\d+) (\S+)`)

// parseTree returns, for each pid in a tree drawing, its parent's pid (0
// for the top) and its name.
func parseTree(t *testing.T, out string) (parent map[int]int, names map[int]string) {
	t.Helper()
	parent, names = map[int]int{}, map[int]string{}
	var stack []int // pids by depth
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		m := treeLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a tree line: %q in\n%s", l, out)
		}
		depth := len([]rune(m[1])) / 3
		pid, _ := strconv.Atoi(m[2])
		if depth > len(stack) {
			t.Fatalf("line %q is deeper than its parent in\n%s", l, out)
		}
		stack = append(stack[:depth], pid)
		if depth > 0 {
			parent[pid] = stack[depth-1]
		}
		names[pid] = m[3]
	}
	return parent, names
}

// exeName returns the base name of the executable that runs for cmd.
func exeName(t *testing.T, cmd string) string {
	t.Helper()
	p, err := exec.LookPath(cmd)
	if err != nil {
		t.Fatalf("find %s: %v", cmd, err)
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return filepath.Base(p)
}

// TestConsoleEBPF runs a known workload under the real eBPF backend and
// checks the tree and the exit statuses the console shows:
//
//	sh (exit 4)
//	├─ sleep 2
//	└─ sh (exit 3)
//	   └─ sleep 2
func TestConsoleEBPF(t *testing.T) {
	testenv.RequireKernel(t, "console test with the eBPF backend")
	b, err := linux.New("", backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := startRig(t, b)
	s, _, _ := startConsole(t, r, "")
	// The console names a process by its executable: sh may be dash.
	shName, sleepName := exeName(t, "sh"), exeName(t, "sleep")

	cmd := exec.Command("sh", "-c", `sleep 2 & echo $!; sh -c 'sleep 2; exit 3' & echo $!; wait; exit 4`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	top := cmd.Process.Pid
	rd := bufio.NewReader(stdout)
	var kids [2]int
	for i := range kids {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read child pid from the workload: %v", err)
		}
		kids[i], _ = strconv.Atoi(strings.TrimSpace(line))
	}
	sleeper, inner := kids[0], kids[1]

	// Wait until the pipeline knows the grandchild (the inner sh's sleep).
	grandchild := 0
	for deadline := time.Now().Add(5 * time.Second); grandchild == 0; {
		for _, p := range r.pipe.Snapshot() {
			if int(p.PPID) == inner && filepath.Base(p.Exe) == sleepName {
				grandchild = int(p.PID)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline never saw the inner sh %d start sleep", inner)
		}
		time.Sleep(20 * time.Millisecond)
	}

	out := s.with(t).cmd(fmt.Sprintf("tree %d", top))
	t.Logf("tree %d:\n%s", top, out)
	parent, names := parseTree(t, out)
	want := map[int]struct {
		parent int
		name   string
	}{
		top:        {0, shName},
		sleeper:    {top, sleepName},
		inner:      {top, shName},
		grandchild: {inner, sleepName},
	}
	for pid, w := range want {
		if parent[pid] != w.parent || names[pid] != w.name {
			t.Errorf("pid %d: parent %d name %q in the tree, want parent %d name %q", pid, parent[pid], names[pid], w.parent, w.name)
		}
	}
	if len(names) != len(want) {
		t.Errorf("tree %d has %d processes, want %d", top, len(names), len(want))
	}

	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("workload: %v, want exit 4", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if info, ok := r.pipe.Lookup(int32(top)); ok && info.Exited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline never saw %d exit", top)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checks := []struct {
		pid   int
		wants []string
	}{
		{top, []string{"state:       exited with code 4", `argv:        ["sh" "-c" "sleep 2 & echo $!;`, fmt.Sprintf("lineage:     %d %s ← %d ", top, shName, os.Getpid())}},
		{inner, []string{"state:       exited with code 3", fmt.Sprintf("lineage:     %d %s ← %d %s ← %d ", inner, shName, top, shName, os.Getpid())}},
		{grandchild, []string{"state:       exited with code 0", `argv:        ["sleep" "2"]`}},
	}
	for _, c := range checks {
		out := s.with(t).cmd(fmt.Sprintf("show %d", c.pid))
		for _, w := range c.wants {
			if !strings.Contains(out, w) {
				t.Errorf("show %d lacks %q:\n%s", c.pid, w, out)
			}
		}
	}

	// The ring still holds the workload's exits; tail shows them from
	// memory, then Ctrl-C stops it.
	m := s.mark()
	s.send(fmt.Sprintf("tail -n 10 pid=%d+ kind=exit\r", top))
	s.with(t).waitFor(m, "then live")
	s.send("\x03")
	out = s.with(t).waitViewEnd(m, "-- tail stopped: 4 recent and 0 live events shown")
	for _, re := range []string{
		fmt.Sprintf(`exit\s+%d\s+%d\s+\d+\s+%s\s+code 3`, inner, top, shName),
		fmt.Sprintf(`exit\s+%d\s+%d\s+\d+\s+%s\s+code 4`, top, os.Getpid(), shName),
		fmt.Sprintf(`exit\s+%d\s+%d\s+\d+\s+%s\s+code 0`, grandchild, inner, sleepName),
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("tail lacks %s:\n%s", re, out)
		}
	}
}
