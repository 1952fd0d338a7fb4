package semconv

// This file maps events and lifetimes onto OpenTelemetry: event names,
// severities, bodies, attributes, span names and statuses, resource
// attributes, and the trace and span ids of a process. It is plain data so
// that the standalone OTLP exporter and the Collector receiver emit the
// same bytes. Every name it emits is documented in ATTRIBUTES.md.

import (
	"encoding/hex"
	"path"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelsemconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// SchemaURL is the OpenTelemetry semantic-conventions schema the mapping
// follows.
const SchemaURL = otelsemconv.SchemaURL

// ServiceName is the service.name of procotel's own resource.
const ServiceName = "procotel"

// Event names: the log record EventName of each kind. Semantic conventions
// define no process lifecycle events; these names are procotel's.
const (
	EventNameFork        = "process.fork"
	EventNameStart       = "process.start"
	EventNameExec        = "process.exec"
	EventNameExecFailed  = "process.exec_failed"
	EventNameExit        = "process.exit"
	EventNameReap        = "process.reap"
	EventNameSignal      = "process.signal"
	EventNameThreadStart = "process.thread_start"
	EventNameThreadExit  = "process.thread_exit"
	EventNameThrottle    = "process.throttle"
)

var eventNames = [NumKinds]string{
	KindFork:        EventNameFork,
	KindStart:       EventNameStart,
	KindExec:        EventNameExec,
	KindExecFailed:  EventNameExecFailed,
	KindExit:        EventNameExit,
	KindReap:        EventNameReap,
	KindSignal:      EventNameSignal,
	KindThreadStart: EventNameThreadStart,
	KindThreadExit:  EventNameThreadExit,
	KindThrottle:    EventNameThrottle,
}

// EventName returns the log record event name of kind k ("process.exec"),
// or "" for kinds sinks never receive (exec attempts, existing-process
// snapshots, invalid kinds).
func EventName(k Kind) string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return ""
}

// KindOfEventName is the inverse of EventName; it returns KindInvalid for
// a name that is not one of procotel's event names.
func KindOfEventName(name string) Kind {
	for k, n := range eventNames {
		if n != "" && n == name {
			return Kind(k)
		}
	}
	return KindInvalid
}

