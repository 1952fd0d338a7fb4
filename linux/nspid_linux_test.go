//go:build linux

package linux

import (
	"os/exec"
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// TestBackendNamespacePID: a fork record gives the new process's pid in
// its pid namespace beside its pid on the host: equal in the initial
// namespace, 1 for a new namespace's first process, 2 for its child.
// (Exec and exit records leave it to the pipeline, which has it from the
// fork.)
func TestBackendNamespacePID(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("SKIPPING: no unshare(1)")
	}
	_, c := startBackend(t, backends.Options{NoExecFailures: true})
	c.wait(t, "seeded", func(ev *semconv.Event) bool { return ev.Kind == semconv.KindExisting })
	cmd := exec.Command("unshare", "--pid", "--fork", "sh", "-c", "/bin/true; exec /bin/true")
	if err := cmd.Run(); err != nil {
		t.Skipf("SKIPPING: unshare --pid: %v", err)
	}
	host := int32(cmd.Process.Pid)
	forkOf := func(what string, match func(p *semconv.Process) bool) semconv.Process {
		return c.wait(t, what, func(ev *semconv.Event) bool { return ev.Kind == semconv.KindFork && match(&ev.Process) }).Process
	}
	un := forkOf("unshare's fork", func(p *semconv.Process) bool { return p.PID == host })
	if un.NSPID != host {
		t.Errorf("unshare (initial namespace): ns pid %d, want its pid %d", un.NSPID, host)
	}
	first := forkOf("the namespace's first process", func(p *semconv.Process) bool { return p.PPID == host })
	if first.NSPID != 1 || first.PID == 1 {
		t.Errorf("first process in the namespace: pid %d, ns pid %d; want ns pid 1", first.PID, first.NSPID)
	}
	child := forkOf("its child", func(p *semconv.Process) bool { return p.PPID == first.PID })
	if child.NSPID != 2 {
		t.Errorf("second process in the namespace: pid %d, ns pid %d; want ns pid 2", child.PID, child.NSPID)
	}
}
