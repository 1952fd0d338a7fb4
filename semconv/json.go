package semconv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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
// A value whose zero means unknown (ns_pid, start, reap.reaper_pid, ...)
// stays omitted when zero. Decoding needs nothing special: an omitted
// field decodes to zero, so files written before these fields were
// always present read as they did.

// eventFields and processFields are Event and Process without their
// methods, so MarshalJSON can encode them with encoding/json.
type (
	eventFields   Event
	processFields Process
)

type processJSON struct {
	*processFields
	PPID   *int32 `json:"ppid,omitempty"`
	PGID   *int32 `json:"pgid,omitempty"`
	SID    *int32 `json:"sid,omitempty"`
	JailID *int32 `json:"jail_id,omitempty"`
}

// exitJSON is ExitInfo with every field written.
type exitJSON struct {
	Code       int32 `json:"code"`
	Signal     int32 `json:"signal"`
	CoreDumped bool  `json:"core_dumped"`
}

// signalJSON is SignalInfo with every field written.
type signalJSON struct {
	Signo      int32         `json:"signo"`
	Code       int32         `json:"code"`
	SenderPID  int32         `json:"sender_pid"`
	SenderTID  int32         `json:"sender_tid"`
	SenderComm string        `json:"sender_comm"`
	TargetTID  int32         `json:"target_tid"`
	Outcome    SignalOutcome `json:"outcome"`
	Group      bool          `json:"group"`
}

// forkJSON is ForkInfo with the clone flags always written.
type forkJSON struct {
	ParentTID  int32  `json:"parent_tid,omitempty"`
	CloneFlags uint64 `json:"clone_flags"`
}

// eventJSON shadows the fields of eventFields whose encoding depends on
// the kind: a shallower field wins over the embedded one of the same
// name. A nil interface is omitted.
type eventJSON struct {
	*eventFields
	CPU     int32       `json:"cpu"`
	Process processJSON `json:"process"`
	Fork    any         `json:"fork,omitempty"`
	Exit    any         `json:"exit,omitempty"`
	Signal  any         `json:"signal,omitempty"`
}

// MarshalJSON encodes the event as the comment above says.
func (e Event) MarshalJSON() ([]byte, error) {
	v := eventJSON{eventFields: (*eventFields)(&e), CPU: e.CPU}
	p := &e.Process
	v.Process.processFields = (*processFields)(p)
	if p.PID != 0 {
		v.Process.PPID, v.Process.PGID, v.Process.SID = &p.PPID, &p.PGID, &p.SID
	}
	if p.JailID != 0 || e.OS == OSFreeBSD {
		v.Process.JailID = &p.JailID
	}
	switch {
	case e.Kind == KindFork || e.Kind == KindThreadStart:
		v.Fork = forkJSON(e.Fork)
	case e.Fork != ForkInfo{}:
		v.Fork = e.Fork
	}
	switch {
	case e.Kind == KindExit || e.Kind == KindThreadExit:
		v.Exit = exitJSON(e.Exit)
	case e.Exit != ExitInfo{}:
		v.Exit = e.Exit
	}
	switch {
	case e.Kind == KindSignal:
		v.Signal = signalJSON(e.Signal)
	case e.Signal != SignalInfo{}:
		v.Signal = e.Signal
	}
	// The caller's encoder decides on HTML escaping (a recording turns it
	// off); encoding/json applies it to what this returns.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
