//go:build linux

package collector

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/collector/internal/metadata"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/linux"
)

func requireRoot(t *testing.T) {
	t.Helper()
	testenv.RequireKernel(t, "this test loads the eBPF backend")
}

// bpfProgramFDs counts the eBPF program file descriptors this process
// holds (those whose fdinfo names a prog_type).
func bpfProgramFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		b, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", fd.Name()))
		if err == nil && strings.Contains(string(b), "\nprog_type:") {
			n++
		}
	}
	return n
}

// TestSharedBackendAttachesOnce starts the logs and the traces receiver of
// one configuration on the real eBPF backend and checks that the kernel
// programs were loaded once: the receiver holds as many program fds as
// one standalone backend, and the backend was started once. It then runs
// a process and checks both signals see it, and that shutdown releases
// every program.
func TestSharedBackendAttachesOnce(t *testing.T) {
	requireRoot(t)
	base := bpfProgramFDs(t)

	solo, err := linux.New("", backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := solo.Start(context.Background()); err != nil {
		t.Fatalf("the eBPF backend does not start on this root machine: %v", err)
	}
	perBackend := bpfProgramFDs(t) - base
	_ = solo.Close()
	if perBackend <= 0 {
		t.Fatalf("a started eBPF backend holds %d program fds", perBackend)
	}
	if n := bpfProgramFDs(t); n != base {
		t.Fatalf("closing the standalone backend left %d program fds", n-base)
	}

	var counts countingFactory
	f := newFactory([]backends.Factory{counts.wrap(linux.Factory)})
	cfg := createDefaultConfig()
	cfg.Backend = "ebpf"
	cfg.Delivery.FlushInterval = 50 * time.Millisecond
	logs, traces := new(consumertest.LogsSink), new(consumertest.TracesSink)
	lr, tr := startBoth(t, f, receivertest.NewNopSettings(metadata.Type), cfg, logs, traces)
	defer lr.Shutdown(context.Background())
	defer tr.Shutdown(context.Background())

	if got := bpfProgramFDs(t) - base; got != perBackend {
		t.Errorf("two pipelines of one receiver hold %d program fds, one backend holds %d", got, perBackend)
	}
	if n := counts.started.Load(); n != 1 {
		t.Errorf("backend started %d times, want once", n)
	}
	t.Logf("one backend: %d eBPF programs; receiver with logs and traces pipelines: %d", perBackend, bpfProgramFDs(t)-base)

	cmd := exec.Command("/bin/sh", "-c", "exit 3")
	_ = cmd.Run()
	pid := int64(cmd.ProcessState.Pid())
	waitFor(t, func() bool { return hasSpanOf(traces, pid) && hasLogOf(logs, pid, "process.exit") },
		func() string { return "no span and exit record of the child" })

	ctx := context.Background()
	if err := lr.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if n := bpfProgramFDs(t); n != base {
		t.Errorf("shutdown left %d program fds", n-base)
	}
}

func hasSpanOf(traces *consumertest.TracesSink, pid int64) bool {
	for _, td := range traces.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			for j := 0; j < td.ResourceSpans().At(i).ScopeSpans().Len(); j++ {
				ss := td.ResourceSpans().At(i).ScopeSpans().At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					if v, ok := ss.At(k).Attributes().Get("process.pid"); ok && v.Int() == pid {
						return true
					}
				}
			}
		}
	}
	return false
}

func hasLogOf(logs *consumertest.LogsSink, pid int64, event string) bool {
	for _, ld := range logs.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			for j := 0; j < ld.ResourceLogs().At(i).ScopeLogs().Len(); j++ {
				lrs := ld.ResourceLogs().At(i).ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					r := lrs.At(k)
					if v, ok := r.Attributes().Get("process.pid"); ok && v.Int() == pid && r.EventName() == event {
						return true
					}
				}
			}
		}
	}
	return false
}
