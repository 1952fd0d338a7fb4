//go:build linux

package linux

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// fdExecEnv makes the test binary, run as a child, execute a copy of
// /bin/sleep through a file descriptor (execveat with AT_EMPTY_PATH):
// "memfd" copies it into a memfd named fdExecMemfd, "deleted" copies it
// to the file fdExecPathEnv names and unlinks that before the exec.
const (
	fdExecEnv     = "PROCOTEL_TEST_FDEXEC"
	fdExecPathEnv = "PROCOTEL_TEST_FDEXEC_PATH"
	fdExecMemfd   = "procotel-test"
)

func init() {
	how := os.Getenv(fdExecEnv)
	if how == "" {
		return
	}
	fd, err := fdExecFile(how, os.Getenv(fdExecPathEnv))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	empty, _ := unix.BytePtrFromString("")
	a0, _ := unix.BytePtrFromString("sleep-" + how)
	a1, _ := unix.BytePtrFromString("30")
	argv := []*byte{a0, a1, nil}
	envp := []*byte{nil}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	os.Stderr.WriteString("execveat: " + errno.Error() + "\n")
	os.Exit(2)
}

// fdExecFile returns a descriptor of a copy of /bin/sleep, in a memfd or
// in a file already unlinked.
func fdExecFile(how, path string) (int, error) {
	src, err := os.Open("/bin/sleep")
	if err != nil {
		return -1, err
	}
	defer src.Close()
	if how == "memfd" {
		fd, err := unix.MemfdCreate(fdExecMemfd, 0)
		if err != nil {
			return -1, err
		}
		if _, err := io.Copy(os.NewFile(uintptr(fd), "memfd"), src); err != nil {
			return -1, err
		}
		return fd, nil
	}
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return -1, err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return -1, err
	}
	if err := dst.Close(); err != nil { // a file open for writing cannot be executed
		return -1, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return -1, err
	}
	return fd, os.Remove(path)
}

// TestBackendExePathOfFdExec: a process running a memfd or a deleted file
// reports the executable path the kernel shows in /proc/PID/exe,
// "/memfd:NAME (deleted)" and "PATH (deleted)", not a made-up one.
func TestBackendExePathOfFdExec(t *testing.T) {
	_, c := startBackend(t, backends.Options{})
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ how, want string }{
		{"memfd", "/memfd:" + fdExecMemfd + " (deleted)"},
		{"deleted", filepath.Join(dir, "sleep-copy") + " (deleted)"},
	} {
		t.Run(x.how, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fdExecEnv+"="+x.how, fdExecPathEnv+"="+filepath.Join(dir, "sleep-copy"))
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			pid := int32(cmd.Process.Pid)
			ev := c.wait(t, "exec of sleep-"+x.how, func(e *semconv.Event) bool {
				return e.Kind == semconv.KindExec && e.Process.PID == pid && len(e.Process.Argv) > 0 && e.Process.Argv[0] == "sleep-"+x.how
			})
			kernel, err := os.Readlink("/proc/" + strconv.Itoa(int(pid)) + "/exe")
			if err != nil {
				t.Fatal(err)
			}
			if kernel != x.want {
				t.Fatalf("the kernel shows %q, the test expects %q", kernel, x.want)
			}
			if ev.Process.Exe != kernel {
				t.Errorf("exe %q, /proc/%d/exe %q", ev.Process.Exe, pid, kernel)
			}
		})
	}
}
