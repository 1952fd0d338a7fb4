//go:build !freebsd

package freebsd

import (
	"time"

	"github.com/procotel/procotel/semconv"
)

// defaultHost off FreeBSD: libdtrace only through the fake (dtracefake
// tests), no process table and no jails.
func defaultHost() host {
	return host{
		open: openShim,
		boot: func() (semconv.BootID, semconv.Clock, error) {
			return "not-freebsd", semconv.Clock{BootWall: time.Unix(0, 0)}, nil
		},
	}
}
