package freebsd

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/procotel/procotel/semconv"
)

// struct kinfo_proc on FreeBSD 14 amd64 (sys/user.h), only the fields
// procotel reads. The offsets were taken from the FreeBSD 14 headers with
// offsetof and are checked again at build time by the shim's dtabi.h
// companion, kinfo_check.c.
const (
	kinfoProcSize = 1088 // KINFO_PROC_SIZE

	kiStructSize = 0
	kiPID        = 72
	kiPPID       = 76
	kiPGID       = 80
	kiSID        = 88
	kiUID        = 168 // effective
	kiRUID       = 172
	kiRGID       = 180
	kiGroups     = 192 // ki_groups[0] is the effective gid
	kiStart      = 336 // struct timeval: wall clock of creation
	kiComm       = 447 // char[COMMLEN+1]
	kiCommLen    = 20
	kiJID        = 592
	kiTID        = 600
)

// ParseKinfoProcs decodes the output of sysctl kern.proc.all or
// kern.proc.pid.N: back-to-back struct kinfo_proc records. boot is
// kern.boottime, used to turn ki_start (wall clock) into time since boot.
// Records of a size other than FreeBSD 14's are refused, never guessed at.
func ParseKinfoProcs(b []byte, boot time.Time) ([]semconv.Process, error) {
	var out []semconv.Process
	for len(b) > 0 {
		if len(b) < 4 {
			return out, fmt.Errorf("parse kinfo_proc: %d trailing bytes", len(b))
		}
		size := int(int32(binary.LittleEndian.Uint32(b[kiStructSize:])))
		if size != kinfoProcSize {
			return out, fmt.Errorf("parse kinfo_proc: ki_structsize %d, want %d (FreeBSD 14 amd64 layout)", size, kinfoProcSize)
		}
		if len(b) < size {
			return out, fmt.Errorf("parse kinfo_proc: record of %d bytes cut at %d", size, len(b))
		}
		out = append(out, parseKinfoProc(b[:size], boot))
		b = b[size:]
	}
	return out, nil
}

func parseKinfoProc(r []byte, boot time.Time) semconv.Process {
	i32 := func(off int) int32 { return int32(binary.LittleEndian.Uint32(r[off:])) }
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(r[off:]) }
	sec := int64(binary.LittleEndian.Uint64(r[kiStart:]))
	usec := int64(binary.LittleEndian.Uint64(r[kiStart+8:]))
	started := time.Unix(sec, usec*1000)
	var start uint64
	if d := started.Sub(boot); d > 0 {
		start = uint64(d)
	}
	comm, _ := cString(r[kiComm : kiComm+kiCommLen])
	return semconv.Process{
		PID:  i32(kiPID),
		TID:  i32(kiTID),
		PPID: i32(kiPPID),
		// ki_start is p_start plus boottime; subtracting boottime gives
		// back the same microuptime the DTrace records carry.
		Start: start,
		Creds: semconv.Creds{
			UID: u32(kiRUID), EUID: u32(kiUID),
			GID: u32(kiRGID), EGID: u32(kiGroups),
		},
		PGID:   i32(kiPGID),
		SID:    i32(kiSID),
		Comm:   comm,
		JailID: i32(kiJID),
	}
}

// ParseProcArgs splits the value of sysctl kern.proc.args.N (NUL-terminated
// arguments end to end) into argv.
func ParseProcArgs(b []byte) []string { return splitArgs(b) }
