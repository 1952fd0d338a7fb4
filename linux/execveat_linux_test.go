//go:build linux

package linux

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// execveatEnv makes the test binary, run as a child, call execveat on a
// missing file and exit 3.
const execveatEnv = "PROCOTEL_TEST_EXECVEAT"

// atFDCWD is AT_FDCWD as a syscall argument.
var atFDCWD = int64(unix.AT_FDCWD)

func init() {
	if os.Getenv(execveatEnv) == "" {
		return
	}
	path, _ := unix.BytePtrFromString("/no/such/at-file")
	a0, _ := unix.BytePtrFromString("at-file")
	a1, _ := unix.BytePtrFromString("at1")
	argv := []*byte{a0, a1, nil}
	envp := []*byte{nil}
	_, _, _ = unix.Syscall6(unix.SYS_EXECVEAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(path)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envp[0])), 0, 0)
	os.Exit(3)
}

// TestBackendExecveatFailed checks that a failed execveat reports its own
// filename and argv (the arguments sit in other registers than execve's).
func TestBackendExecveatFailed(t *testing.T) {
	_, c := startBackend(t, backends.Options{})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), execveatEnv+"=1")
	_ = cmd.Run()
	pid := int32(cmd.Process.Pid)
	ev := c.wait(t, "exec_failed", func(e *semconv.Event) bool {
		return e.Kind == semconv.KindExecFailed && e.Process.PID == pid
	})
	if ev.Exec.Errno != int32(syscall.ENOENT) {
		t.Errorf("errno %d, want ENOENT", ev.Exec.Errno)
	}
	if ev.Exec.Filename != "/no/such/at-file" {
		t.Errorf("filename %q, want /no/such/at-file", ev.Exec.Filename)
	}
	if got := strings.Join(ev.Exec.Argv, " "); got != "at-file at1" {
		t.Errorf("failed execveat argv %q, want \"at-file at1\"", ev.Exec.Argv)
	}
}
