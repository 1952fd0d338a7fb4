package semconv

import "time"

// Lifetime is one process from creation to exit: what becomes one span.
// The pipeline closes a lifetime when the process exits (or, when
// configured, when procotel shuts down with the process still alive).
type Lifetime struct {
	// Process is the last known state: final executable, argv, creds.
	Process Process
	// Lineage places the process in the trace forest.
	Lineage
	// OS the process ran on; it selects signal names.
	OS OS
	// Start and End are wall-clock creation and exit times. For a process
	// alive at shutdown End is the shutdown time and Incomplete is true.
	Start, End time.Time
	// Created is the process's creation time as its log records state it
	// (process.creation.time: the kernel's start time on the wall clock),
	// where Start is the time of the event that created it; zero means
	// Start.
	Created time.Time
	// Exited is true when the exit was observed; Exit then says how.
	Exited bool
	Exit   ExitInfo
	// Incomplete marks a lifetime flushed at shutdown before its exit.
	Incomplete bool
	// Seeded is true when the process existed before procotel started, so
	// its start and early history were not observed.
	Seeded bool
	// Execs lists the exec attempts made by the process, in order.
	Execs []ExecRecord
	// Children counts the processes it forked while observed.
	Children int
}

// Lineage places a process in the trace forest. The pipeline sets it from
// its process table and the trace-root policy; exporters derive every
// trace, span, parent and link id from it and the process key alone, so
// any component computes the same ids for the same process.
type Lineage struct {
	// Root is the identity of the process whose span roots this process's
	// trace. Zero when the process is its own root.
	Root Key `json:"root,omitzero"`
	// Creator is the process that forked this one (kept when the process
	// is re-parented, except that a re-parented process that does not
	// root its trace has its adopter here); its span is this span's
	// parent, or, when this process roots its own trace, the target of a
	// link. Zero when unknown.
	Creator Key `json:"creator,omitzero"`
	// CreatorRoot is the creator's trace root; zero when the creator is its
	// own root.
	CreatorRoot Key `json:"creator_root,omitzero"`
	// TraceParent holds a W3C trace context inherited from the process
	// environment, when that policy is on and one was found.
	TraceParent string `json:"trace_parent,omitempty"`
	// Unlinked marks a trace root whose creator's span is never exported
	// (the command procotel started itself): the span has no link to it.
	Unlinked bool `json:"unlinked,omitempty"`
}

// Key returns the process identity of the lifetime.
func (l *Lifetime) Key() Key { return l.Process.Key() }

// ExecRecord is one exec attempt in a lifetime.
type ExecRecord struct {
	Time     time.Time
	Filename string
	Exe      string
	Argv     []string
	Errno    int32 // 0 on success
	// ExecFacts of a successful exec.
	ExecFacts
}

// CreationTime is l's process.creation.time: Created, or Start when the
// creation time is not known apart from it.
func (l *Lifetime) CreationTime() time.Time {
	if !l.Created.IsZero() {
		return l.Created
	}
	return l.Start
}
