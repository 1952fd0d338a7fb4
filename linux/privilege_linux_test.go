//go:build linux

package linux

import (
	"strings"
	"testing"

	"github.com/procotel/procotel/semconv"
)

// setprivAs returns a setpriv command line running as nobody with only
// caps (setpriv's names: +bpf,+perfmon).
func setprivAs(caps string) []string {
	w := []string{"setpriv", "--reuid=" + nobody, "--regid=" + nobody, "--clear-groups"}
	if caps != "" {
		w = append(w, "--inh-caps="+caps, "--ambient-caps="+caps)
	}
	return w
}

// TestStartLeastPrivilege starts the backend as an unprivileged user with
// a growing set of capabilities. A refusal names the missing capability
// and never blames the kernel; with CAP_BPF and CAP_PERFMON it starts
// without failed execs and says what to grant; with the full set it sees
// everything and warns of nothing.
func TestStartLeastPrivilege(t *testing.T) {
	needRootAnd(t, "setpriv")
	noKernelBlame := func(t *testing.T, s string) {
		t.Helper()
		for _, w := range []string{"kernel with", "Linux 6", "upgrade"} {
			if strings.Contains(s, w) {
				t.Errorf("a permission problem blames the kernel (%q): %s", w, s)
			}
		}
	}
	t.Run("no capabilities", func(t *testing.T) {
		rep := startChild(t, setprivAs("")...)
		if !rep.Missing || !strings.Contains(rep.StartErr, "CAP_BPF and CAP_PERFMON") || !strings.Contains(rep.StartErr, "setcap "+grantCaps+"+ep") {
			t.Errorf("start error %q: want a MissingFeatureError naming CAP_BPF and CAP_PERFMON and the setcap line", rep.StartErr)
		}
		noKernelBlame(t, rep.StartErr)
	})
	t.Run("CAP_BPF only", func(t *testing.T) {
		rep := startChild(t, setprivAs("+bpf")...)
		if !rep.Missing || !strings.Contains(rep.StartErr, "CAP_PERFMON (") || strings.Contains(rep.StartErr, "CAP_BPF and") {
			t.Errorf("start error %q: want a MissingFeatureError naming CAP_PERFMON alone", rep.StartErr)
		}
		noKernelBlame(t, rep.StartErr)
	})
	t.Run("CAP_BPF and CAP_PERFMON", func(t *testing.T) {
		rep := startChild(t, setprivAs("+bpf,+perfmon")...)
		if rep.StartErr != "" {
			noKernelBlame(t, rep.StartErr)
			t.Fatalf("did not start: %s", rep.StartErr)
		}
		if _, ok := warningWith(rep, "failed execs are not reported", "permission denied", "CAP_DAC_READ_SEARCH"); !ok {
			t.Errorf("no warning that failed execs are off for want of CAP_DAC_READ_SEARCH: %q", rep.Warnings)
		}
		if _, ok := warningWith(rep, "CAP_SYS_PTRACE"); !ok {
			t.Errorf("no warning about CAP_SYS_PTRACE: %q", rep.Warnings)
		}
		if hasKind(rep, semconv.KindExecFailed) || rep.ExecFailed {
			t.Errorf("exec_failed listed (%v) or reported (%v) without the syscall tracepoints", rep.Kinds, rep.ExecFailed)
		}
		if !rep.Exit {
			t.Error("the workload's exit was not reported")
		}
	})
	t.Run("least privilege", func(t *testing.T) {
		rep := startChild(t, setprivAs("+bpf,+perfmon,+dac_read_search,+sys_ptrace")...)
		if rep.StartErr != "" {
			t.Fatalf("did not start: %s", rep.StartErr)
		}
		if len(rep.Warnings) != 0 {
			t.Errorf("warnings with every capability the backend uses: %q", rep.Warnings)
		}
		if !hasKind(rep, semconv.KindExecFailed) || !rep.ExecFailed || !rep.Exit {
			t.Errorf("kinds %v, exec_failed reported %v, exit reported %v: want all", rep.Kinds, rep.ExecFailed, rep.Exit)
		}
	})
}

// noTracefs returns a command line that runs the rest in a private mount
// namespace without tracefs (and without debugfs, through which the
// kernel would mount it).
func noTracefs(rest ...string) []string {
	script := "umount -R /sys/kernel/debug 2>/dev/null; umount " + tracefsDir + " 2>/dev/null; " +
		"if grep -q ' - tracefs ' /proc/self/mountinfo; then echo tracefs still mounted >&2; exit 1; fi; exec \"$@\""
	return append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"}, rest...)
}

// TestStartWithoutTracefs: as root the backend mounts a missing tracefs
// and says so; when it may not mount it, it starts without failed execs
// and says how to fix that.
func TestStartWithoutTracefs(t *testing.T) {
	needRootAnd(t, "unshare", "setpriv")
	t.Run("root mounts it", func(t *testing.T) {
		rep := startChild(t, noTracefs()...)
		if rep.StartErr != "" {
			t.Fatalf("did not start: %s", rep.StartErr)
		}
		if _, ok := warningWith(rep, "mounted tracefs at "+tracefsDir); !ok {
			t.Errorf("no line saying tracefs was mounted: %q", rep.Warnings)
		}
		if len(rep.Warnings) != 1 {
			t.Errorf("want exactly one line, got %q", rep.Warnings)
		}
		if !hasKind(rep, semconv.KindExecFailed) || !rep.ExecFailed || !rep.Exit {
			t.Errorf("kinds %v, exec_failed reported %v, exit reported %v: want all", rep.Kinds, rep.ExecFailed, rep.Exit)
		}
	})
	t.Run("cannot mount", func(t *testing.T) {
		// Root without CAP_SYS_ADMIN may load BPF (CAP_BPF, CAP_PERFMON)
		// but not mount.
		rep := startChild(t, noTracefs("setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin")...)
		if rep.StartErr != "" {
			t.Fatalf("did not start: %s", rep.StartErr)
		}
		if _, ok := warningWith(rep, "failed execs are not reported", "CAP_SYS_ADMIN", "mount -t tracefs tracefs "+tracefsDir); !ok {
			t.Errorf("no line saying failed execs are off and how to mount tracefs: %q", rep.Warnings)
		}
		if hasKind(rep, semconv.KindExecFailed) || rep.ExecFailed {
			t.Errorf("exec_failed listed (%v) or reported (%v) without tracefs", rep.Kinds, rep.ExecFailed)
		}
		if !rep.Exit {
			t.Error("the workload's exit was not reported")
		}
	})
}
