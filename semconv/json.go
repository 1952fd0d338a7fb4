package semconv

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MarshalText encodes the kind by name, so JSON lines read "exec_failed".
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kind name.
func (k *Kind) UnmarshalText(b []byte) error {
	s := string(b)
	if s == kindNames[KindExecAttempt] {
		*k = KindExecAttempt
		return nil
	}
	if s == kindNames[KindExisting] {
		*k = KindExisting
		return nil
	}
	v, err := ParseKind(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// MarshalJSON writes the id, or null when there is none.
func (a AuditID) MarshalJSON() ([]byte, error) {
	v, ok := a.Get()
	if !ok {
		return []byte("null"), nil
	}
	return strconv.AppendUint(nil, uint64(v), 10), nil
}

// UnmarshalJSON reads an id written by MarshalJSON.
func (a *AuditID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*a = 0
		return nil
	}
	v, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil {
		return fmt.Errorf("audit id %s: want an integer below 2^32", b)
	}
	*a = MakeAuditID(uint32(v))
	return nil
}

// MarshalText encodes the outcome by name.
func (o SignalOutcome) MarshalText() ([]byte, error) {
	if o == 0 {
		return []byte(""), nil
	}
	return []byte(o.String()), nil
}

// UnmarshalText parses an outcome name.
func (o *SignalOutcome) UnmarshalText(b []byte) error {
	s := string(b)
	for i, n := range outcomeNames {
		if n == s {
			*o = SignalOutcome(i)
			return nil
		}
	}
	return fmt.Errorf("unknown signal outcome %q", s)
}

// MarshalText encodes the OS by name.
func (o OS) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText parses an OS name.
func (o *OS) UnmarshalText(b []byte) error {
	switch string(b) {
	case "linux":
		*o = OSLinux
	case "freebsd":
		*o = OSFreeBSD
	case "unknown", "":
		*o = OSUnknown
	default:
		return fmt.Errorf("unknown os %q", b)
	}
	return nil
}

// An Event's JSON form (the `--output json` stream and a recording's event
// lines) is its struct with the field tags of event.go, except that a
// value whose zero means something is always written, so a reader tells
// "exited 0" from "no exit known":
//
//   - cpu, on every event (-1 is the unknown CPU, 0 is CPU 0);
//   - process.ppid, pgid and sid whenever the pid is known (0 is a real
//     value: the parent of init and kthreadd, the group and session of
//     kernel threads); the credentials are always written;
//   - process.jail_id on FreeBSD (0 is the host);
//   - the whole exit object (code, signal, core_dumped) on exit and
//     thread_exit events;
//   - the whole signal object on signal events (sender_pid 0 is the
//     kernel, si_code 0 is SI_USER);
//   - fork.clone_flags on fork and thread_start events.
//
// The throttle object's phase is its number (1 start, 2 stop), as
// encoding/json writes a ThrottlePhase.
//
// A value whose zero means unknown (ns_pid, start, reap.reaper_pid, ...)
// stays omitted when zero. Decoding needs nothing special: an omitted
// field decodes to zero, so files written before these fields were
// always present read as they did.

// MarshalJSON encodes the event as the comment above says (AppendJSON,
// without HTML escaping: the caller's encoder decides on that, and
// encoding/json applies it to what this returns).
func (e Event) MarshalJSON() ([]byte, error) {
	return AppendJSON(make([]byte, 0, 512), &e, false)
}

// AppendJSON appends e's JSON form, as the comment above says, to b and
// returns the extended slice. Its output is byte for byte what
// encoding/json writes for e: json.Marshal's when html is true (<, > and
// & in strings written as \u003c, \u003e and \u0026), that of an Encoder
// with SetEscapeHTML(false) (a recording) when it is false, without the
// Encoder's newline. It fails only for a time encoding/json cannot write
// either (a year outside 0-9999); b is then returned unchanged.
func AppendJSON(b []byte, e *Event, html bool) ([]byte, error) {
	j := jsonAppender{b: b, html: html}
	start := len(b)
	j.b = append(j.b, `{"kind":`...)
	j.str(e.Kind.String())
	j.b = append(j.b, `,"time":"`...)
	var err error
	if j.b, err = e.Time.AppendText(j.b); err != nil {
		return b[:start], fmt.Errorf("encode event time: %w", err)
	}
	j.b = append(j.b, '"')
	if e.BootNS != 0 {
		j.b = append(j.b, `,"boot_ns":`...)
		j.b = strconv.AppendUint(j.b, e.BootNS, 10)
	}
	if e.OS != 0 {
		j.b = append(j.b, `,"os":`...)
		j.str(e.OS.String())
	}
	if !e.Exec.isZero() {
		j.b = append(j.b, `,"exec":`...)
		j.exec(&e.Exec)
	}
	if e.Reap != (ReapInfo{}) {
		j.b = append(j.b, `,"reap":{`...)
		j.open()
		j.optInt(`"reaper_pid":`, e.Reap.ReaperPID)
		j.optBool(`"inferred":`, e.Reap.Inferred)
		j.b = append(j.b, '}')
	}
	if t := &e.Throttle; *t != (ThrottleInfo{}) {
		j.b = append(j.b, `,"throttle":{`...)
		j.open()
		j.optUint(`"cgroup_id":`, t.CgroupID)
		j.optUint(`"phase":`, uint64(t.Phase))
		j.optUint(`"suppressed":`, t.Suppressed)
		j.optUint(`"limit":`, uint64(t.Limit))
		j.b = append(j.b, '}')
	}
	j.key(`,"root":`, e.Root)
	j.key(`,"creator":`, e.Creator)
	j.key(`,"creator_root":`, e.CreatorRoot)
	if e.TraceParent != "" {
		j.b = append(j.b, `,"trace_parent":`...)
		j.str(e.TraceParent)
	}
	if e.Unlinked {
		j.b = append(j.b, `,"unlinked":true`...)
	}
	j.b = append(j.b, `,"cpu":`...)
	j.b = strconv.AppendInt(j.b, int64(e.CPU), 10)
	j.b = append(j.b, `,"process":`...)
	j.process(&e.Process, e.OS)
	j.fork(e)
	j.exit(e)
	j.signal(e)
	return append(j.b, '}'), nil
}

// isZero reports whether x is ExecInfo's zero value, which omitzero
// leaves out: an empty but non-nil argv or env is not zero.
func (x *ExecInfo) isZero() bool {
	return x.Filename == "" && x.Argv == nil && !x.ArgvTruncated && x.Errno == 0 && x.OldTID == 0 &&
		x.Interpreter == "" && x.ExecFacts.isZero()
}

func (f *ExecFacts) isZero() bool {
	return !f.SetUID && !f.SetGID && !f.Memfd && !f.Deleted && f.HTLHash == "" && f.SHA256 == "" &&
		f.Env == nil && f.ParentExe == "" && f.Stdin == ""
}

// jsonAppender writes one event's JSON. The event's own fields are
// appended with their commas; inside a nested object, first says no field
// has been written yet, so the next one needs no comma. The opt* methods
// write a field only when its value is not zero.
type jsonAppender struct {
	b     []byte
	html  bool
	first bool
}

// open starts the fields of an object whose '{' was written.
func (j *jsonAppender) open() { j.first = true }

// name writes the comma the field needs, then name (`"key":`).
func (j *jsonAppender) name(name string) {
	if !j.first {
		j.b = append(j.b, ',')
	}
	j.first = false
	j.b = append(j.b, name...)
}

func (j *jsonAppender) int(name string, v int32) {
	j.name(name)
	j.b = strconv.AppendInt(j.b, int64(v), 10)
}

func (j *jsonAppender) uint(name string, v uint64) {
	j.name(name)
	j.b = strconv.AppendUint(j.b, v, 10)
}

func (j *jsonAppender) bool(name string, v bool) {
	j.name(name)
	j.b = strconv.AppendBool(j.b, v)
}

func (j *jsonAppender) string(name, v string) {
	j.name(name)
	j.str(v)
}

func (j *jsonAppender) optInt(name string, v int32) { j.intIf(name, v, v != 0) }

func (j *jsonAppender) optUint(name string, v uint64) { j.uintIf(name, v, v != 0) }

func (j *jsonAppender) optBool(name string, v bool) { j.boolIf(name, v, v) }

func (j *jsonAppender) optString(name, v string) { j.stringIf(name, v, v != "") }

// The *If methods write a field when write is true: an object whose every
// field is written on some events and only its non-zero ones on others
// passes "always || v != 0".
func (j *jsonAppender) intIf(name string, v int32, write bool) {
	if write {
		j.int(name, v)
	}
}

func (j *jsonAppender) uintIf(name string, v uint64, write bool) {
	if write {
		j.uint(name, v)
	}
}

func (j *jsonAppender) boolIf(name string, v bool, write bool) {
	if write {
		j.bool(name, v)
	}
}

func (j *jsonAppender) stringIf(name, v string, write bool) {
	if write {
		j.string(name, v)
	}
}

func (j *jsonAppender) optStrings(name string, vs []string) {
	if len(vs) == 0 {
		return
	}
	j.name(name)
	j.b = append(j.b, '[')
	for i, v := range vs {
		if i > 0 {
			j.b = append(j.b, ',')
		}
		j.str(v)
	}
	j.b = append(j.b, ']')
}

func (j *jsonAppender) optAudit(name string, a AuditID) {
	if v, ok := a.Get(); ok {
		j.uint(name, uint64(v))
	}
}

// key writes a Lineage key field (leading comma included) unless k is zero.
func (j *jsonAppender) key(name string, k Key) {
	if k.IsZero() {
		return
	}
	j.b = append(j.b, name...)
	j.b = append(j.b, `{"pid":`...)
	j.b = strconv.AppendInt(j.b, int64(k.PID), 10)
	j.b = append(j.b, `,"start":`...)
	j.b = strconv.AppendUint(j.b, k.Start, 10)
	j.b = append(j.b, '}')
}

func (j *jsonAppender) exec(x *ExecInfo) {
	j.b = append(j.b, '{')
	j.open()
	j.optString(`"filename":`, x.Filename)
	j.optStrings(`"argv":`, x.Argv)
	j.optBool(`"argv_truncated":`, x.ArgvTruncated)
	j.optInt(`"errno":`, x.Errno)
	j.optInt(`"old_tid":`, x.OldTID)
	j.optString(`"interpreter":`, x.Interpreter)
	f := &x.ExecFacts
	j.optBool(`"setuid":`, f.SetUID)
	j.optBool(`"setgid":`, f.SetGID)
	j.optBool(`"memfd":`, f.Memfd)
	j.optBool(`"deleted":`, f.Deleted)
	j.optString(`"htlhash":`, f.HTLHash)
	j.optString(`"sha256":`, f.SHA256)
	j.optStrings(`"env":`, f.Env)
	j.optString(`"parent_exe":`, f.ParentExe)
	j.optString(`"stdin":`, f.Stdin)
	j.b = append(j.b, '}')
}

// process writes the process object: its fields in declaration order,
// then the ones whose zero is written when meaningful.
func (j *jsonAppender) process(p *Process, os OS) {
	j.b = append(j.b, '{')
	j.open()
	j.optInt(`"pid":`, p.PID)
	j.optInt(`"tid":`, p.TID)
	j.optInt(`"ns_pid":`, p.NSPID)
	j.optUint(`"start":`, p.Start)
	j.optUint(`"parent_start":`, p.ParentStart)
	j.uint(`"uid":`, uint64(p.UID))
	j.uint(`"euid":`, uint64(p.EUID))
	j.uint(`"gid":`, uint64(p.GID))
	j.uint(`"egid":`, uint64(p.EGID))
	j.optString(`"tty":`, p.TTY)
	j.optString(`"comm":`, p.Comm)
	j.optString(`"exe":`, p.Exe)
	j.optStrings(`"argv":`, p.Argv)
	j.optBool(`"argv_truncated":`, p.ArgvTruncated)
	j.optString(`"cwd":`, p.Cwd)
	j.optUint(`"cgroup_id":`, p.CgroupID)
	j.optString(`"cgroup_path":`, p.CgroupPath)
	j.optString(`"container_id":`, p.ContainerID)
	j.optString(`"container_name":`, p.ContainerName)
	j.optString(`"container_runtime":`, p.ContainerRuntime)
	j.optString(`"jail_name":`, p.JailName)
	j.optAudit(`"login_uid":`, p.LoginUID)
	j.optAudit(`"audit_session_id":`, p.AuditSessionID)
	if p.PID != 0 {
		j.int(`"ppid":`, p.PPID)
		j.int(`"pgid":`, p.PGID)
		j.int(`"sid":`, p.SID)
	}
	if p.JailID != 0 || os == OSFreeBSD {
		j.int(`"jail_id":`, p.JailID)
	}
	j.b = append(j.b, '}')
}

func (j *jsonAppender) fork(e *Event) {
	all := e.Kind == KindFork || e.Kind == KindThreadStart
	if !all && e.Fork == (ForkInfo{}) {
		return
	}
	j.b = append(j.b, `,"fork":{`...)
	j.open()
	j.optInt(`"parent_tid":`, e.Fork.ParentTID)
	j.uintIf(`"clone_flags":`, e.Fork.CloneFlags, all || e.Fork.CloneFlags != 0)
	j.b = append(j.b, '}')
}

// exit writes the exit object: all of it on exit and thread_exit events,
// its non-zero fields (if any) on others.
func (j *jsonAppender) exit(e *Event) {
	x := &e.Exit
	all := e.Kind == KindExit || e.Kind == KindThreadExit
	if !all && *x == (ExitInfo{}) {
		return
	}
	j.b = append(j.b, `,"exit":{`...)
	j.open()
	j.intIf(`"code":`, x.Code, all || x.Code != 0)
	j.intIf(`"signal":`, x.Signal, all || x.Signal != 0)
	j.boolIf(`"core_dumped":`, x.CoreDumped, all || x.CoreDumped)
	j.b = append(j.b, '}')
}

// signal writes the signal object: all of it on signal events (an
// unknown outcome as ""), its non-zero fields (if any) on others.
func (j *jsonAppender) signal(e *Event) {
	s := &e.Signal
	all := e.Kind == KindSignal
	if !all && *s == (SignalInfo{}) {
		return
	}
	j.b = append(j.b, `,"signal":{`...)
	j.open()
	j.intIf(`"signo":`, s.Signo, all || s.Signo != 0)
	j.intIf(`"code":`, s.Code, all || s.Code != 0)
	j.intIf(`"sender_pid":`, s.SenderPID, all || s.SenderPID != 0)
	j.intIf(`"sender_tid":`, s.SenderTID, all || s.SenderTID != 0)
	j.stringIf(`"sender_comm":`, s.SenderComm, all || s.SenderComm != "")
	j.intIf(`"target_tid":`, s.TargetTID, all || s.TargetTID != 0)
	if s.Outcome != 0 {
		j.string(`"outcome":`, s.Outcome.String())
	} else if all {
		j.name(`"outcome":`)
		j.b = append(j.b, `""`...)
	}
	j.boolIf(`"group":`, s.Group, all || s.Group)
	j.b = append(j.b, '}')
}

// str writes s as a JSON string the way encoding/json does: '"' and '\\'
// escaped, \b \f \n \r \t by name and the other control bytes as
// \u00XX, invalid UTF-8 as \ufffd (one per bad byte), U+2028 and U+2029
// as \u2028 and \u2029 (JavaScript reads them as line ends), and with
// html also <, > and & as \u00XX.
func (j *jsonAppender) str(s string) {
	const hex = "0123456789abcdef"
	safe := &jsonSafe[0]
	if j.html {
		safe = &jsonSafe[1]
	}
	b := append(j.b, '"')
	done := 0 // s[:done] is written
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	b = append(b, s[done:]...)
	j.b = append(b, '"')
}

// jsonSafe[html][c] says the ASCII byte c stands for itself in a JSON
// string: printable, not '"' or '\\', and with html not <, > or &.
var jsonSafe = func() (t [2][utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[0][c] = c != '"' && c != '\\'
		t[1][c] = t[0][c] && c != '<' && c != '>' && c != '&'
	}
	return t
}()
