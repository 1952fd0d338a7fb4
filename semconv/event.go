// Package semconv owns procotel's event schema: the kinds of process
// lifecycle events, the fields each carries, process identity, the ids
// derived from it, and (in later files) the mapping of events onto
// OpenTelemetry attributes. It is the only package whose types cross
// package boundaries: backends produce these values, the pipeline enriches
// them, sinks consume them.
package semconv

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Kind is the kind of a process lifecycle event.
type Kind uint8

// The event kinds. The zero value is invalid.
const (
	KindInvalid Kind = iota
	// KindFork: a new process (thread group) was created. The event's
	// Process is the child; Fork names the parent thread and clone flags.
	KindFork
	// KindStart: the new process ran for the first time (opt-in).
	KindStart
	// KindExecAttempt: a process asked to execute a file. Backends that
	// cannot pair attempts with results in the kernel emit it; the pipeline
	// merges it into the following KindExec or KindExecFailed and never
	// passes it to sinks.
	KindExecAttempt
	// KindExec: an exec succeeded; Process carries the new image.
	KindExec
	// KindExecFailed: an exec failed; Exec.Errno says why.
	KindExecFailed
	// KindExit: the last thread of a process exited; Exit says how.
	KindExit
	// KindReap: the process was released (waited for, or auto-reaped).
	KindReap
	// KindSignal: a signal was generated for, delivered to, ignored or
	// discarded by, or cleared from a process.
	KindSignal
	// KindThreadStart and KindThreadExit are the opt-in thread class: a
	// thread inside an existing process started or ended.
	KindThreadStart
	KindThreadExit
	// KindExisting is a snapshot of a process that was alive when the
	// backend started. The pipeline adds it to its table; sinks never
	// receive it as an event.
	KindExisting
	// KindThrottle: the execs of one cgroup passed the configured rate
	// and are counted instead of reported one by one (Throttle says
	// which cgroup, the phase and the count). It is about a cgroup, not
	// a process: Process holds only the cgroup and its container.
	KindThrottle

	kindCount
)

// NumKinds is the number of kinds, for arrays indexed by Kind.
const NumKinds = int(kindCount)

var kindNames = [...]string{
	KindInvalid:     "invalid",
	KindFork:        "fork",
	KindStart:       "start",
	KindExecAttempt: "exec_attempt",
	KindExec:        "exec",
	KindExecFailed:  "exec_failed",
	KindExit:        "exit",
	KindReap:        "reap",
	KindSignal:      "signal",
	KindThreadStart: "thread_start",
	KindThreadExit:  "thread_exit",
	KindExisting:    "existing",
	KindThrottle:    "throttle",
}

// String returns the kind's schema name, such as "exec_failed".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k > KindInvalid && k < kindCount }

// ParseKind returns the kind named s ("fork", "exec_failed", ...).
func ParseKind(s string) (Kind, error) {
	for k := KindFork; k < kindCount; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return KindInvalid, fmt.Errorf("unknown event kind %q (want one of %s)", s, kindList())
}

