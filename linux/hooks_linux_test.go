//go:build linux

package linux

import (
	"os/exec"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
)

// BenchmarkHooks runs fork+exec+exit of /bin/true and a failed exec per
// iteration and reports the kernel's average run time of each BPF program
// (kernel.bpf_stats_enabled) as "<program>-ns/run".
func BenchmarkHooks(b *testing.B) { benchHooks(b, backends.Options{}) }

// BenchmarkHooksEnv is BenchmarkHooks with the default environment
// allowlist: on_exec then copies the new image's environment.
func BenchmarkHooksEnv(b *testing.B) {
	benchHooks(b, backends.Options{Env: []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"}})
}

func benchHooks(b *testing.B, opts backends.Options) {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Skipf("SKIPPING: enable BPF run-time statistics: %v", err)
	}
	defer stats.Close()
	// The default capture: the default environment allowlist is on.
	be, _ := startBackend(b, opts)
	b.ResetTimer()
	for b.Loop() {
		_ = exec.Command("/bin/true", "a", "b").Run()
		_ = exec.Command("/bin/sh", "-c", "exec /nonexistent 2>/dev/null").Run()
	}
	b.StopTimer()
	be.mu.Lock()
	progs := be.coll.Programs
	be.mu.Unlock()
	for name, p := range progs {
		s, err := p.Stats()
		if err != nil || s.RunCount == 0 {
			continue
		}
		b.ReportMetric(float64(s.Runtime.Nanoseconds())/float64(s.RunCount), name+"-ns/run")
	}
	if lost := be.Stats().TotalLost(); lost != 0 {
		b.Errorf("lost %d events", lost)
	}
}
