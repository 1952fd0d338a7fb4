package semconv

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// StartGranularity is the resolution of the start time in a process Key.
// Linux's /proc reports start times in clock ticks (USER_HZ = 100, so 10 ms);
// truncating every start time to that resolution lets a key built from
// /proc at start-up equal the key built from a kernel event for the same
// process. No pid is reused within 10 ms.
const StartGranularity = 10 * time.Millisecond

// Key identifies a process on one boot of one host: its pid and its
// creation time (nanoseconds since boot, truncated to StartGranularity).
// It is OpenTelemetry's process.pid + process.creation.time.
type Key struct {
	PID   int32  `json:"pid"`
	Start uint64 `json:"start"`
}

// KeyOf builds the key of the process with the given pid that was created
// startNS nanoseconds after boot.
func KeyOf(pid int32, startNS uint64) Key {
	return Key{PID: pid, Start: startNS - startNS%uint64(StartGranularity)}
}

// IsZero reports whether k is the zero key (no process).
func (k Key) IsZero() bool { return k.PID == 0 && k.Start == 0 }

// String formats the key as "pid@start" with the start in seconds since boot.
func (k Key) String() string {
	return fmt.Sprintf("%d@%.2fs", k.PID, float64(k.Start)/1e9)
}

// BootID names one boot of one host. On Linux it is
// /proc/sys/kernel/random/boot_id; on FreeBSD kern.boottime with the
// host uuid. Every derived id is salted with it so that ids from two boots
// or two hosts never collide.
type BootID string

// SpanID is the span id of a process lifetime: the first 8 bytes of
// SHA-256(boot id, pid, start). Any component can compute the span id of a
// process it has never seen, so a child's span can point at its parent's
// span across restarts and between the standalone exporter and the
// Collector receiver.
func SpanID(boot BootID, k Key) [8]byte {
	sum := digest('s', boot, k)
	var id [8]byte
	copy(id[:], sum[:8])
	if id == ([8]byte{}) { // all-zero ids are invalid in OTel
		id[7] = 1
	}
	return id
}

// TraceID is the trace id of every process whose trace root is root: the
// first 16 bytes of SHA-256(boot id, root pid, root start).
func TraceID(boot BootID, root Key) [16]byte {
	sum := digest('t', boot, root)
	var id [16]byte
	copy(id[:], sum[:16])
	if id == ([16]byte{}) {
		id[15] = 1
	}
	return id
}

func digest(domain byte, boot BootID, k Key) [32]byte {
	var buf [1 + 64 + 4 + 8]byte
	buf[0] = domain
	n := copy(buf[1:65], boot)
	b := buf[:1+n]
	b = binary.BigEndian.AppendUint32(b, uint32(k.PID))
	b = binary.BigEndian.AppendUint64(b, k.Start)
	return sha256.Sum256(b)
}

// Clock converts the kernel's boot-relative clock to wall-clock time. A
// backend computes it when it starts and again when the wall clock is set
// (Linux: the reader resamples it; FreeBSD stamps each event with the
// kernel's wall time), so events between two settings share one
// conversion.
type Clock struct {
	// BootWall is the wall-clock time of boot.
	BootWall time.Time
}

// Wall returns the wall-clock time of the instant bootNS nanoseconds after boot.
func (c Clock) Wall(bootNS uint64) time.Time {
	return c.BootWall.Add(time.Duration(bootNS))
}
