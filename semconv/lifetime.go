package semconv

import "time"

// Lifetime is one process from creation to exit: what becomes one span.
// The pipeline closes a lifetime when the process exits (or, when
// configured, when procotel shuts down with the process still alive).
type Lifetime struct {
	// Process is the last known state: final executable, argv, creds.
	Process Process
	// Root is the trace root's identity; zero when the process is its own root.
	Root Key
	// TraceParent is a W3C traceparent inherited from the environment, if any.
	TraceParent string
	// Start and End are wall-clock creation and exit times. For a process
	// alive at shutdown End is the shutdown time and Incomplete is true.
	Start, End time.Time
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

// Key returns the process identity of the lifetime.
func (l *Lifetime) Key() Key { return l.Process.Key() }

// ExecRecord is one exec attempt in a lifetime.
type ExecRecord struct {
	Time     time.Time
	Filename string
	Exe      string
	Argv     []string
	Errno    int32 // 0 on success
}