// Procotel's attribute keys, for what the OpenTelemetry semantic
// conventions (v1.43.0) do not define.
const (
	// AttrEventKind is the event's kind as in the schema ("exec_failed").
	AttrEventKind = attribute.Key("procotel.event.kind")

	// AttrProcessComm is the kernel task name (comm).
	AttrProcessComm = attribute.Key("procotel.process.comm")
	// AttrProcessGroupID and AttrProcessRealGroupID are the effective and
	// real group ids (semconv has user ids only).
	AttrProcessGroupID     = attribute.Key("procotel.process.group.id")
	AttrProcessRealGroupID = attribute.Key("procotel.process.real_group.id")
	// AttrProcessTTY is the controlling terminal ("pts/3").
	AttrProcessTTY = attribute.Key("procotel.process.tty")

	// AttrArgvTruncated is true when process.command_args was cut at the
	// capture limit.
	AttrArgvTruncated = attribute.Key("procotel.argv.truncated")

	AttrExecFilename       = attribute.Key("procotel.exec.filename")
	AttrExecInterpreter    = attribute.Key("procotel.exec.interpreter")
	AttrExecOldTID         = attribute.Key("procotel.exec.old_tid")
	AttrExecArgs           = attribute.Key("procotel.exec.args")
	AttrExecArgsTruncated  = attribute.Key("procotel.exec.args_truncated")
	AttrExecErrno          = attribute.Key("procotel.exec.errno")
	AttrExecErrnoName      = attribute.Key("procotel.exec.errno_name")
	AttrExecSetUID         = attribute.Key("procotel.exec.setuid")
	AttrExecSetGID         = attribute.Key("procotel.exec.setgid")
	AttrExecMemfd          = attribute.Key("procotel.exec.memfd")
	AttrExecDeleted        = attribute.Key("procotel.exec.deleted")
	AttrExecSHA256         = attribute.Key("procotel.exec.sha256")
	AttrExecEnv            = attribute.Key("procotel.exec.env")
	AttrParentExePath      = attribute.Key("procotel.parent.executable.path")
	AttrProcessStdinType   = attribute.Key("procotel.process.stdin.type")
	AttrProcessLoginUID    = attribute.Key("procotel.process.login_uid")
	AttrProcessAuditSessID = attribute.Key("procotel.process.audit_session_id")
	AttrExitSignal         = attribute.Key("procotel.exit.signal")
	AttrExitSignalName     = attribute.Key("procotel.exit.signal_name")
	AttrExitCoreDumped     = attribute.Key("procotel.exit.core_dumped")
	AttrSignalNumber       = attribute.Key("procotel.signal.number")
	AttrSignalName         = attribute.Key("procotel.signal.name")
	AttrSignalCode         = attribute.Key("procotel.signal.code")
	AttrSignalOutcome      = attribute.Key("procotel.signal.outcome")
	AttrSignalGroup        = attribute.Key("procotel.signal.group")
	AttrSignalSenderPID    = attribute.Key("procotel.signal.sender.pid")
	AttrSignalSenderComm   = attribute.Key("procotel.signal.sender.comm")
	AttrSignalTargetTID    = attribute.Key("procotel.signal.target.tid")
	AttrForkCloneFlags     = attribute.Key("procotel.fork.clone_flags")
	AttrForkParentTID      = attribute.Key("procotel.fork.parent_tid")
	AttrReapReaperPID      = attribute.Key("procotel.reap.reaper_pid")
	AttrReapInferred       = attribute.Key("procotel.reap.inferred")
	AttrCgroupID           = attribute.Key("procotel.cgroup.id")
	AttrJailID             = attribute.Key("procotel.freebsd.jail.id")
	AttrJailName           = attribute.Key("procotel.freebsd.jail.name")
	AttrThrottleCgroupID   = attribute.Key("procotel.throttle.cgroup_id")
	AttrThrottlePhase      = attribute.Key("procotel.throttle.phase")
	AttrThrottleSuppressed = attribute.Key("procotel.throttle.suppressed")
	AttrThrottleLimit      = attribute.Key("procotel.throttle.limit")
	AttrLifetimeIncomplete = attribute.Key("procotel.lifetime.incomplete")
	AttrLifetimeSeeded     = attribute.Key("procotel.lifetime.seeded")
	AttrLifetimeExecs      = attribute.Key("procotel.lifetime.exec_count")
	AttrLifetimeChildren   = attribute.Key("procotel.lifetime.children")
)

// OpenTelemetry log severity numbers used by EventSeverity.
const (
	SeverityInfo  = 9
	SeverityWarn  = 13
	SeverityError = 17
)

// EventSeverity returns the OpenTelemetry severity number and text of e:
// ERROR for an exit that dumped core, WARN for a failed exec or an exit
// with a non-zero code or a signal, INFO otherwise.
func EventSeverity(e *Event) (num int, text string) {
	switch e.Kind {
	case KindExecFailed:
		return SeverityWarn, "WARN"
	case KindExit:
		if e.Exit.CoreDumped {
			return SeverityError, "ERROR"
		}
		if e.Exit.Failed() {
			return SeverityWarn, "WARN"
		}
	}
	return SeverityInfo, "INFO"
}

// EventBody returns a short human-readable line describing e, such as
// "exec /usr/bin/ls (pid 123)" or "killed by SIGTERM (pid 5 sleep)".
func EventBody(e *Event) string {
	// Built in a buffer on the stack: one allocation, the string.
	var buf [160]byte
	return string(appendEventBody(buf[:0], e))
}

