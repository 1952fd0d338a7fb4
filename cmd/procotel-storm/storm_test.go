//go:build linux

package main

import (
	"runtime"
	"testing"
	"time"

	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/linux"
)

// BenchmarkStorm runs one-second storms with procotel attached in-process
// (text output to /dev/null) and reports the storm's rate, procotel's CPU
// per event of the storm, what it lost, and how many of the events the
// storm caused (its ground truth) it neither saw nor counted lost. It
// needs root.
//
//	go test -run '^$' -bench Storm ./cmd/procotel-storm
func BenchmarkStorm(b *testing.B) {
	testenv.RequireKernel(b, "storm benchmark")
	storm := buildStorm(b.TempDir())
	for _, mode := range []string{"fork", "exec", "build"} {
		b.Run(mode, func(b *testing.B) {
			var cycles, events int64
			var elapsed float64
			var cpu time.Duration
			var lost uint64
			var missing int64 // expected events neither seen nor counted lost
			for b.Loop() {
				m := &procotel{}
				if err := m.start(); err != nil {
					b.Fatal(err)
				}
				t := runStorm(storm, mode, runtime.NumCPU(), 1, 0)
				tell(m, t.expected())
				o, err := m.stop()
				if err != nil {
					b.Fatal(err)
				}
				cycles += t.Cycles
				elapsed += t.Elapsed
				for _, k := range countedKinds {
					events += t.expected()[k]
					if d := t.expected()[k] - o.seen[k]; d > 0 {
						missing += d
					}
				}
				cpu += o.cpu
				lost += o.lost
			}
			b.ReportMetric(float64(cycles)/elapsed, "cycles/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(events), "µs/event")
			b.ReportMetric(float64(lost), "lost")
			b.ReportMetric(float64(missing), "missing")
		})
	}
}

// Every program procotel loads counts in "all hooks", whether the kernel
// reports its name cut to 15 bytes or cilium/ebpf gives it whole from
// BTF (on_signal_generate, 18 bytes, runs at every SIGCHLD of a storm).
func TestIsOurs(t *testing.T) {
	names := linux.ProgramNames()
	if len(names) == 0 {
		t.Fatal("no program names")
	}
	long := 0
	for _, n := range names {
		if !isOurs(n) {
			t.Errorf("isOurs(%q) = false", n)
		}
		if len(n) > 15 {
			long++
			if !isOurs(n[:15]) {
				t.Errorf("isOurs(%q), the kernel's cut of %q, = false", n[:15], n)
			}
		}
	}
	if long == 0 {
		t.Error("no program name longer than 15 bytes: the cut is not exercised")
	}
	if isOurs("sd_devices") {
		t.Error("isOurs accepts another tool's program")
	}
}
