//go:build (freebsd && cgo) || (linux && cgo && dtracefake)

package freebsd

import "github.com/procotel/procotel/freebsd/shim"

func openShim(s shim.Sink) (consumer, error) {
	c, err := shim.Open(s)
	if err != nil {
		return nil, err
	}
	return c, nil
}
