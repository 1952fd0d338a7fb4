package semconv

import (
	"fmt"
	"strings"
)

// RootPolicy decides which process starts a new trace; every other process
// joins the trace of its root (the nearest one above it), and its span's
// parent is its creator's span. A process is judged by its current state
// and current parent, so a restarted procotel places it in the same trace
// (pipeline.Config.RootPolicy has the whole rule).
type RootPolicy uint8

// Trace-root policies.
const (
	// RootProcessGroup: a process-group leader starts a trace, so each
	// shell job or daemon is one trace (the default); so does a child of
	// init, such as a daemon re-parented there.
	RootProcessGroup RootPolicy = iota
	// RootSession: a session leader starts a trace (a login, an ssh
	// session); so does a child of init.
	RootSession
	// RootContainer: a process whose parent runs in another container (or
	// on the host) starts a trace, so each container is one trace.
	RootContainer
	// RootNone: every process is its own trace, linked to its parent.
	RootNone
)

var rootPolicyNames = [...]string{"process_group", "session", "container", "none"}

// String returns the policy's configuration name.
func (p RootPolicy) String() string {
	if int(p) < len(rootPolicyNames) {
		return rootPolicyNames[p]
	}
	return fmt.Sprintf("root_policy(%d)", uint8(p))
}

// ParseRootPolicy parses a configuration value ("process_group", "session",
// "container", "none").
func ParseRootPolicy(s string) (RootPolicy, error) {
	for i, n := range rootPolicyNames {
		if n == s {
			return RootPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown trace root policy %q (want one of %s)", s, strings.Join(rootPolicyNames[:], ", "))
}