func appendEventBody(b []byte, e *Event) []byte {
	p := &e.Process
	switch e.Kind {
	case KindFork:
		b = appendPid(append(b, "fork pid "...), p.PID)
		b = strconv.AppendInt(append(b, " from "...), int64(p.PPID), 10)
		return appendWithComm(b, p.Comm)
	case KindStart:
		return appendWithComm(appendPid(append(b, "start pid "...), p.PID), p.Comm)
	case KindExec:
		b = append(append(b, "exec "...), execPath(e)...)
		return append(appendPid(append(b, " (pid "...), p.PID), ')')
	case KindExecFailed:
		b = append(append(b, "exec "...), execPath(e)...)
		b = append(append(b, " failed: "...), ErrnoName(e.OS, e.Exec.Errno)...)
		return append(appendPid(append(b, " (pid "...), p.PID), ')')
	case KindExit:
		b = appendPid(append(appendExitPhrase(b, e.OS, e.Exit), " (pid "...), p.PID)
		if p.Comm != "" {
			b = append(append(b, ' '), p.Comm...)
		}
		return append(b, ')')
	case KindReap:
		b = appendWithComm(appendPid(append(b, "reap pid "...), p.PID), p.Comm)
		if e.Reap.ReaperPID != 0 {
			b = appendPid(append(b, " by pid "...), e.Reap.ReaperPID)
		}
		return b
	case KindSignal:
		b = append(append(b, SignalName(e.OS, e.Signal.Signo)...), ' ')
		b = appendPid(append(append(b, e.Signal.Outcome.String()...), " for pid "...), p.PID)
		if e.Signal.SenderPID != 0 {
			b = appendPid(append(b, " from pid "...), e.Signal.SenderPID)
		}
		return b
	case KindThreadStart, KindThreadExit:
		b = appendPid(append(b, "thread "...), p.TID)
		if e.Kind == KindThreadStart {
			b = append(b, " started in pid "...)
		} else {
			b = append(b, " exited in pid "...)
		}
		return appendWithComm(appendPid(b, p.PID), p.Comm)
	case KindThrottle:
		return append(b, throttleBody(e)...)
	}
	return appendPid(append(append(b, e.Kind.String()...), " pid "...), p.PID)
}

// appendPid appends the decimal pid.
func appendPid(b []byte, pid int32) []byte { return strconv.AppendInt(b, int64(pid), 10) }

// appendWithComm appends " (comm)", or nothing when comm is empty.
func appendWithComm(b []byte, comm string) []byte {
	if comm == "" {
		return b
	}
	return append(append(append(b, " ("...), comm...), ')')
}

// throttleBody is "execs throttled in cgroup /a/b above 50/s" for a
// start and "execs throttled in cgroup /a/b: 450 not reported" for a stop.
func throttleBody(e *Event) string {
	t := &e.Throttle
	cg := e.Process.CgroupPath
	if cg == "" {
		cg = strconv.FormatUint(t.CgroupID, 10)
	}
	s := "execs throttled in cgroup " + cg
	if t.Phase == ThrottleStop {
		return s + ": " + strconv.FormatUint(t.Suppressed, 10) + " not reported"
	}
	return s + " above " + strconv.FormatUint(uint64(t.Limit), 10) + "/s"
}

func execPath(e *Event) string {
	switch {
	case e.Kind == KindExec && e.Process.Exe != "":
		return e.Process.Exe
	case e.Exec.Filename != "":
		return e.Exec.Filename
	}
	return e.Process.Exe
}

func exitPhrase(os OS, x ExitInfo) string {
	var buf [64]byte
	return string(appendExitPhrase(buf[:0], os, x))
}

func appendExitPhrase(b []byte, os OS, x ExitInfo) []byte {
	if x.Signal != 0 {
		b = append(append(b, "killed by "...), SignalName(os, x.Signal)...)
		if x.CoreDumped {
			b = append(b, ", core dumped"...)
		}
		return b
	}
	return strconv.AppendInt(append(b, "exit "...), int64(x.Code), 10)
}

// EventAttributes appends the attributes of e's log record to dst and
// returns the extended slice: the event kind, the process attributes
// (ProcessAttributes), then the event's own (EventDetailAttributes).
// Attributes whose value is unknown are left out.
func EventAttributes(e *Event, dst []attribute.KeyValue) []attribute.KeyValue {
	dst = append(dst, EventKindAttribute(e))
	dst = ProcessAttributes(&e.Process, EventCreationTime(e), dst)
	return EventDetailAttributes(e, dst)
}

// EventKindAttribute is the first attribute of e's log record.
func EventKindAttribute(e *Event) attribute.KeyValue { return AttrEventKind.String(e.Kind.String()) }

