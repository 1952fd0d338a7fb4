//go:build linux

package linux

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeTracefs is a tracefsHost over a temporary directory: its mount
// creates the syscall tracepoint's id file (or fails with mountErr).
func fakeTracefs(t *testing.T, mountinfo string, mountErr error) (tracefsHost, *int) {
	t.Helper()
	dir := t.TempDir()
	info := filepath.Join(dir, "mountinfo")
	if err := os.WriteFile(info, []byte(mountinfo), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := new(int)
	return tracefsHost{
		mountinfo: info,
		dir:       filepath.Join(dir, "tracing"),
		debugfs:   filepath.Join(dir, "debug", "tracing"),
		mount: func(at string) error {
			*mounts++
			if mountErr != nil {
				return mountErr
			}
			id := filepath.Join(at, syscallEventID)
			if err := os.MkdirAll(filepath.Dir(id), 0o755); err != nil {
				return err
			}
			return os.WriteFile(id, []byte("1\n"), 0o644)
		},
	}, mounts
}

func TestTracefsPrepare(t *testing.T) {
	const rootfs = "22 1 0:21 / / rw,relatime - ext4 /dev/vda rw\n"
	t.Run("not mounted: mounts it and says so", func(t *testing.T) {
		h, mounts := fakeTracefs(t, rootfs, nil)
		ok, w := h.prepare()
		if !ok || *mounts != 1 || !strings.HasPrefix(w, "mounted tracefs at "+h.dir) {
			t.Errorf("ok %v, %d mounts, warning %q", ok, *mounts, w)
		}
	})
	t.Run("not mountable: off, with the fix", func(t *testing.T) {
		h, _ := fakeTracefs(t, rootfs, unix.EPERM)
		ok, w := h.prepare()
		if ok || !strings.Contains(w, "failed execs are not reported") || !strings.Contains(w, "mount -t tracefs tracefs "+h.dir) ||
			!strings.Contains(w, "CAP_SYS_ADMIN") {
			t.Errorf("ok %v, warning %q", ok, w)
		}
	})
	t.Run("mounted elsewhere: used as it is", func(t *testing.T) {
		h, mounts := fakeTracefs(t, "", nil)
		at := filepath.Join(t.TempDir(), "my tracing")
		if err := h.mount(at); err != nil {
			t.Fatal(err)
		}
		*mounts = 0
		info := rootfs + "40 22 0:12 / " + strings.ReplaceAll(at, " ", `\040`) + " rw,nosuid - tracefs tracefs rw\n"
		if err := os.WriteFile(h.mountinfo, []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
		ok, w := h.prepare()
		if !ok || w != "" || *mounts != 0 {
			t.Errorf("ok %v, %d mounts, warning %q", ok, *mounts, w)
		}
	})
	t.Run("no syscall tracepoints: says the kernel lacks them", func(t *testing.T) {
		h, _ := fakeTracefs(t, "", nil)
		empty := t.TempDir()
		if err := os.WriteFile(h.mountinfo, []byte(rootfs+"40 22 0:12 / "+empty+" rw - tracefs tracefs rw\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ok, w := h.prepare()
		if ok || !strings.Contains(w, "CONFIG_FTRACE_SYSCALLS") {
			t.Errorf("ok %v, warning %q", ok, w)
		}
	})
}
