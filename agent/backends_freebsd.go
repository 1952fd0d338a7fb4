//go:build freebsd

package agent

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/freebsd"
)

// Factories are the backends procotel chooses from on FreeBSD: DTrace and
// kqueue in their auto order, and replay:FILE.
func Factories() []backends.Factory {
	return append(freebsd.Factories(), replay.Factory)
}

// resolveJails turns jail ids, names and "host" into ids.
func resolveJails(specs []string) ([]int32, error) {
	return freebsd.ResolveJails(specs, freebsd.JailID)
}