// EventDetailAttributes appends the attributes of e's log record that
// follow the process attributes: the thread and the kind-specific ones.
func EventDetailAttributes(e *Event, dst []attribute.KeyValue) []attribute.KeyValue {
	p := &e.Process
	dst = appendInt(dst, otelsemconv.ThreadIDKey, int(p.TID))
	switch e.Kind {
	case KindFork:
		dst = append(dst,
			AttrForkCloneFlags.Int64(int64(e.Fork.CloneFlags)),
			AttrForkParentTID.Int(int(e.Fork.ParentTID)))
	case KindExec:
		dst = appendExec(dst, &e.Exec)
		dst = appendExecFacts(dst, &e.Exec)
	case KindExecFailed:
		dst = appendExec(dst, &e.Exec)
		if len(e.Exec.Argv) > 0 {
			dst = append(dst, AttrExecArgs.StringSlice(e.Exec.Argv))
		}
		if e.Exec.ArgvTruncated {
			dst = append(dst, AttrExecArgsTruncated.Bool(true))
		}
		name := ErrnoName(e.OS, e.Exec.Errno)
		dst = append(dst,
			AttrExecErrno.Int(int(e.Exec.Errno)),
			AttrExecErrnoName.String(name),
			otelsemconv.ErrorTypeKey.String(name))
	case KindExit:
		dst = appendExit(dst, e.OS, e.Exit)
		if !e.Time.IsZero() {
			dst = append(dst, otelsemconv.ProcessExitTimeKey.String(isoTime(e.Time)))
		}
	case KindThrottle:
		t := &e.Throttle
		dst = append(dst,
			AttrThrottleCgroupID.Int64(int64(t.CgroupID)),
			AttrThrottlePhase.String(t.Phase.String()),
			AttrThrottleSuppressed.Int64(int64(t.Suppressed)),
			AttrThrottleLimit.Int(int(t.Limit)))
	case KindReap:
		dst = appendInt(dst, AttrReapReaperPID, int(e.Reap.ReaperPID))
		if e.Reap.Inferred {
			dst = append(dst, AttrReapInferred.Bool(true))
		}
	case KindSignal:
		s := &e.Signal
		dst = append(dst,
			AttrSignalNumber.Int(int(s.Signo)),
			AttrSignalName.String(SignalName(e.OS, s.Signo)),
			AttrSignalCode.Int(int(s.Code)),
			AttrSignalGroup.Bool(s.Group))
		if s.Outcome != 0 {
			dst = append(dst, AttrSignalOutcome.String(s.Outcome.String()))
		}
		dst = appendInt(dst, AttrSignalSenderPID, int(s.SenderPID))
		dst = appendString(dst, AttrSignalSenderComm, s.SenderComm)
		dst = appendInt(dst, AttrSignalTargetTID, int(s.TargetTID))
	}
	return dst
}

func appendExec(dst []attribute.KeyValue, x *ExecInfo) []attribute.KeyValue {
	dst = appendString(dst, AttrExecFilename, x.Filename)
	dst = appendString(dst, AttrExecInterpreter, x.Interpreter)
	dst = appendInt(dst, AttrExecOldTID, int(x.OldTID))
	return dst
}

// appendExecFacts appends the security facts of a successful exec; a
// fact that does not hold is left out.
func appendExecFacts(dst []attribute.KeyValue, x *ExecInfo) []attribute.KeyValue {
	for _, f := range [...]struct {
		key attribute.Key
		on  bool
	}{{AttrExecSetUID, x.SetUID}, {AttrExecSetGID, x.SetGID}, {AttrExecMemfd, x.Memfd}, {AttrExecDeleted, x.Deleted}} {
		if f.on {
			dst = append(dst, f.key.Bool(true))
		}
	}
	dst = appendString(dst, otelsemconv.ProcessExecutableBuildIDHtlhashKey, x.HTLHash)
	dst = appendString(dst, AttrExecSHA256, x.SHA256)
	if len(x.Env) > 0 {
		dst = append(dst, AttrExecEnv.StringSlice(x.Env))
	}
	dst = appendString(dst, AttrParentExePath, x.ParentExe)
	dst = appendString(dst, AttrProcessStdinType, x.Stdin)
	return dst
}

