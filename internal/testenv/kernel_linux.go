//go:build linux

package testenv

import (
	"os"

	"golang.org/x/sys/unix"
)

// capability numbers (linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// kernelLacks says which feature the eBPF backend needs is missing.
func kernelLacks() string {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return "kernel: no BTF (/sys/kernel/btf/vmlinux); procotel needs CONFIG_DEBUG_INFO_BTF"
	}
	return ""
}

func privileged() bool {
	if os.Geteuid() == 0 {
		return true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	return has(capSysAdmin) || has(capBPF) && has(capPerfmon)
}
