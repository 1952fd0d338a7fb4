//go:build linux

package linux

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The syscall tracepoints that see failed execs are found through tracefs:
// cilium/ebpf reads the tracepoint's id from events/GROUP/NAME/id under
// the first tracefs it finds (and remembers what it found for the life of
// the process, so tracefs must be there before the first attach).
const (
	// tracefsDir is where the kernel expects tracefs, and where the
	// backend mounts it when no tracefs is mounted.
	tracefsDir = "/sys/kernel/tracing"
	// debugfsTracing is tracefs's place under a mounted debugfs (older
	// systems); the kernel mounts tracefs there on first access.
	debugfsTracing = "/sys/kernel/debug/tracing"
	// syscallEventID is the file the first syscall tracepoint is found by.
	syscallEventID = "events/syscalls/sys_enter_execve/id"
)

// execFailuresOff is how a user silences a warning about failed execs.
const execFailuresOff = "or turn exec failures off (--exec-failures=false, capture.exec_failures: false)"

// tracefsHost is where the backend looks for tracefs and how it mounts it;
// tests point it elsewhere.
type tracefsHost struct {
	mountinfo string             // /proc/self/mountinfo
	dir       string             // where to mount tracefs when none is mounted
	debugfs   string             // tracefs under debugfs, probed before mounting
	mount     func(string) error // mounts tracefs at the directory
}

var hostTracefs = tracefsHost{
	mountinfo: "/proc/self/mountinfo",
	dir:       tracefsDir,
	debugfs:   debugfsTracing,
	mount: func(dir string) error {
		return unix.Mount("tracefs", dir, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	},
}

// prepare makes the syscall tracepoints reachable: when no tracefs is
// mounted it mounts one at h.dir. It reports whether they can be
// attached, and a one-line warning for the operator when it mounted
// tracefs or when they cannot (saying why and how to fix it); the
// warning is empty when there is nothing to say.
func (h tracefsHost) prepare() (ok bool, warning string) {
	dir, found := h.find()
	mounted := false
	if !found {
		if err := h.mount(h.dir); err != nil {
			return false, h.mountFailed(err)
		}
		dir, mounted = h.dir, true
	}
	id := filepath.Join(dir, syscallEventID)
	f, err := os.Open(id)
	if err != nil {
		prefix := ""
		if mounted {
			prefix = "mounted tracefs at " + dir + ", but "
		}
		return false, prefix + unreadable(id, err)
	}
	f.Close()
	if mounted {
		return true, "mounted tracefs at " + dir + " (it was not mounted): the syscall tracepoints that report failed execs are found through it"
	}
	return true, ""
}

// find returns the mount point of a tracefs (or of debugfs's tracing
// directory, which the kernel mounts on access).
func (h tracefsHost) find() (string, bool) {
	if dir, ok := tracefsIn(h.mountinfo); ok {
		return dir, true
	}
	for _, dir := range []string{h.dir, h.debugfs} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && (st.Type == unix.TRACEFS_MAGIC || st.Type == unix.DEBUGFS_MAGIC) {
			return dir, true
		}
	}
	return "", false
}

// tracefsIn returns the mount point of the first tracefs mounted at its
// root in the mountinfo file.
func tracefsIn(mountinfo string) (string, bool) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) >= 5 && len(g) >= 1 && g[0] == "tracefs" && f[3] == "/" {
			return unescapeMountinfo(f[4]), true
		}
	}
	return "", false
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := 0
			okDigits := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					okDigits = false
					break
				}
				v = v*8 + int(c-'0')
			}
			if okDigits {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountFailed says why tracefs could not be mounted and how to fix it.
func (h tracefsHost) mountFailed(err error) string {
	s := fmt.Sprintf("failed execs are not reported: tracefs is not mounted and mounting it at %s failed (%v): ", h.dir, err)
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		s += "mounting needs CAP_SYS_ADMIN; as root run mount -t tracefs tracefs " + h.dir + " (or add it to /etc/fstab), "
	case errors.Is(err, unix.ENODEV):
		s += "this kernel has no tracefs (CONFIG_TRACING); "
	case errors.Is(err, unix.ENOENT):
		s += h.dir + " does not exist (is sysfs mounted at /sys?); mount sysfs and tracefs, "
	default:
		s += "as root run mount -t tracefs tracefs " + h.dir + ", "
	}
	return s + execFailuresOff
}

// unreadable says why the tracepoint file id could not be opened and how
// to fix it.
func unreadable(id string, err error) string {
	s := "failed execs are not reported: " + err.Error() + ": "
	switch {
	case errors.Is(err, os.ErrPermission):
		s += "tracefs is readable by root only; grant CAP_DAC_READ_SEARCH (setcap " + grantCaps + "+ep), "
	case errors.Is(err, os.ErrNotExist):
		s += "this kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS); "
	}
	return s + execFailuresOff
}
