//go:build linux || freebsd

package collector

// errUnsupported is nil here: the receiver watches processes on Linux and
// FreeBSD.
func errUnsupported() error { return nil }