func appendExit(dst []attribute.KeyValue, os OS, x ExitInfo) []attribute.KeyValue {
	if x.Signal != 0 {
		return append(dst,
			AttrExitSignal.Int(int(x.Signal)),
			AttrExitSignalName.String(SignalName(os, x.Signal)),
			AttrExitCoreDumped.Bool(x.CoreDumped))
	}
	return append(dst, otelsemconv.ProcessExitCodeKey.Int(int(x.Code)))
}

// EventCreationTime derives the wall-clock creation time of the event's
// process from the event's two clocks; zero when they do not allow it.
func EventCreationTime(e *Event) time.Time {
	p := &e.Process
	if p.Start == 0 || e.Time.IsZero() || e.BootNS < p.Start {
		return time.Time{}
	}
	return e.Time.Add(-time.Duration(e.BootNS - p.Start))
}

// ProcessAttributes appends the attributes describing p, which every log
// record and span of a process carries. created is its wall-clock creation
// time, zero if unknown. They depend on nothing else: two processes that
// are Equal with the same created time have the same attributes. A
// process without a pid (a throttle event's, which is about a cgroup)
// has only its cgroup's and container's. They are, in this order,
// ProcessIdentityAttributes, ProcessImageAttributes and
// ProcessPlaceAttributes, so that an encoder may keep each part's
// encoding apart: a forked child differs from its parent in the first,
// an exec changes the second.
func ProcessAttributes(p *Process, created time.Time, dst []attribute.KeyValue) []attribute.KeyValue {
	if p.PID == 0 {
		return appendCgroup(p, dst)
	}
	dst = ProcessIdentityAttributes(p, created, dst)
	dst = ProcessImageAttributes(p, dst)
	return ProcessPlaceAttributes(p, dst)
}

// ProcessIdentityAttributes appends the first part of ProcessAttributes
// (p has a pid): who the process is and its terminal. They depend on p's
// PID, PPID, NSPID, Creds, PGID, SID and TTY, and created.
func ProcessIdentityAttributes(p *Process, created time.Time, dst []attribute.KeyValue) []attribute.KeyValue {
	dst = append(dst, otelsemconv.ProcessPIDKey.Int(int(p.PID)))
	dst = appendInt(dst, otelsemconv.ProcessParentPIDKey, int(p.PPID))
	dst = appendInt(dst, otelsemconv.ProcessVpidKey, int(p.NSPID))
	if !created.IsZero() {
		dst = append(dst, otelsemconv.ProcessCreationTimeKey.String(isoTime(created)))
	}
	dst = append(dst,
		otelsemconv.ProcessUserIDKey.Int(int(p.EUID)),
		otelsemconv.ProcessRealUserIDKey.Int(int(p.UID)),
		AttrProcessGroupID.Int(int(p.EGID)),
		AttrProcessRealGroupID.Int(int(p.GID)))
	dst = appendInt(dst, otelsemconv.ProcessGroupLeaderPIDKey, int(p.PGID))
	dst = appendInt(dst, otelsemconv.ProcessSessionLeaderPIDKey, int(p.SID))
	dst = append(dst, otelsemconv.ProcessInteractiveKey.Bool(p.TTY != ""))
	return appendString(dst, AttrProcessTTY, p.TTY)
}

// ProcessImageAttributes appends the second part of ProcessAttributes (p
// has a pid): the program it runs. They depend on p's Comm, Exe, Argv,
// ArgvTruncated and Cwd only.
func ProcessImageAttributes(p *Process, dst []attribute.KeyValue) []attribute.KeyValue {
	dst = appendString(dst, AttrProcessComm, p.Comm)
	if p.Exe != "" {
		dst = append(dst,
			otelsemconv.ProcessExecutablePathKey.String(p.Exe),
			otelsemconv.ProcessExecutableNameKey.String(path.Base(p.Exe)))
	}
	if len(p.Argv) > 0 {
		dst = append(dst,
			otelsemconv.ProcessCommandKey.String(p.Argv[0]),
			otelsemconv.ProcessCommandArgsKey.StringSlice(p.Argv),
			otelsemconv.ProcessArgsCountKey.Int(len(p.Argv)))
	}
	if p.ArgvTruncated {
		dst = append(dst, AttrArgvTruncated.Bool(true))
	}
	return appendString(dst, otelsemconv.ProcessWorkingDirectoryKey, p.Cwd)
}

