package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/procotel/procotel/backends/exeid"
	"github.com/procotel/procotel/semconv"
)

// The layout of a ring buffer record, as bpf/record.h declares struct
// record. A record is a fixed header of recordSize bytes; exec records are
// followed by a tail of strings whose lengths the header gives.
// TestRecordLayout checks these offsets against bpf2go's rendering of the
// C struct.
const (
	offKind        = 0
	offFlags       = 1
	offSize        = 4
	offBootNS      = 8
	offCPU         = 16
	offPID         = 20
	offTID         = 24
	offPPID        = 28
	offNSPID       = 32
	offUID         = 36
	offEUID        = 40
	offGID         = 44
	offEGID        = 48
	offPGID        = 52
	offSID         = 56
	offLoginUID    = 60
	offStart       = 64
	offParentStart = 72
	offCgroupID    = 80
	offComm        = 88
	offTTY         = 104
	offSessionID   = 136
	offUnion       = 144

	commLen = 16
	ttyLen  = 32

	// Fork part.
	offForkParentTID  = offUnion + 0
	offForkCloneFlags = offUnion + 8

	// Exec part.
	offExecErr         = offUnion + 0
	offExecOldTID      = offUnion + 4
	offExecFilenameLen = offUnion + 8
	offExecExeLen      = offUnion + 10
	offExecCwdLen      = offUnion + 12
	offExecInterpLen   = offUnion + 14
	offExecArgvLen     = offUnion + 16
	offExecEnvLen      = offUnion + 20
	offExecFacts       = offUnion + 22
	offExecStdin       = offUnion + 23
	offExecDev         = offUnion + 24
	offExecIno         = offUnion + 32
	offExecSize        = offUnion + 40
	offExecMtimeNS     = offUnion + 48

	// Exit, reap and signal parts.
	offExitCode         = offUnion + 0
	offReapReaperPID    = offUnion + 0
	offSignalSigno      = offUnion + 0
	offSignalCode       = offUnion + 4
	offSignalSenderPID  = offUnion + 8
	offSignalSenderTID  = offUnion + 12
	offSignalResult     = offUnion + 16
	offSignalSenderComm = offUnion + 24

	// Throttle part.
	offThrottlePhase      = offUnion + 0
	offThrottleLimit      = offUnion + 4
	offThrottleSuppressed = offUnion + 8

	recordSize = offUnion + 56
)

// Record flags, as enum record_flag in bpf/record.h.
const (
	flagArgvTruncated  = 1 << 0
	flagPathTruncated  = 1 << 1
	flagArgvUnreadable = 1 << 2
	flagSignalGroup    = 1 << 3
	flagExitGroup      = 1 << 4
	flagDelivered      = 1 << 5
	flagEnvTruncated   = 1 << 6
)

// Exec facts, as enum exec_fact in bpf/record.h.
const (
	factSetUID = 1 << 0
	factSetGID = 1 << 1
	factAnon   = 1 << 2
	factNoLink = 1 << 3
)

// stdinTypes names enum stdin_type of bpf/record.h; index 0 is unknown.
var stdinTypes = [...]string{"", semconv.StdinNone, semconv.StdinTTY, semconv.StdinPipe,
	semconv.StdinSocket, semconv.StdinFile, semconv.StdinCharDevice, semconv.StdinOther}

// Throttle phases, as enum throttle_phase in bpf/record.h.
const (
	throttleStart = 1
	throttleStop  = 2
)

// signal_generate's result, TRACE_SIGNAL_* in include/trace/events/signal.h.
const (
	traceSignalDelivered      = 0
	traceSignalIgnored        = 1
	traceSignalAlreadyPending = 2
	traceSignalOverflowFail   = 3
	traceSignalLoseInfo       = 4
)

// ErrShortRecord is returned (wrapped) for a record shorter than its
// header or its declared tail.
var ErrShortRecord = errors.New("short record")

// endian is the byte order of records: the host's, since the kernel wrote them.
var endian = binary.NativeEndian

// decoder turns ring buffer records into events. It keeps the strings it
// has made (comm, paths) so that the same name costs one allocation per
// run, not one per event. A decoder is not safe for concurrent use; the
// zero value is ready.
type decoder struct {
	strs map[string]string
	// env picks the variables an exec reports; nil reports none.
	env *envFilter
	// traceParent: take TRACEPARENT from the exec's environment.
	traceParent bool

	// Of the last exec record decoded: the executable's identity, and
	// whether its environment was cut at the capture limit.
	exe          exeid.Key
	envTruncated bool
}

// maxInterned bounds the decoder's string cache; when full it starts over.
const maxInterned = 8192

