//go:build !linux && !freebsd

package collector

// osRelease is unknown where procotel does not run.
func osRelease() string { return "" }