// ProcessPlaceAttributes appends the third part of ProcessAttributes (p
// has a pid): where the process runs (cgroup, container, jail) and its
// audit ids. They depend on p's CgroupID, CgroupPath, ContainerID,
// ContainerName, ContainerRuntime, JailID, JailName, LoginUID and
// AuditSessionID only.
func ProcessPlaceAttributes(p *Process, dst []attribute.KeyValue) []attribute.KeyValue {
	dst = appendCgroup(p, dst)
	dst = appendJail(dst, p.JailID, p.JailName)
	if id, ok := p.LoginUID.Get(); ok {
		dst = append(dst, AttrProcessLoginUID.Int64(int64(id)))
	}
	if id, ok := p.AuditSessionID.Get(); ok {
		dst = append(dst, AttrProcessAuditSessID.Int64(int64(id)))
	}
	return dst
}

// appendCgroup appends the attributes of p's cgroup and container.
func appendCgroup(p *Process, dst []attribute.KeyValue) []attribute.KeyValue {
	if p.CgroupID != 0 {
		dst = append(dst, AttrCgroupID.Int64(int64(p.CgroupID)))
	}
	if p.CgroupPath != "" {
		// The /proc/<pid>/cgroup line of the cgroup v2 hierarchy.
		dst = append(dst, otelsemconv.ProcessLinuxCgroupKey.String("0::"+p.CgroupPath))
	}
	return appendContainer(dst, p.ContainerID, p.ContainerName, p.ContainerRuntime)
}

// appendContainer appends container.id, container.name and
// container.runtime.name, each when known: on a process's records and on a
// container's Resource alike.
func appendContainer(dst []attribute.KeyValue, id, name, runtime string) []attribute.KeyValue {
	dst = appendString(dst, otelsemconv.ContainerIDKey, id)
	dst = appendString(dst, otelsemconv.ContainerNameKey, name)
	dst = appendString(dst, otelsemconv.ContainerRuntimeNameKey, runtime)
	return dst
}

// appendJail appends the FreeBSD jail's id and name, each when known (0 is
// the host).
func appendJail(dst []attribute.KeyValue, id int32, name string) []attribute.KeyValue {
	dst = appendInt(dst, AttrJailID, int(id))
	dst = appendString(dst, AttrJailName, name)
	return dst
}

// isoTime formats t as semconv's process.creation.time and
// process.exit.time want it: ISO 8601, UTC, nanosecond precision.
func isoTime(t time.Time) string {
	var buf [len("2006-01-02T15:04:05.000000000Z")]byte
	return string(appendISOTime(buf[:0], t))
}

// appendISOTime appends t as time.RFC3339Nano formats it in UTC, without
// the layout interpreter: each record and span formats one or two.
func appendISOTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	h, mi, s := t.Clock()
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append(b, byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T')
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10))
	if ns := t.Nanosecond(); ns != 0 {
		// Nine digits, trailing zeros left out, as ".999999999" asks.
		var frac [9]byte
		for i := 8; i >= 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 9
		for frac[n-1] == '0' {
			n--
		}
		b = append(append(b, '.'), frac[:n]...)
	}
	return append(b, 'Z')
}

// LifetimeAttributes appends the attributes of l's span to dst and returns
// the extended slice: the process attributes of its last known state, how
// it exited, error.type when it failed, and the lifetime flags.
func LifetimeAttributes(l *Lifetime, dst []attribute.KeyValue) []attribute.KeyValue {
	dst = ProcessAttributes(&l.Process, l.CreationTime(), dst)
	return LifetimeDetailAttributes(l, dst)
}