// str returns b as a string, reusing an earlier equal string.
func (d *decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	if d.strs == nil || len(d.strs) >= maxInterned {
		d.strs = make(map[string]string, 256)
	}
	s := string(b)
	d.strs[s] = s
	return s
}

// cstr returns the bytes of b before the first NUL as a string.
func (d *decoder) cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return d.str(b)
}

// decodeRecord decodes one record with a throwaway decoder.
func decodeRecord(b []byte, ev *semconv.Event) (truncated bool, err error) {
	var d decoder
	return d.decode(b, ev)
}

// decode decodes one ring buffer record into ev, replacing all of its
// fields. It reports whether a field was cut at its capture limit. It
// never panics: a record that is short, names an unknown kind or whose
// tail does not fit returns an error.
func (d *decoder) decode(b []byte, ev *semconv.Event) (truncated bool, err error) {
	if len(b) < recordSize {
		return false, fmt.Errorf("decode record: %d bytes, header needs %d: %w", len(b), recordSize, ErrShortRecord)
	}
	size := endian.Uint32(b[offSize:])
	if size < recordSize || uint64(size) > uint64(len(b)) {
		return false, fmt.Errorf("decode record: declared size %d, have %d: %w", size, len(b), ErrShortRecord)
	}
	b = b[:size]
	kind := semconv.Kind(b[offKind])
	flags := b[offFlags]

	*ev = semconv.Event{
		Kind:   kind,
		BootNS: endian.Uint64(b[offBootNS:]),
		CPU:    int32(endian.Uint32(b[offCPU:])),
		OS:     semconv.OSLinux,
	}
	p := &ev.Process
	p.PID = i32(b, offPID)
	p.TID = i32(b, offTID)
	p.PPID = i32(b, offPPID)
	p.NSPID = i32(b, offNSPID)
	p.UID = endian.Uint32(b[offUID:])
	p.EUID = endian.Uint32(b[offEUID:])
	p.GID = endian.Uint32(b[offGID:])
	p.EGID = endian.Uint32(b[offEGID:])
	p.PGID = i32(b, offPGID)
	p.SID = i32(b, offSID)
	p.Start = endian.Uint64(b[offStart:])
	p.ParentStart = endian.Uint64(b[offParentStart:])
	p.CgroupID = endian.Uint64(b[offCgroupID:])
	p.Comm = d.cstr(b[offComm : offComm+commLen])
	p.TTY = d.ttyName(b[offTTY : offTTY+ttyLen])
	p.LoginUID = semconv.MakeAuditID(endian.Uint32(b[offLoginUID:]))
	p.AuditSessionID = semconv.MakeAuditID(endian.Uint32(b[offSessionID:]))

	switch kind {
	case semconv.KindFork, semconv.KindThreadStart:
		ev.Fork.ParentTID = i32(b, offForkParentTID)
		ev.Fork.CloneFlags = endian.Uint64(b[offForkCloneFlags:])
	case semconv.KindExec, semconv.KindExecFailed:
		if err := d.decodeExec(b, flags, ev); err != nil {
			return false, err
		}
		truncated = flags&(flagArgvTruncated|flagPathTruncated) != 0
	case semconv.KindExit, semconv.KindThreadExit:
		c := endian.Uint32(b[offExitCode:])
		ev.Exit = semconv.ExitInfo{
			Code:       int32(c>>8) & 0xff,
			Signal:     int32(c & 0x7f),
			CoreDumped: c&0x80 != 0,
		}
	case semconv.KindReap:
		if r := i32(b, offReapReaperPID); r > 0 {
			ev.Reap.ReaperPID = r
		} else if r == -1 && p.PPID > 0 {
			// Recorded at sched_process_free, where the current task is
			// unrelated: the parent at release time is the process that
			// waited (or, with SIGCHLD ignored, let the kernel reap).
			ev.Reap.ReaperPID = p.PPID
		}
	case semconv.KindThrottle:
		// About a cgroup: the header's process fields are zero.
		t := &ev.Throttle
		t.CgroupID = p.CgroupID
		t.Limit = endian.Uint32(b[offThrottleLimit:])
		t.Suppressed = endian.Uint64(b[offThrottleSuppressed:])
		switch ph := b[offThrottlePhase]; ph {
		case throttleStart:
			t.Phase = semconv.ThrottleStart
		case throttleStop:
			t.Phase = semconv.ThrottleStop
		default:
			return false, fmt.Errorf("decode throttle record: unknown phase %d", ph)
		}
	case semconv.KindSignal:
		s := &ev.Signal
		s.Signo = i32(b, offSignalSigno)
		s.Code = i32(b, offSignalCode)
		s.SenderPID = i32(b, offSignalSenderPID)
		s.SenderTID = i32(b, offSignalSenderTID)
		s.SenderComm = d.cstr(b[offSignalSenderComm : offSignalSenderComm+commLen])
		s.TargetTID = p.TID
		s.Group = flags&flagSignalGroup != 0
		if flags&flagDelivered != 0 {
			s.Outcome = semconv.SignalDelivered
			break
		}
		switch r := i32(b, offSignalResult); r {
		case traceSignalDelivered:
			s.Outcome = semconv.SignalGenerated
		case traceSignalIgnored:
			s.Outcome = semconv.SignalIgnored
		case traceSignalAlreadyPending, traceSignalOverflowFail, traceSignalLoseInfo:
			s.Outcome = semconv.SignalDiscarded
		default:
			return false, fmt.Errorf("decode signal record: unknown result %d", r)
		}
	default:
		return false, fmt.Errorf("decode record: unknown kind %d", b[offKind])
	}
	return truncated, nil
}

