//go:build !linux

package testenv

import "os"

// privileged: the DTrace backend needs root.
func privileged() bool { return os.Geteuid() == 0 }

func kernelLacks() string {
	if _, err := os.Stat("/dev/dtrace/dtrace"); err != nil {
		return "kernel: no /dev/dtrace/dtrace; load the DTrace modules (kldload dtraceall)"
	}
	return ""
}
