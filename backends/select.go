package backends

import (
	"fmt"
	"strings"
)

// Options are the settings every backend understands. A backend ignores
// what it cannot do and says so in Capabilities.Notes.
type Options struct {
	// ArgvMax is the largest argv, in bytes, captured per exec; longer
	// ones are cut and flagged. 0 means DefaultArgvMax.
	ArgvMax int
	// Threads turns on the thread class (thread_start, thread_exit).
	Threads bool
	// StartEvents turns on the opt-in start kind.
	StartEvents bool
	// SignalDeliver adds delivery events to the generation events.
	SignalDeliver bool
	// SignalsAll reports every signal. By default two kinds of signal
	// are left out: SIGCHLD, which every exit generates, and the signals
	// a process's runtime sends to itself to run its own threads (Go's
	// SIGURG preemption, the SIGPROF and SIGVTALRM of profiling and
	// interval timers, glibc's internal signals 32 and 33). Other
	// signals a process sends itself (a fault's SIGSEGV, abort's SIGABRT,
	// SIGPIPE, raise) are always reported.
	SignalsAll bool
	// NoExecFailures leaves failed execs out. On Linux the syscall
	// tracepoints that see them put every task on the host on the slow
	// syscall path while attached (see the README's cost figures); with
	// this set the eBPF backend attaches none.
	NoExecFailures bool
	// BufferSize is the kernel buffer in bytes; 0 means the backend's default.
	BufferSize int
	// Jails restricts a jail-aware backend to these jail ids in the kernel.
	Jails []int32
	// TraceParent makes the backend look for TRACEPARENT in the
	// environment of every successful exec and put it in
	// Event.TraceParent, so the process joins that trace.
	TraceParent bool
	// Env lists the environment variables an exec reports (Exec.Env):
	// names, or prefixes ending in "*". Empty reports none.
	Env []string
	// ExecSHA256 adds the full SHA-256 of each executable (Exec.SHA256)
	// up to ExecSHA256Max bytes (0: DefaultExecSHA256Max); larger files
	// get none.
	ExecSHA256    bool
	ExecSHA256Max int64
	// ExecRateLimit is the number of execs per cgroup per second
	// reported one by one; past it a cgroup's execs are counted
	// (Stats.Throttled) and reported by a throttle start and stop event
	// (semconv.KindThrottle). Exits, reaps and the other kinds are never
	// throttled. 0 turns throttling off.
	ExecRateLimit int
}

// DefaultExecSHA256Max is the default size cap of ExecSHA256: 64 MiB.
const DefaultExecSHA256Max = 64 << 20

// DefaultArgvMax is the default argv capture limit: 16 KiB.
const DefaultArgvMax = 16 << 10

// ArgvLimit returns o.ArgvMax or its default.
func (o Options) ArgvLimit() int {
	if o.ArgvMax <= 0 {
		return DefaultArgvMax
	}
	return o.ArgvMax
}

// Factory makes a backend of one kind. Source is the text after "name:" in
// a selection such as "replay:events.jsonl"; empty when none was given.
type Factory struct {
	Name string
	// Auto says whether "auto" may pick this backend; auto tries factories
	// in order and takes the first that starts.
	Auto bool
	New  func(source string, opts Options) (Backend, error)
}

// New returns the backend named by sel ("auto", "ebpf", "replay:FILE", ...)
// from the given factories. For "auto" it returns the first automatic
// factory's backend; Start reports whether it can run.
func New(sel string, opts Options, factories []Factory) (Backend, error) {
	name, source, _ := strings.Cut(sel, ":")
	if name == "" || name == "auto" {
		for _, f := range factories {
			if f.Auto {
				return f.New(source, opts)
			}
		}
		return nil, fmt.Errorf("backend auto: no backend for this operating system (%w)", ErrNotSupported)
	}
	var names []string
	for _, f := range factories {
		if f.Name == name {
			return f.New(source, opts)
		}
		names = append(names, f.Name)
	}
	return nil, fmt.Errorf("backend %q: unknown (available: auto, %s)", name, strings.Join(names, ", "))
}
