//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
)

// The least privilege the backend runs with, and why each is needed:
//
//   - CAP_BPF: create the maps and load the programs (bpf(2));
//   - CAP_PERFMON: load tracing programs (they read kernel memory) and
//     attach them to tracepoints (perf_event_open);
//   - CAP_DAC_READ_SEARCH: read the root-only tracefs files that name the
//     syscall tracepoints behind failed execs; without it failed execs are
//     not reported;
//   - CAP_SYS_PTRACE: read /proc/PID/exe, cwd and environ of other users'
//     processes, for the processes alive at start and for TRACEPARENT;
//     without it those fields stay empty.
//
// CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON, as in the kernel, and
// lets the backend mount tracefs when it is not mounted. RLIMIT_MEMLOCK
// (CAP_SYS_RESOURCE) matters only before Linux 5.11, which charged BPF
// memory to it instead of the memory cgroup.
const grantCaps = "cap_bpf,cap_perfmon,cap_dac_read_search,cap_sys_ptrace"

// capability is one Linux capability the backend may use.
type capability struct {
	bit  uint
	name string
}

var (
	capBPF         = capability{unix.CAP_BPF, "CAP_BPF"}
	capPerfmon     = capability{unix.CAP_PERFMON, "CAP_PERFMON"}
	capSysPtrace   = capability{unix.CAP_SYS_PTRACE, "CAP_SYS_PTRACE"}
	capSysResource = capability{unix.CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE"}
)

// capSet is an effective capability set.
type capSet [2]uint32

// effectiveCaps returns the calling thread's effective capabilities.
func effectiveCaps() (capSet, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return capSet{}, fmt.Errorf("read capabilities: %w", err)
	}
	return capSet{data[0].Effective, data[1].Effective}, nil
}

func (s capSet) raw(c uint) bool { return c < 64 && s[c/32]&(1<<(c%32)) != 0 }

// has reports whether s holds c or a capability the kernel accepts in its
// place.
func (s capSet) has(c capability) bool {
	switch c.bit {
	case unix.CAP_BPF, unix.CAP_PERFMON:
		return s.raw(c.bit) || s.raw(unix.CAP_SYS_ADMIN)
	case unix.CAP_DAC_READ_SEARCH:
		return s.raw(c.bit) || s.raw(unix.CAP_DAC_OVERRIDE)
	}
	return s.raw(c.bit)
}

// lacking returns the names of the capabilities of need that s lacks.
func (s capSet) lacking(need ...capability) []string {
	var names []string
	for _, c := range need {
		if !s.has(c) {
			names = append(names, c.name)
		}
	}
	return names
}

// grantHint says how to give procotel the capabilities it uses.
func grantHint() string {
	exe, err := os.Executable()
	if err != nil {
		exe = "procotel"
	}
	return "run as root, or grant the capabilities: setcap " + grantCaps + "+ep " + exe +
		" (systemd: AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH CAP_SYS_PTRACE)"
}

// checkPrivileges reports a MissingFeatureError naming the capabilities s
// lacks to load and attach tracing programs: CAP_BPF and CAP_PERFMON (or
// CAP_SYS_ADMIN).
func checkPrivileges(s capSet) error {
	if miss := s.lacking(capBPF, capPerfmon); len(miss) > 0 {
		return missing(strings.Join(miss, " and ")+" (to load and attach its tracing programs)", grantHint())
	}
	return nil
}

// refused explains that the kernel denied op for want of privilege. It
// names the capabilities of need the process lacks; when it holds them
// all, it says what else denies such operations. The kernel is never
// blamed: it has the feature, it refused to let procotel use it.
func refused(op string, err error, need ...capability) error {
	s, capErr := effectiveCaps()
	if capErr != nil {
		return fmt.Errorf("start ebpf backend: %s: %w (%v)", op, err, capErr)
	}
	if miss := s.lacking(need...); len(miss) > 0 {
		return fmt.Errorf("start ebpf backend: %s: %w: %w", op, err,
			missing(strings.Join(miss, " and ")+" (to "+op+")", grantHint()))
	}
	var held []string
	for _, c := range need {
		held = append(held, c.name)
	}
	return fmt.Errorf("start ebpf backend: %s: %w: %w", op, err,
		missing("permission to "+op, "procotel holds "+strings.Join(held, " and ")+
			", so something else denied it: a security module (SELinux, AppArmor), kernel lockdown, a seccomp filter, or a container runtime's restrictions"))
}

// errnoENOTSUPP is the kernel's internal ENOTSUPP, which bpf(2) returns
// for some features a kernel lacks.
const errnoENOTSUPP = unix.Errno(524)

// attachError explains why a program could not be attached to the
// tracepoint or function name: a permission problem names the missing
// capability, a kernel without the attach point names the kernel
// feature, anything else is reported as it is.
func attachError(name string, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return refused("attach "+name, err, capBPF, capPerfmon)
	case errors.Is(err, ebpf.ErrNotSupported), errors.Is(err, unix.ENOENT), errors.Is(err, unix.EINVAL),
		errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, errnoENOTSUPP):
		return fmt.Errorf("start ebpf backend: attach %s: %w: %w", name, err,
			missing("tracing attach ("+name+")", "a kernel with BTF, tp_btf and tracepoints (Linux 6.2+)"))
	}
	return fmt.Errorf("start ebpf backend: attach %s: %w", name, err)
}

// loadError explains why the programs did not load: denied for want of
// privilege, a kernel without a needed feature, or the verifier's refusal
// as it gave it.
func loadError(err error) error {
	var ve *ebpf.VerifierError
	switch {
	case errors.As(err, &ve):
	case errors.Is(err, os.ErrPermission):
		return refused("load its programs", err, capBPF, capPerfmon)
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("start ebpf backend: load programs: %w: %w", err,
			missing("BPF features of Linux 6.2+ (tp_btf, task storage, bpf_loop, ring buffers)", "upgrade the kernel"))
	}
	return fmt.Errorf("start ebpf backend: load programs: %w", err)
}

// privilegeWarnings returns a line for each optional capability s lacks
// and what goes unseen without it.
func privilegeWarnings(s capSet, opts backends.Options) []string {
	if s.has(capSysPtrace) {
		return nil
	}
	what := "the executable path and cwd of other users' processes alive at start are not read"
	if opts.TraceParent {
		what += ", nor TRACEPARENT from their execs"
	}
	return []string{what + ": /proc/PID/exe, cwd and environ of another user need CAP_SYS_PTRACE; " + grantHint()}
}
