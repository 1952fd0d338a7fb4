package freebsd

import (
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/backendtest"
)

// TestConformanceKqueue runs the backend conformance suite against the
// kqueue backend on the running kernel: every scenario's ground truth
// (pids, exit codes, argv) must come back in its events, within what its
// Capabilities claim.
func TestConformanceKqueue(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, opts backends.Options) backends.Backend {
		return NewKqueue(opts)
	})
}
