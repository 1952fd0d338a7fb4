//go:build !((freebsd && cgo) || (linux && cgo && dtracefake))

package freebsd

import "github.com/procotel/procotel/freebsd/shim"

func openShim(shim.Sink) (consumer, error) { return nil, ErrNoCgo }