func kindList() string {
	s := ""
	for k := KindFork; k < kindCount; k++ {
		if k == KindExecAttempt || k == KindExisting {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += kindNames[k]
	}
	return s
}

// Kinds returns the kinds a user can see and filter on, in schema order.
func Kinds() []Kind {
	out := make([]Kind, 0, NumKinds)
	for k := KindFork; k < kindCount; k++ {
		if k != KindExecAttempt && k != KindExisting {
			out = append(out, k)
		}
	}
	return out
}

// Creds are a process's credentials.
type Creds struct {
	UID  uint32 `json:"uid"`
	EUID uint32 `json:"euid"`
	GID  uint32 `json:"gid"`
	EGID uint32 `json:"egid"`
}

// Process is what is known of the process an event is about, at the time
// of the event. Backends fill what the kernel said; the pipeline fills the
// rest from its process table.
type Process struct {
	PID  int32 `json:"pid,omitempty"`  // thread-group id
	TID  int32 `json:"tid,omitempty"`  // the thread that caused the event
	PPID int32 `json:"ppid,omitempty"` // parent's thread-group id (real parent)
	// NSPID is the pid inside the process's own pid namespace, 0 if unknown.
	NSPID int32 `json:"ns_pid,omitempty"`
	// Start is the creation time in nanoseconds since boot, as precise as
	// the backend knows it. Identity uses it truncated (see Key).
	Start uint64 `json:"start,omitempty"`
	// ParentStart is the parent's creation time, when known, so that the
	// parent's Key can be formed.
	ParentStart uint64 `json:"parent_start,omitempty"`
	Creds
	PGID int32  `json:"pgid,omitempty"`
	SID  int32  `json:"sid,omitempty"`
	TTY  string `json:"tty,omitempty"`  // controlling terminal, "pts/3"; empty when none
	Comm string `json:"comm,omitempty"` // kernel task name (at most 15 bytes on Linux)

	Exe           string   `json:"exe,omitempty"`            // resolved executable path
	Argv          []string `json:"argv,omitempty"`           // argument vector of the current image
	ArgvTruncated bool     `json:"argv_truncated,omitempty"` // argv was longer than the capture limit
	Cwd           string   `json:"cwd,omitempty"`

	// Linux: cgroup v2 id and path, and the container derived from it.
	CgroupID      uint64 `json:"cgroup_id,omitempty"`
	CgroupPath    string `json:"cgroup_path,omitempty"`
	ContainerID   string `json:"container_id,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
	// Runtime that owns the container: docker, containerd, cri-o, podman,
	// systemd (a systemd service or scope), ...
	ContainerRuntime string `json:"container_runtime,omitempty"`

	// FreeBSD: the jail the process runs in; 0 is the host.
	JailID   int32  `json:"jail_id,omitempty"`
	JailName string `json:"jail_name,omitempty"`

	// LoginUID and AuditSessionID are the audit login uid and session,
	// set at login (pam_loginuid) and inherited; none when unset.
	LoginUID       AuditID `json:"login_uid,omitempty"`
	AuditSessionID AuditID `json:"audit_session_id,omitempty"`
}

// AuditID is an audit login uid or session id, or none. The zero value is
// none; MakeAuditID turns the kernel's value (4294967295 for unset) into
// one. It is written to JSON as the id itself.
type AuditID uint64

// AuditUnset is the kernel's value of an unset login uid or session id.
const AuditUnset = ^uint32(0)

// MakeAuditID returns the AuditID of the kernel's value v.
func MakeAuditID(v uint32) AuditID {
	if v == AuditUnset {
		return 0
	}
	return AuditID(v) + 1
}

// Get returns the id and whether there is one.
func (a AuditID) Get() (id uint32, ok bool) {
	if a == 0 {
		return 0, false
	}
	return uint32(a - 1), true
}

// Key returns the identity of the process.
func (p *Process) Key() Key { return KeyOf(p.PID, p.Start) }

// Equal reports whether p and q hold the same values in every field.
func (p *Process) Equal(q *Process) bool {
	return p.PID == q.PID && p.TID == q.TID && p.PPID == q.PPID && p.NSPID == q.NSPID &&
		p.Start == q.Start && p.ParentStart == q.ParentStart && p.Creds == q.Creds &&
		p.PGID == q.PGID && p.SID == q.SID && p.TTY == q.TTY && p.Comm == q.Comm &&
		p.Exe == q.Exe && slices.Equal(p.Argv, q.Argv) && p.ArgvTruncated == q.ArgvTruncated &&
		p.Cwd == q.Cwd && p.CgroupID == q.CgroupID && p.CgroupPath == q.CgroupPath &&
		p.ContainerID == q.ContainerID && p.ContainerName == q.ContainerName &&
		p.ContainerRuntime == q.ContainerRuntime && p.JailID == q.JailID && p.JailName == q.JailName &&
		p.LoginUID == q.LoginUID && p.AuditSessionID == q.AuditSessionID
}

// ParentKey returns the identity of the process's parent; zero if the
// parent's start time is unknown.
func (p *Process) ParentKey() Key {
	if p.PPID == 0 || p.ParentStart == 0 {
		return Key{}
	}
	return KeyOf(p.PPID, p.ParentStart)
}

// ForkInfo is the fork-specific part of an event.
type ForkInfo struct {
	ParentTID  int32  `json:"parent_tid,omitempty"`  // the thread that called fork/clone
	CloneFlags uint64 `json:"clone_flags,omitempty"` // clone(2) or rfork(2) flags, as the kernel reported them
}

// ExecInfo is the exec-specific part of an event.
type ExecInfo struct {
	// Filename is the path the caller passed to execve/execveat.
	Filename string `json:"filename,omitempty"`
	// Argv is the argument vector the caller passed (for a failed exec the
	// only record of it; for a successful one also in Process.Argv).
	Argv          []string `json:"argv,omitempty"`
	ArgvTruncated bool     `json:"argv_truncated,omitempty"`
	// Errno is the error of a failed exec (ENOENT = 2, EACCES = 13, ...).
	Errno int32 `json:"errno,omitempty"`
	// OldTID is the thread that called exec when it was not the leader;
	// after exec it holds the leader's id. 0 when the leader called it.
	OldTID int32 `json:"old_tid,omitempty"`
	// Interpreter is set when the kernel ran a script through its #!
	// interpreter (the resolved executable is then the interpreter).
	Interpreter string `json:"interpreter,omitempty"`

	// ExecFacts are the security facts of a successful exec; in JSON
	// its fields sit beside the others.
	ExecFacts
}

// ExecFacts are the security facts of a successful exec.
type ExecFacts struct {
	// SetUID (SetGID): the file is
	// set-user-ID (set-group-ID) and the exec changed the effective uid
	// (gid). Memfd: the executable is a memfd (fileless). Deleted: the
	// file had no links left (a memfd is reported as Memfd only).
	SetUID  bool `json:"setuid,omitempty"`
	SetGID  bool `json:"setgid,omitempty"`
	Memfd   bool `json:"memfd,omitempty"`
	Deleted bool `json:"deleted,omitempty"`
	// HTLHash is the executable's process.executable.build_id.htlhash;
	// SHA256 its full SHA-256 (opt-in), both lowercase hex.
	HTLHash string `json:"htlhash,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// Env holds the environment variables of the new image that the
	// capture allowlist names, "NAME=value".
	Env []string `json:"env,omitempty"`
	// ParentExe is the parent's executable at the time of the exec.
	ParentExe string `json:"parent_exe,omitempty"`
	// Stdin is what fd 0 was at the exec: StdinTTY, StdinPipe, ...
	Stdin string `json:"stdin,omitempty"`
}

// The values of ExecInfo.Stdin.
const (
	StdinTTY        = "tty"
	StdinPipe       = "pipe"
	StdinSocket     = "socket"
	StdinFile       = "file"
	StdinCharDevice = "char_device"
	StdinNone       = "none"
	StdinOther      = "other"
)

// ExitInfo is the exit-specific part of an event, decoded once per
// process, never per thread.
type ExitInfo struct {
	Code       int32 `json:"code,omitempty"`   // exit code, when exited normally
	Signal     int32 `json:"signal,omitempty"` // terminating signal, 0 when exited normally
	CoreDumped bool  `json:"core_dumped,omitempty"`
}

// Failed reports whether the exit is an error: a non-zero code or death by
// a signal.
func (x ExitInfo) Failed() bool { return x.Code != 0 || x.Signal != 0 }

// SignalOutcome is what happened to a signal.
type SignalOutcome uint8

// Signal outcomes.
const (
	SignalGenerated SignalOutcome = iota + 1
	SignalDelivered
	SignalIgnored
	SignalDiscarded // already pending, queue overflow, or lost info
	SignalCleared
)

var outcomeNames = [...]string{"", "generated", "delivered", "ignored", "discarded", "cleared"}

// String returns the outcome's schema name.
func (o SignalOutcome) String() string {
	return enumName(outcomeNames[:], o, "outcome")
}

// enumName returns names[v], or what(v) for a value without a name (0 has
// none: names[0] is "").
func enumName[T ~uint8](names []string, v T, what string) string {
	if int(v) < len(names) && v != 0 {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", what, uint8(v))
}

// SignalInfo is the signal-specific part of an event. The event's Process
// is the target.
type SignalInfo struct {
	Signo      int32         `json:"signo,omitempty"`
	Code       int32         `json:"code,omitempty"`       // si_code
	SenderPID  int32         `json:"sender_pid,omitempty"` // 0 when the kernel sent it
	SenderTID  int32         `json:"sender_tid,omitempty"`
	SenderComm string        `json:"sender_comm,omitempty"`
	TargetTID  int32         `json:"target_tid,omitempty"`
	Outcome    SignalOutcome `json:"outcome,omitempty"`
	// Group is true when the signal was sent to the whole process.
	Group bool `json:"group,omitempty"`
}

// ReapInfo is the reap-specific part of an event.
type ReapInfo struct {
	ReaperPID int32 `json:"reaper_pid,omitempty"` // the process that waited for it; 0 if auto-reaped or unknown
	// Inferred says the kernel did not report this reap in time and the
	// backend found the process gone (released, its pid free or reused)
	// instead; Time is then when it found so, not when the reap happened.
	Inferred bool `json:"inferred,omitempty"`
}

// ThrottlePhase says whether a throttle began or ended.
type ThrottlePhase uint8

// Throttle phases.
const (
	ThrottleStart ThrottlePhase = iota + 1
	ThrottleStop
)

var phaseNames = [...]string{"", "start", "stop"}

// String returns the phase's schema name, "start" or "stop".
func (p ThrottlePhase) String() string {
	return enumName(phaseNames[:], p, "phase")
}

// ThrottleInfo is the throttle-specific part of an event. A throttle of
// a cgroup starts at the first exec past Limit execs in one second; from
// then on its execs beyond Limit a second are counted, not reported, and
// it stops after a whole second with none counted. The stop's Suppressed
// is the number of execs counted since the start. Exits, reaps and the
// other kinds are never throttled.
type ThrottleInfo struct {
	CgroupID   uint64        `json:"cgroup_id,omitempty"`
	Phase      ThrottlePhase `json:"phase,omitempty"`
	Suppressed uint64        `json:"suppressed,omitempty"`
	// Limit is the configured rate, execs per cgroup per second.
	Limit uint32 `json:"limit,omitempty"`
}

// Event is one process lifecycle event. Only the part matching Kind is
// meaningful among Fork, Exec, Exit, Signal and Reap.
type Event struct {
	Kind Kind `json:"kind"`
	// Time is when it happened, wall clock, from the kernel clock
	// converted once by the backend.
	Time time.Time `json:"time"`
	// BootNS is the kernel's clock (nanoseconds since boot) at the event;
	// the pipeline orders events by it.
	BootNS uint64 `json:"boot_ns,omitempty"`
	// CPU the event was recorded on, -1 if unknown.
	CPU int32 `json:"cpu,omitempty"`
	// OS the event was observed on; it selects signal and errno names.
	OS OS `json:"os,omitempty"`

	Process Process `json:"process,omitempty"`

	Fork   ForkInfo   `json:"fork,omitzero"`
	Exec   ExecInfo   `json:"exec,omitzero"`
	Exit   ExitInfo   `json:"exit,omitzero"`
	Signal SignalInfo `json:"signal,omitzero"`
	Reap   ReapInfo   `json:"reap,omitzero"`
	// Throttle is the throttle-specific part.
	Throttle ThrottleInfo `json:"throttle,omitzero"`

	// Lineage places the process in the trace forest; set by the pipeline.
	Lineage
}

// String returns the id, or "none".
func (a AuditID) String() string {
	if v, ok := a.Get(); ok {
		return strconv.FormatUint(uint64(v), 10)
	}
	return "none"
}
