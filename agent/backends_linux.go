//go:build linux

package agent

import (
	"errors"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/linux"
)

// Factories are the backends procotel chooses from on Linux: eBPF ("auto"
// picks it) and replay:FILE.
func Factories() []backends.Factory {
	return []backends.Factory{linux.Factory, replay.Factory}
}

func resolveJails([]string) ([]int32, error) {
	return nil, errors.New("jails exist only on FreeBSD; on Linux filter containers with --filter container=…")
}
