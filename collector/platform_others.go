//go:build !linux && !freebsd

package collector

import "errors"

// errUnsupported makes creating a receiver fail on this system.
func errUnsupported() error {
	return errors.New("procotel receiver is only supported on linux and freebsd")
}
