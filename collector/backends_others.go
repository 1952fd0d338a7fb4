//go:build !linux && !freebsd

package collector

import (
	"errors"

	"github.com/procotel/procotel/backends"
)

// platformBackends is empty: procotel has no backend for this system.
func platformBackends() []backends.Factory { return nil }

// errUnsupported makes creating a receiver fail on this system.
func errUnsupported() error {
	return errors.New("procotel receiver is only supported on linux and freebsd")
}
