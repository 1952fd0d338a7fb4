package freebsd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/procotel/procotel/semconv"
)

// Exit reasons the kernel passes to proc:::exit (sys/wait.h CLD_*).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// Decoded is one decoded frame. Most frames are one event; the argv clause
// (TagExecArgs) instead carries the argument vector of the exec-success
// record of the same firing, which the Sequencer attaches.
type Decoded struct {
	Event semconv.Event
	// ArgsOnly marks an argv frame: only Event.Process.PID/TID, BootNS,
	// Argv and ArgvTruncated are set.
	ArgsOnly bool
	// Truncated counts string or argv fields cut at their capture limit.
	Truncated int
}

// Decoder turns frames into events, reading them only through a schema.
// It holds no state between frames and is safe for concurrent use.
type Decoder struct {
	schema *Schema
}

// NewDecoder returns a decoder for the records of schema.
func NewDecoder(schema *Schema) *Decoder { return &Decoder{schema: schema} }

// values is a frame's records read against its clause.
type values struct {
	c    *Clause
	recs []Record
}

func (v values) int(name string) int64 {
	i := v.c.Index(name)
	if i < 0 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(v.recs[i].Data))
}

func (v values) i32(name string) int32 { return int32(v.int(name)) }

// str returns the string field and whether it was cut at strsize.
func (v values) str(name string) (string, bool) {
	i := v.c.Index(name)
	if i < 0 {
		return "", false
	}
	return cString(v.recs[i].Data)
}

// cString returns the NUL-terminated string at the start of b, and whether
// b holds no NUL (the string was cut at the buffer's size).
func cString(b []byte) (string, bool) {
	if n := bytes.IndexByte(b, 0); n >= 0 {
		return string(b[:n]), false
	}
	return string(b), true
}

// Decode decodes one frame. Bytes that do not match the schema are an
// error wrapping ErrMalformed; Decode never panics.
func (d *Decoder) Decode(f Frame) (Decoded, error) {
	if len(f.Records) == 0 {
		return Decoded{}, fmt.Errorf("decode frame: no records: %w", ErrMalformed)
	}
	tagRec := f.Records[0]
	if tagRec.Action != actDIFExpr || len(tagRec.Data) != 8 {
		return Decoded{}, fmt.Errorf("decode frame: first record is not a clause tag (action %d, %d bytes): %w", tagRec.Action, len(tagRec.Data), ErrMalformed)
	}
	tagVal := binary.LittleEndian.Uint64(tagRec.Data)
	c, ok := d.schema.Clause(Tag(tagVal))
	if tagVal > 255 || !ok {
		return Decoded{}, fmt.Errorf("decode frame: unknown clause tag %d: %w", tagVal, ErrMalformed)
	}
	if len(f.Records) != len(c.Fields) {
		return Decoded{}, fmt.Errorf("decode %s: %d records, schema has %d: %w", c.Probe, len(f.Records), len(c.Fields), ErrMalformed)
	}
	for i, fd := range c.Fields {
		r := f.Records[i]
		want := uint16(actDIFExpr)
		switch fd.Type {
		case FieldMemLen:
			want = actTraceMemDynSize
		case FieldMem:
			want = actTraceMem
		}
		if r.Action != want || len(r.Data) != fd.Size {
			return Decoded{}, fmt.Errorf("decode %s: field %s: action %d size %d, want action %d size %d: %w",
				c.Probe, fd.Name, r.Action, len(r.Data), want, fd.Size, ErrMalformed)
		}
	}
	v := values{c: c, recs: f.Records}
	if c.Tag == TagExecArgs {
		return d.decodeArgs(v, f.CPU), nil
	}
	return d.decodeEvent(v, f.CPU)
}

func (d *Decoder) decodeArgs(v values, cpu int32) Decoded {
	out := Decoded{ArgsOnly: true}
	e := &out.Event
	e.Kind = semconv.KindExec
	e.OS = semconv.OSFreeBSD
	e.CPU = cpu
	e.BootNS = uint64(v.int("timestamp"))
	e.Process.PID = v.i32("pid")
	e.Process.TID = v.i32("tid")
	n := v.int("argv_len")
	mem := v.recs[v.c.Index("argv")].Data
	truncated := false
	if n < 0 || n > int64(len(mem)) {
		truncated = n > int64(len(mem))
		n = int64(len(mem))
	}
	argv := splitArgs(mem[:n])
	e.Process.Argv = argv
	e.Process.ArgvTruncated = truncated
	e.Exec.Argv = argv
	e.Exec.ArgvTruncated = truncated
	if truncated {
		out.Truncated++
	}
	return out
}

// splitArgs splits FreeBSD's argument cache (NUL-terminated strings end to
// end) into argv.
func splitArgs(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	argv := make([]string, len(parts))
	for i, p := range parts {
		argv[i] = string(p)
	}
	return argv
}

