//go:build !linux && !freebsd

package agent

// osRelease is unknown where procotel does not run.
func osRelease() string { return "" }