// decodeExec decodes the exec part and the string tail of an exec or
// exec_failed record.
func (d *decoder) decodeExec(b []byte, flags uint8, ev *semconv.Event) error {
	x := &ev.Exec
	if ev.Kind == semconv.KindExecFailed {
		x.Errno = i32(b, offExecErr)
	} else {
		x.OldTID = i32(b, offExecOldTID)
	}
	tail := b[recordSize:]
	lens := [...]int{
		int(endian.Uint16(b[offExecFilenameLen:])),
		int(endian.Uint16(b[offExecExeLen:])),
		int(endian.Uint16(b[offExecCwdLen:])),
		int(endian.Uint16(b[offExecInterpLen:])),
		int(endian.Uint32(b[offExecArgvLen:])),
		int(endian.Uint16(b[offExecEnvLen:])),
	}
	var parts [len(lens)][]byte
	for i, n := range lens {
		if n > len(tail) {
			return fmt.Errorf("decode exec record: field %d needs %d bytes, %d left: %w", i, n, len(tail), ErrShortRecord)
		}
		parts[i], tail = tail[:n], tail[n:]
	}
	x.Filename = d.cstr(parts[0])
	x.Interpreter = d.cstr(parts[3])
	x.Argv = splitArgv(parts[4])
	x.ArgvTruncated = flags&flagArgvTruncated != 0
	if ev.Kind == semconv.KindExec {
		p := &ev.Process
		p.Exe = d.cstr(parts[1])
		p.Cwd = d.cstr(parts[2])
		p.Argv = x.Argv
		p.ArgvTruncated = x.ArgvTruncated
		facts := b[offExecFacts]
		x.SetUID = facts&factSetUID != 0
		x.SetGID = facts&factSetGID != 0
		x.Memfd = facts&factAnon != 0 && strings.HasPrefix(p.Exe, "/memfd:")
		x.Deleted = facts&factNoLink != 0 && !x.Memfd
		if t := int(b[offExecStdin]); t < len(stdinTypes) {
			x.Stdin = stdinTypes[t]
		}
		d.exe = exeid.Key{
			Dev:     endian.Uint32(b[offExecDev:]),
			Ino:     endian.Uint64(b[offExecIno:]),
			Size:    endian.Uint64(b[offExecSize:]),
			MtimeNS: endian.Uint64(b[offExecMtimeNS:]),
		}
		d.envTruncated = flags&flagEnvTruncated != 0
		x.Env, ev.TraceParent = d.pickEnv(parts[5], d.traceParent)
	}
	return nil
}

func i32(b []byte, off int) int32 { return int32(endian.Uint32(b[off:])) }

// ttyName returns the kernel's tty name in the form ps and /dev use: the
// kernel calls the third pseudo-terminal "pts3", /dev calls it "pts/3".
func (d *decoder) ttyName(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > 3 && string(b[:3]) == "pts" && b[3] >= '0' && b[3] <= '9' {
		var buf [ttyLen + 1]byte
		n := copy(buf[:], "pts/")
		n += copy(buf[n:], b[3:])
		return d.str(buf[:n])
	}
	return d.str(b)
}

// splitArgv splits a block of NUL-terminated arguments. A last argument
// cut before its NUL is kept as it is.
func splitArgv(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	n := bytes.Count(b, []byte{0}) + 1
	argv := make([]string, 0, n)
	// One allocation for all arguments; each is a substring of it.
	all := string(b)
	for {
		i := strings.IndexByte(all, 0)
		if i < 0 {
			argv = append(argv, all)
			return argv
		}
		argv = append(argv, all[:i])
		all = all[i+1:]
	}
}