// setID reports whether an exec was set-user-ID and set-group-ID: the
// process has P_SUGID, its effective id now differs from its real one,
// and from the effective id before the exec (recorded at proc:::exec).
// P_SUGID alone is sticky: a process that changed its ids before, and
// kept them, execs a plain file with it still set. The file's mode is
// not read (DTrace sees the vnode, not the inode's mode), so a set-id
// file owned by the caller's own effective id is not flagged, as on
// Linux.
func setID(v values, c *semconv.Creds) (uid, gid bool) {
	if v.int("sugid") == 0 {
		return false, false
	}
	changed := func(old int64, eff, real uint32) bool {
		return old != 0 && eff != real && uint32(old-1) != eff
	}
	return changed(v.int("old_euid"), c.EUID, c.UID), changed(v.int("old_egid"), c.EGID, c.GID)
}

func (d *Decoder) decodeEvent(v values, cpu int32) (Decoded, error) {
	var out Decoded
	e := &out.Event
	e.OS = semconv.OSFreeBSD
	e.CPU = cpu
	e.Time = time.Unix(0, v.int("walltime"))
	e.BootNS = uint64(v.int("timestamp"))

	// The firing thread's process; the event's subject for most clauses.
	cur := semconv.Process{
		PID:         v.i32("pid"),
		TID:         v.i32("tid"),
		PPID:        v.i32("ppid"),
		Start:       uint64(v.int("start")),
		ParentStart: uint64(v.int("pstart")),
		Creds: semconv.Creds{
			UID: uint32(v.int("uid")), EUID: uint32(v.int("euid")),
			GID: uint32(v.int("gid")), EGID: uint32(v.int("egid")),
		},
		PGID:     v.i32("pgid"),
		SID:      v.i32("sid"),
		JailID:   v.i32("jid"),
		LoginUID: semconv.MakeAuditID(uint32(v.int("auid"))),
	}
	// An audit session id of 0 is AU_DEFAUDITSID: none.
	if asid := uint32(v.int("asid")); asid != 0 {
		cur.AuditSessionID = semconv.MakeAuditID(asid)
	}
	comm, cut := v.str("comm")
	cur.Comm = comm
	if cut {
		out.Truncated++
	}
	str := func(name string) string {
		s, cut := v.str(name)
		if cut {
			out.Truncated++
		}
		return s
	}

	switch v.c.Tag {
	case TagCreate:
		e.Kind = semconv.KindFork
		child := cur
		child.PID = v.i32("child_pid")
		child.TID = v.i32("child_tid")
		child.PPID = cur.PID
		child.Start = uint64(v.int("child_start"))
		child.ParentStart = cur.Start
		e.Process = child
		e.Fork = semconv.ForkInfo{ParentTID: cur.TID, CloneFlags: uint64(uint32(v.int("flags")))}
	case TagExec:
		e.Kind = semconv.KindExecAttempt
		e.Process = cur
		e.Exec.Filename = str("path")
	case TagExecSuccess:
		e.Kind = semconv.KindExec
		e.Process = cur
		e.Process.Exe = str("path")
		e.Process.JailName = str("jail_name")
		e.Exec.Filename = e.Process.Exe
		e.Exec.SetUID, e.Exec.SetGID = setID(v, &cur.Creds)
	case TagExecFailure:
		e.Kind = semconv.KindExecFailed
		e.Process = cur
		e.Exec.Errno = v.i32("errno")
	case TagExit:
		e.Kind = semconv.KindExit
		e.Process = cur
		reason := v.int("reason")
		switch reason {
		case cldExited, cldKilled, cldDumped:
		default:
			return Decoded{}, fmt.Errorf("decode %s: unknown exit reason %d: %w", v.c.Probe, reason, ErrMalformed)
		}
		e.Exit = semconv.ExitInfo{
			Code:       int32(uint16(v.int("xexit"))),
			Signal:     int32(uint8(v.int("xsig"))),
			CoreDumped: reason == cldDumped,
		}
		if reason == cldExited {
			e.Exit.Signal = 0
		} else {
			e.Exit.Code = 0
		}
	case TagSignalSend, TagSignalDiscard:
		e.Kind = semconv.KindSignal
		e.Process = semconv.Process{
			PID:    v.i32("target_pid"),
			TID:    v.i32("target_tid"),
			Start:  uint64(v.int("target_start")),
			JailID: v.i32("target_jid"),
		}
		e.Signal = semconv.SignalInfo{
			Signo:      v.i32("signo"),
			SenderPID:  cur.PID,
			SenderTID:  cur.TID,
			SenderComm: cur.Comm,
			TargetTID:  v.i32("target_tid"),
			Outcome:    semconv.SignalGenerated,
		}
		if v.c.Tag == TagSignalDiscard {
			// FreeBSD fires signal-discard in tdsendsignal when the target
			// has the signal in ps_sigignore: the signal is ignored.
			e.Signal.Outcome = semconv.SignalIgnored
		}
	case TagSignalClear:
		e.Kind = semconv.KindSignal
		e.Process = cur
		e.Signal = semconv.SignalInfo{
			Signo:     v.i32("signo"),
			Code:      v.i32("code"),
			SenderPID: v.i32("sender_pid"),
			TargetTID: cur.TID,
			Outcome:   semconv.SignalCleared,
		}
	default:
		return Decoded{}, fmt.Errorf("decode frame: no decoder for clause tag %d: %w", v.c.Tag, ErrMalformed)
	}
	return out, nil
}
