//go:build linux

package linux

import (
	"testing"
	"unsafe"
)

// TestRecordLayout checks the decoder's offsets against bpf2go's rendering
// of struct record in bpf/record.h.
func TestRecordLayout(t *testing.T) {
	var r procotelRecord
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(r), recordSize},
		{"kind", unsafe.Offsetof(r.Kind), offKind},
		{"flags", unsafe.Offsetof(r.Flags), offFlags},
		{"size field", unsafe.Offsetof(r.Size), offSize},
		{"boot_ns", unsafe.Offsetof(r.BootNs), offBootNS},
		{"cpu", unsafe.Offsetof(r.Cpu), offCPU},
		{"pid", unsafe.Offsetof(r.Pid), offPID},
		{"tid", unsafe.Offsetof(r.Tid), offTID},
		{"ppid", unsafe.Offsetof(r.Ppid), offPPID},
		{"nspid", unsafe.Offsetof(r.Nspid), offNSPID},
		{"uid", unsafe.Offsetof(r.Uid), offUID},
		{"euid", unsafe.Offsetof(r.Euid), offEUID},
		{"gid", unsafe.Offsetof(r.Gid), offGID},
		{"egid", unsafe.Offsetof(r.Egid), offEGID},
		{"pgid", unsafe.Offsetof(r.Pgid), offPGID},
		{"sid", unsafe.Offsetof(r.Sid), offSID},
		{"start", unsafe.Offsetof(r.Start), offStart},
		{"parent_start", unsafe.Offsetof(r.ParentStart), offParentStart},
		{"cgroup_id", unsafe.Offsetof(r.CgroupId), offCgroupID},
		{"comm", unsafe.Offsetof(r.Comm), offComm},
		{"tty", unsafe.Offsetof(r.Tty), offTTY},
		{"u", unsafe.Offsetof(r.U), offUnion},
		{"fork.parent_tid", unsafe.Offsetof(r.U) + unsafe.Offsetof(r.U.Fork.ParentTid), offForkParentTID},
		{"fork.clone_flags", unsafe.Offsetof(r.U) + unsafe.Offsetof(r.U.Fork.CloneFlags), offForkCloneFlags},
		{"comm len", unsafe.Sizeof(r.Comm), commLen},
		{"throttle_state size", unsafe.Sizeof(procotelThrottleState{}), 64},
		{"tty len", unsafe.Sizeof(r.Tty), ttyLen},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: C has %d, decoder uses %d", c.name, c.got, c.want)
		}
	}
}
