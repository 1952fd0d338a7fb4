package collector

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/linux"
)

// platformBackends are the backends the receiver chooses from on Linux:
// eBPF ("auto" picks it) and replay:FILE.
func platformBackends() []backends.Factory {
	return []backends.Factory{linux.Factory, replay.Factory}
}

func errUnsupported() error { return nil }