// LifetimeDetailAttributes appends the attributes of l's span that follow
// the process attributes (ProcessAttributes of l.Process and
// l.CreationTime()).
func LifetimeDetailAttributes(l *Lifetime, dst []attribute.KeyValue) []attribute.KeyValue {
	if l.Exited {
		dst = appendExit(dst, lifetimeOS(l), l.Exit)
		if !l.End.IsZero() {
			dst = append(dst, otelsemconv.ProcessExitTimeKey.String(isoTime(l.End)))
		}
	}
	if isErr, errType, _ := SpanStatus(l); isErr {
		dst = append(dst, otelsemconv.ErrorTypeKey.String(errType))
	}
	if l.Incomplete {
		dst = append(dst, AttrLifetimeIncomplete.Bool(true))
	}
	if l.Seeded {
		dst = append(dst, AttrLifetimeSeeded.Bool(true))
	}
	dst = append(dst,
		AttrLifetimeExecs.Int(len(l.Execs)),
		AttrLifetimeChildren.Int(l.Children))
	return dst
}

// lifetimeOS is the OS a lifetime was observed on; a lifetime from an
// older recording without one is taken as Linux unless it ran in a jail.
func lifetimeOS(l *Lifetime) OS {
	if l.OS != OSUnknown {
		return l.OS
	}
	if l.Process.JailID != 0 || l.Process.JailName != "" {
		return OSFreeBSD
	}
	return OSLinux
}

// SpanName returns the name of l's span: the base name of the final
// executable, else the task name, else "pid <n>".
func SpanName(l *Lifetime) string {
	if l.Process.Exe != "" {
		return path.Base(l.Process.Exe)
	}
	if l.Process.Comm != "" {
		return l.Process.Comm
	}
	return "pid " + strconv.Itoa(int(l.Process.PID))
}

// SpanStatus says whether l's span is an error: the process exited with a
// non-zero code ("exit_code:2") or was killed by a signal ("SIGTERM").
// errorType is the error.type attribute value and description the span
// status description. A process whose exit was not observed is no error.
func SpanStatus(l *Lifetime) (isError bool, errorType string, description string) {
	if !l.Exited || !l.Exit.Failed() {
		return false, "", ""
	}
	if l.Exit.Signal != 0 {
		name := SignalName(lifetimeOS(l), l.Exit.Signal)
		return true, name, exitPhrase(lifetimeOS(l), l.Exit)
	}
	code := strconv.Itoa(int(l.Exit.Code))
	return true, "exit_code:" + code, "exit code " + code
}

// Observer describes the host procotel runs on: its resource.
type Observer struct {
	HostName  string
	HostID    string
	OS        OS
	OSVersion string
	// ServiceVersion is procotel's version.
	ServiceVersion string
}

// ResourceAttributes appends the resource attributes of the observer to
// dst: service.name = procotel, service.version, host.name, host.id,
// os.type and os.version; empty values are left out.
func ResourceAttributes(o Observer, dst []attribute.KeyValue) []attribute.KeyValue {
	dst = append(dst, otelsemconv.ServiceNameKey.String(ServiceName))
	dst = appendString(dst, otelsemconv.ServiceVersionKey, o.ServiceVersion)
	dst = appendString(dst, otelsemconv.HostNameKey, o.HostName)
	dst = appendString(dst, otelsemconv.HostIDKey, o.HostID)
	if o.OS != OSUnknown {
		dst = append(dst, otelsemconv.OSTypeKey.String(o.OS.String()))
	}
	dst = appendString(dst, otelsemconv.OSVersionKey, o.OSVersion)
	return dst
}

// SpanIDs are the ids of one process's span.
type SpanIDs struct {
	TraceID [16]byte
	SpanID  [8]byte
	// ParentSpanID is the parent span in the same trace; zero for a root
	// span without an inherited trace context.
	ParentSpanID [8]byte
	// ParentRemote is true when the parent came from a W3C traceparent.
	ParentRemote bool
	// TraceFlags are the W3C trace flags of the process's records and
	// span: always TraceFlagsSampled (see there why an inherited
	// traceparent's flags are not copied).
	TraceFlags byte
	// Link, when HasLink, is the span of the creating process, which lies
	// in another trace: a trace root links to its parent.
	HasLink     bool
	LinkTraceID [16]byte
	LinkSpanID  [8]byte
}

