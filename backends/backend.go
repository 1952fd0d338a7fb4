// Package backends defines what a kernel event source is (Backend), what it
// can see (Capabilities) and what it lost (Stats), and selects one by name.
// Implementations live in linux/ and freebsd/; replay/ reads recorded
// JSON lines. Backends see only semconv types, never OpenTelemetry.
package backends

import (
	"context"
	"errors"

	"github.com/procotel/procotel/semconv"
)

// Backend is a source of process lifecycle events.
//
// The life of a backend is: Start (attach to the kernel), Run (deliver
// events until the context ends), Close. Stats may be called concurrently
// with all of them. Close is idempotent and may be called without Start.
type Backend interface {
	// Name is the backend's selection name ("ebpf", "dtrace", "replay").
	Name() string
	// Capabilities says what the backend can observe; valid after Start.
	Capabilities() Capabilities
	// Start attaches to the kernel. When it returns nil, every event that
	// happens from then on will be delivered by Run, or counted as lost.
	// A missing privilege or kernel feature is reported as a
	// *MissingFeatureError (or wraps one).
	Start(ctx context.Context) error
	// Run first sends one KindExisting event for every process that was
	// alive at Start, then every event as it happens, on out, until ctx
	// ends or the source fails (returning the error). It flushes out
	// whenever its source has nothing more at hand, so no event waits for
	// a batch to fill. When ctx ends, Run still sends what the kernel had
	// already produced (it drains its buffer without waiting for more),
	// flushes and then returns nil: the caller keeps receiving from out
	// until Run returns, then closes out. Close makes a Run blocked on out
	// return at once (Run calls out.StopOn with its own stop channel).
	// Run blocks on out when it is full: the kernel buffer behind it
	// absorbs bursts and its overflow is counted per kind in Stats.Lost.
	Run(ctx context.Context, out *semconv.Queue) error
	// Stats returns the counters so far. Safe for concurrent use.
	Stats() Stats
	// Close detaches from the kernel and frees resources.
	Close() error
}

// Capabilities describes what a backend can observe.
type Capabilities struct {
	OS semconv.OS
	// Boot names this boot of this host; every derived id is salted with it.
	Boot semconv.BootID
	// Clock converts the backend's BootNS to wall-clock time.
	Clock semconv.Clock
	// Kinds lists the event kinds the backend produces, as configured.
	Kinds []semconv.Kind
	// Fields the backend fills in its events.
	Argv, Exe, Cwd, Creds, TTY, NSPID bool
	CloneFlags, ExitSignal, CoreDump  bool
	SignalOutcome, SignalSender       bool
	Containers, Jails                 bool
	// Notes lists, in plain words, what this backend cannot see.
	Notes []string
	// Warnings lists, one line each, what the operator should know about
	// this start: something the backend changed on the host (it mounted
	// tracefs) or left out because of the host (a missing privilege or
	// file), with how to fix it. Callers print every line at start-up;
	// the standalone binary on stderr, the Collector receiver as a
	// logged warning.
	Warnings []string
}

// Has reports whether the backend produces kind k.
func (c Capabilities) Has(k semconv.Kind) bool {
	for _, x := range c.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Stats are a backend's counters. Every event the kernel produced is either
// in Received or in Lost; decode failures are counted, never dropped
// silently.
type Stats struct {
	// Received counts events read from the kernel, per kind.
	Received [semconv.NumKinds]uint64
	// Lost counts events the kernel could not hand over (buffer full), per
	// kind. Lost[KindInvalid] counts losses whose kind the kernel did not
	// say (DTrace drops are per buffer, not per probe).
	Lost [semconv.NumKinds]uint64
	// DecodeErrors counts records that could not be decoded.
	DecodeErrors uint64
	// Truncated counts records with a field cut at its capture limit (argv, path).
	Truncated uint64
	// Existing counts processes seeded at start.
	Existing uint64
	// HashUnavailable counts exec events whose executable could not be
	// read for its hash (gone before it was read, or unreadable).
	HashUnavailable uint64
	// ReapsInferred counts reaps the kernel did not report in time, which
	// the backend inferred from the process being gone (Reap.Inferred);
	// LateReapsDropped counts the kernel's reports that came after such an
	// inference and were left out as duplicates.
	ReapsInferred, LateReapsDropped uint64
	// Throttled counts execs counted instead of reported because their
	// cgroup passed Options.ExecRateLimit; the throttle events' stop
	// records carry them per cgroup.
	Throttled uint64
}

// TotalReceived sums Received over kinds.
func (s Stats) TotalReceived() uint64 { return sum(s.Received[:]) }

// TotalLost sums Lost over kinds.
func (s Stats) TotalLost() uint64 { return sum(s.Lost[:]) }

func sum(xs []uint64) uint64 {
	var t uint64
	for _, x := range xs {
		t += x
	}
	return t
}

// ErrNotSupported is returned (wrapped) when a backend cannot run on this
// operating system at all.
var ErrNotSupported = errors.New("not supported on this operating system")

// MissingFeatureError says which privilege or kernel feature a backend needs
// and did not find.
type MissingFeatureError struct {
	Backend string
	// Feature names what is missing: a capability ("CAP_PERFMON"), a file
	// or a kernel feature ("BTF (/sys/kernel/btf/vmlinux)"). A refusal
	// for want of privilege names the privilege, never the kernel.
	Feature string
	Hint    string // what to do about it
}

func (e *MissingFeatureError) Error() string {
	s := e.Backend + " backend needs " + e.Feature
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}
