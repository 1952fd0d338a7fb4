//go:build freebsd && cgo

package freebsd

import (
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/backendtest"
)

// TestConformanceDTrace runs the backend conformance suite against the
// dtrace backend and the real libdtrace. Without root or the dtraceall
// module the scenarios skip, saying why; with them, a failure to attach
// fails.
func TestConformanceDTrace(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, opts backends.Options) backends.Backend {
		b, err := NewDTrace(opts)
		if err != nil {
			t.Fatalf("new dtrace backend: %v", err)
		}
		return b
	})
}
