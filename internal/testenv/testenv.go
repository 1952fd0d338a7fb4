// Package testenv is the project's test support: the one decision whether
// a test that needs the kernel may skip (RequireKernel), the leak check
// packages that load BPF or start servers run around their tests (Main),
// and nothing else. Only tests import it.
//
// The rule, after cilium/ebpf's testutils: a test skips only when this
// machine truly cannot run it (not privileged, or the kernel lacks a
// feature procotel needs), says so loudly, and fails when the machine can
// run it and something refuses. Under CI (CI=true), or with
// PROCOTEL_REQUIRE_KERNEL=1, a skip for want of privilege fails instead:
// CI runs as root, so such a skip there would hide a broken set-up.
package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// strict says a missing privilege must fail, not skip.
func strict() bool {
	return os.Getenv("CI") == "true" || os.Getenv("PROCOTEL_REQUIRE_KERNEL") == "1"
}

// RequireKernel skips t, loudly, unless this process may load and attach
// procotel's eBPF programs (root, or CAP_BPF with CAP_PERFMON) on a kernel
// with BTF; what runs after it must then work, and a refusal is a
// failure. what names the test's need in the skip message.
func RequireKernel(t testing.TB, what string) {
	t.Helper()
	if reason := kernelUnavailable(); reason != "" {
		if strict() && !strings.HasPrefix(reason, "kernel:") {
			t.Fatalf("%s: %s (CI=true or PROCOTEL_REQUIRE_KERNEL=1: a missing privilege fails)", what, reason)
		}
		t.Skipf("SKIP LOUDLY: %s: %s", what, reason)
	}
}

// RequireRoot skips t, loudly, unless it runs as root (tests that start
// processes as other users, mount file systems or run system tools).
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if strict() {
		t.Fatalf("%s: needs root (CI=true or PROCOTEL_REQUIRE_KERNEL=1: a missing privilege fails)", what)
	}
	t.Skipf("SKIP LOUDLY: %s: needs root; run: sudo go test", what)
}

// kernelUnavailable returns why procotel's kernel backend cannot be loaded
// here, "" when it can. Reasons about the kernel start with "kernel:".
func kernelUnavailable() string {
	if !privileged() {
		return "needs root (or CAP_BPF and CAP_PERFMON) to load eBPF programs; run: sudo go test"
	}
	return kernelLacks()
}

// Main runs m's tests and then checks that they left no goroutine and no
// file descriptor behind (an unclosed ring buffer, a BPF link, a server's
// listener); either fails the run. Use it as a package's TestMain; opts
// name goroutines a dependency keeps on purpose (goleak.IgnoreTopFunction).
func Main(m *testing.M, opts ...goleak.Option) {
	before := openFDs()
	code := m.Run()
	if code == 0 {
		if err := leaks(before, opts...); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func openFDs() map[string]string {
	fds := map[string]string{}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil // no /proc: the fd check is off
	}
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fds[e.Name()] = target
	}
	return fds
}
