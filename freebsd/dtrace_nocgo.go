//go:build !((freebsd && cgo) || (linux && cgo && dtracefake))

package freebsd

func openShim(consumerSink) (consumer, error) { return nil, ErrNoCgo }
