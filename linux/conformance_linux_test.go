package linux

import (
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/backendtest"
)

// TestConformance runs the backend conformance suite against the real
// kernel: every scenario's ground truth (pids, codes, signals, argv, exec
// failures) must come back in the events. Without root it skips, saying
// why; with root, a failure to attach fails.
func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, opts backends.Options) backends.Backend {
		b, err := New("", opts)
		if err != nil {
			t.Fatalf("new ebpf backend: %v", err)
		}
		return b
	})
}