// SpanContextIDs computes the ids of process p's span from its lineage.
//
// l.Root zero, or p's own key, means p roots its trace. l.TraceParent is
// an inherited W3C trace context ("00-<trace>-<span>-<flags>"), ignored
// when malformed. The creator is l.Creator, or, when the pipeline did not
// know it, the current parent (p.ParentKey()).
//
// The trace id is the traceparent's when one is given (the pipeline passes
// a traceparent only to the processes whose root carries it), otherwise
// TraceID(boot, root). The span id is SpanID(boot, p.Key()). A non-root
// process's parent span is its creator's. A root's parent span is the
// traceparent's span, and a root links to its creator's span, in the
// creator's trace TraceID(boot, l.CreatorRoot or the creator itself),
// unless l.Unlinked.
func SpanContextIDs(boot BootID, p *Process, l Lineage) SpanIDs {
	return spanContextIDs(hasher{boot}, p, l)
}

// spanContextIDs is SpanContextIDs over ids computed by h, a hasher or an
// IDCache; it is generic so that neither pays for an interface call.
func spanContextIDs[H interface {
	SpanID(Key) [8]byte
	TraceID(Key) [16]byte
}](h H, p *Process, l Lineage) SpanIDs {
	self := p.Key()
	root := l.Root
	isRoot := root.IsZero() || root == self
	if isRoot {
		root = self
	}
	ids := SpanIDs{SpanID: h.SpanID(self), TraceFlags: TraceFlagsSampled}
	tpTrace, tpSpan, _, tpOK := ParseTraceParent(l.TraceParent)
	if tpOK {
		ids.TraceID = tpTrace
	} else {
		ids.TraceID = h.TraceID(root)
	}
	creator := l.Creator
	if creator.IsZero() {
		creator = p.ParentKey()
	}
	switch {
	case !isRoot:
		if !creator.IsZero() {
			ids.ParentSpanID = h.SpanID(creator)
		}
	case tpOK:
		ids.ParentSpanID = tpSpan
		ids.ParentRemote = true
	}
	if isRoot && !creator.IsZero() && !l.Unlinked {
		creatorRoot := l.CreatorRoot
		if creatorRoot.IsZero() {
			creatorRoot = creator
		}
		if tid := h.TraceID(creatorRoot); tid != ids.TraceID {
			ids.HasLink = true
			ids.LinkTraceID = tid
			ids.LinkSpanID = h.SpanID(creator)
		}
	}
	return ids
}

// ParseTraceParent parses a W3C traceparent header value of version 00
// ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"). ok is false
// when s is malformed or holds an all-zero id.
func ParseTraceParent(s string) (traceID [16]byte, spanID [8]byte, flags byte, ok bool) {
	// version(2) - trace(32) - span(16) - flags(2)
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return traceID, spanID, 0, false
	}
	if s[:2] == "ff" || (s[:2] == "00" && len(s) != 55) || (len(s) > 55 && s[55] != '-') {
		return traceID, spanID, 0, false
	}
	var f, v [1]byte
	if !decodeLowerHex(v[:], s[:2]) || !decodeLowerHex(traceID[:], s[3:35]) || !decodeLowerHex(spanID[:], s[36:52]) || !decodeLowerHex(f[:], s[53:55]) {
		return [16]byte{}, [8]byte{}, 0, false
	}
	if traceID == ([16]byte{}) || spanID == ([8]byte{}) {
		return [16]byte{}, [8]byte{}, 0, false
	}
	return traceID, spanID, f[0], true
}

func decodeLowerHex(dst []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

// appendString appends k=v unless v is empty.
func appendString(dst []attribute.KeyValue, k attribute.Key, v string) []attribute.KeyValue {
	if v == "" {
		return dst
	}
	return append(dst, k.String(v))
}

// appendInt appends k=v unless v is 0.
func appendInt(dst []attribute.KeyValue, k attribute.Key, v int) []attribute.KeyValue {
	if v == 0 {
		return dst
	}
	return append(dst, k.Int(v))
}
