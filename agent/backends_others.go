//go:build !linux && !freebsd

package agent

import (
	"errors"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
)

// Factories has only replay:FILE here: procotel watches processes on Linux
// and FreeBSD only.
func Factories() []backends.Factory { return []backends.Factory{replay.Factory} }

func resolveJails([]string) ([]int32, error) { return nil, errors.New("jails exist only on FreeBSD") }
