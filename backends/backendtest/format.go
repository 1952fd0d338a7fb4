package backendtest

import (
	"fmt"
	"strings"

	"github.com/procotel/procotel/semconv"
)

// FormatEvent renders an event on one line with the fields the suite
// checks, for failure messages.
func FormatEvent(e semconv.Event) string {
	var b strings.Builder
	p := &e.Process
	fmt.Fprintf(&b, "%s pid=%d tid=%d ppid=%d comm=%q start=%d boot=%d time=%s uid=%d gid=%d sid=%d os=%s",
		e.Kind, p.PID, p.TID, p.PPID, p.Comm, p.Start, e.BootNS, e.Time.Format("15:04:05.000000"),
		p.UID, p.GID, p.SID, e.OS)
	switch e.Kind {
	case semconv.KindFork:
		fmt.Fprintf(&b, " parent_tid=%d flags=%#x", e.Fork.ParentTID, e.Fork.CloneFlags)
	case semconv.KindExec, semconv.KindExecAttempt:
		fmt.Fprintf(&b, " filename=%q exe=%q argv=%s truncated=%t process.argv=%s old_tid=%d",
			e.Exec.Filename, p.Exe, shortArgv(e.Exec.Argv), e.Exec.ArgvTruncated, shortArgv(p.Argv), e.Exec.OldTID)
	case semconv.KindExecFailed:
		fmt.Fprintf(&b, " filename=%q argv=%s errno=%d (%s)",
			e.Exec.Filename, shortArgv(e.Exec.Argv), e.Exec.Errno, semconv.ErrnoName(e.OS, e.Exec.Errno))
	case semconv.KindExit:
		fmt.Fprintf(&b, " code=%d signal=%d core=%t", e.Exit.Code, e.Exit.Signal, e.Exit.CoreDumped)
	case semconv.KindReap:
		fmt.Fprintf(&b, " reaper=%d", e.Reap.ReaperPID)
	case semconv.KindSignal:
		fmt.Fprintf(&b, " signo=%d (%s) sender=%d outcome=%s",
			e.Signal.Signo, semconv.SignalName(e.OS, e.Signal.Signo), e.Signal.SenderPID, e.Signal.Outcome)
	}
	return b.String()
}

// formatEvents renders events one per line, indented, or "(none)".
func formatEvents(evs []semconv.Event) string {
	if len(evs) == 0 {
		return " (none)"
	}
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("\n\t\t")
		b.WriteString(FormatEvent(e))
	}
	return b.String()
}

// shortArgv quotes argv, eliding the middle of long ones.
func shortArgv(argv []string) string {
	const keep = 3
	q := func(xs []string) string {
		parts := make([]string, len(xs))
		for i, x := range xs {
			if len(x) > 40 {
				x = x[:37] + "..."
			}
			parts[i] = fmt.Sprintf("%q", x)
		}
		return strings.Join(parts, " ")
	}
	if argv == nil {
		return "[]"
	}
	if len(argv) <= 2*keep {
		return "[" + q(argv) + "]"
	}
	return fmt.Sprintf("[%s ...%d more... %s]", q(argv[:keep]), len(argv)-2*keep, q(argv[len(argv)-keep:]))
}
