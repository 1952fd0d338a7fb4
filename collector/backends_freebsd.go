package collector

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/freebsd"
)

// platformBackends are the backends the receiver chooses from on FreeBSD:
// the DTrace and kqueue backends in their auto order, and replay:FILE.
func platformBackends() []backends.Factory {
	return append(freebsd.Factories(), replay.Factory)
}

func errUnsupported() error { return nil }
