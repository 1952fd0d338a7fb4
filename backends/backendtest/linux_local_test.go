//go:build linux && conformance_local

package backendtest

import (
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/linux"
)

// TestLinuxConformance runs the suite against the eBPF backend. It is a
// local check while the suite is developed (go test -tags
// conformance_local, as root); the linux package runs the suite itself.
func TestLinuxConformance(t *testing.T) {
	Run(t, func(t *testing.T, opts backends.Options) backends.Backend {
		b, err := linux.New("", opts)
		if err != nil {
			t.Fatalf("new ebpf backend: %v", err)
		}
		return b
	})
}
