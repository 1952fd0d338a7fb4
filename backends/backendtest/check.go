package backendtest

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/backendtest/truth"
	"github.com/procotel/procotel/semconv"
)

// TimeSlack is how far outside the workload's wall-clock window an event's
// Time may fall.
const TimeSlack = time.Second

// Findings is the outcome of checking a backend's events against a
// workload's ground truth.
type Findings struct {
	// Failures are the mismatches, each with what was expected and the
	// events that were seen instead.
	Failures []string
	// Skipped names the checks that were not made, and why (the backend
	// says it cannot see the field or kind).
	Skipped []string
}

// OK reports whether there were no failures.
func (f *Findings) OK() bool { return len(f.Failures) == 0 }

func (f *Findings) failf(format string, args ...any) {
	f.Failures = append(f.Failures, fmt.Sprintf(format, args...))
}

func (f *Findings) skip(msg string) {
	if !slices.Contains(f.Skipped, msg) {
		f.Skipped = append(f.Skipped, msg)
	}
}

// Check compares the events a backend produced while a workload ran with
// the workload's ground truth. events may hold anything the backend
// delivered in that time; Check keeps the events of the workload's
// processes: those in rep.Procs and, through fork events, every process
// they created. It checks, for each process, its fork (pid and parent),
// each exec (filename, resolved executable, argv or its truncation at
// opts.ArgvLimit(), old thread id), each failed exec (errno, filename,
// argv), exactly one exit (code, signal, core dump, parent and session at
// exit), exactly one reap (reaper), the order fork ≤ exec ≤ exit ≤ reap by
// BootNS, and on every event the common fields (Start non-zero and the same
// on all events of the process, Time within the run's window ± TimeSlack,
// credentials, Comm, OS). It then checks every signal the workload sent
// and every exec that failed in a child whose pid the workload could not
// learn. Checks of a kind or field the backend's Capabilities leave out
// are listed in Findings.Skipped.
func Check(rep truth.Report, caps backends.Capabilities, opts backends.Options, events []semconv.Event) Findings {
	c := &checker{rep: rep, caps: caps, limit: opts.ArgvLimit(), f: &Findings{}}
	c.events = Relevant(rep, Normalize(events))
	c.byPID = map[int32][]semconv.Event{}
	for _, e := range c.events {
		c.byPID[e.Process.PID] = append(c.byPID[e.Process.PID], e)
	}
	c.known = map[int32]truth.Proc{}
	for _, p := range rep.Procs {
		c.known[p.PID] = p
	}
	for _, p := range rep.Procs {
		c.checkProc(p)
	}
	c.checkOrphans()
	c.checkSignals()
	for _, e := range c.events {
		c.checkCommon(e)
	}
	return *c.f
}

// Normalize prepares a backend's events for checking: it drops the kinds
// the suite does not check (existing, start, thread events), merges each
// exec attempt into the exec or failed exec that follows it in the same
// process (filling the filename and argv the result lacks), and orders
// the events by BootNS, keeping delivery order among equal times.
func Normalize(events []semconv.Event) []semconv.Event {
	out := make([]semconv.Event, 0, len(events))
	pending := map[int32]semconv.ExecInfo{} // attempt per pid, not yet merged
	for _, e := range events {
		switch e.Kind {
		case semconv.KindExisting, semconv.KindStart, semconv.KindThreadStart, semconv.KindThreadExit:
			continue
		case semconv.KindExecAttempt:
			pending[e.Process.PID] = e.Exec
			continue
		case semconv.KindExec, semconv.KindExecFailed:
			if a, ok := pending[e.Process.PID]; ok {
				delete(pending, e.Process.PID)
				if e.Exec.Filename == "" {
					e.Exec.Filename = a.Filename
				}
				if e.Exec.Argv == nil {
					e.Exec.Argv, e.Exec.ArgvTruncated = a.Argv, a.ArgvTruncated
				}
			}
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].BootNS < out[j].BootNS })
	return out
}

// Relevant returns the events about the workload's processes: those whose
// Process.PID is in rep.Procs, or was forked (transitively) by one of them.
func Relevant(rep truth.Report, events []semconv.Event) []semconv.Event {
	pids := map[int32]bool{}
	for _, p := range rep.Procs {
		pids[p.PID] = true
	}
	for grew := true; grew; {
		grew = false
		for _, e := range events {
			if e.Kind == semconv.KindFork && pids[e.Process.PPID] && !pids[e.Process.PID] {
				pids[e.Process.PID] = true
				grew = true
			}
		}
	}
	var out []semconv.Event
	for _, e := range events {
		if pids[e.Process.PID] {
			out = append(out, e)
		}
	}
	return out
}

type checker struct {
	rep    truth.Report
	caps   backends.Capabilities
	limit  int
	f      *Findings
	events []semconv.Event
	byPID  map[int32][]semconv.Event
	known  map[int32]truth.Proc
	// commAt holds, per process whose execs matched, the boot time and
	// expected comm from each exec on.
	commAt map[int32][]commFrom
}

type commFrom struct {
	boot uint64
	comm string
}

// has reports whether the backend produces kind k, and notes the skip
// when it does not.
func (c *checker) has(k semconv.Kind, what string) bool {
	if c.caps.Has(k) {
		return true
	}
	c.f.skip(fmt.Sprintf("%s not checked: the backend does not produce %s events", what, k))
	return false
}

// field reports whether the backend fills a field, and notes the skip
// when it does not.
func (c *checker) field(ok bool, capability, what string) bool {
	if !ok {
		c.f.skip(fmt.Sprintf("%s not checked: Capabilities.%s is false", what, capability))
	}
	return ok
}

func ofKind(evs []semconv.Event, k semconv.Kind) []semconv.Event {
	var out []semconv.Event
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func label(p truth.Proc) string { return fmt.Sprintf("pid %d (%s)", p.PID, p.Role) }

func (c *checker) checkProc(p truth.Proc) {
	evs := c.byPID[p.PID]
	name := label(p)
	if c.has(semconv.KindFork, "fork events") {
		forks := ofKind(evs, semconv.KindFork)
		switch {
		case len(forks) != 1:
			c.f.failf("%s: want exactly one fork event with ppid %d, got %d:%s", name, p.PPID, len(forks), formatEvents(forks))
		case forks[0].Process.PPID != p.PPID:
			c.f.failf("%s: fork event has ppid %d, want %d:%s", name, forks[0].Process.PPID, p.PPID, formatEvents(forks))
		}
	}
	if c.has(semconv.KindExec, "exec events") {
		c.checkExecs(p, ofKind(evs, semconv.KindExec))
	}
	if c.has(semconv.KindExecFailed, "exec_failed events") {
		c.checkExecFailures(p, ofKind(evs, semconv.KindExecFailed))
	}
	if c.has(semconv.KindExit, "exit events") {
		c.checkExit(p, ofKind(evs, semconv.KindExit))
	}
	if c.has(semconv.KindReap, "reap events") {
		c.checkReap(p, ofKind(evs, semconv.KindReap))
	}
	c.checkOrder(name, evs)
}

func (c *checker) checkExecs(p truth.Proc, execs []semconv.Event) {
	name := label(p)
	if len(execs) != len(p.Execs) {
		var want []string
		for _, x := range p.Execs {
			want = append(want, fmt.Sprintf("%q %s", x.Filename, shortArgv(x.Argv)))
		}
		c.f.failf("%s: want %d exec events [%s], got %d:%s", name, len(p.Execs), strings.Join(want, ", "), len(execs), formatEvents(execs))
		return
	}
	var comms []commFrom
	for i, x := range p.Execs {
		e := execs[i]
		var bad []string
		if e.Exec.Filename != x.Filename {
			bad = append(bad, fmt.Sprintf("filename %q, want %q", e.Exec.Filename, x.Filename))
		}
		if c.field(c.caps.Exe, "Exe", "resolved executable path (Process.Exe)") && e.Process.Exe != x.Exe {
			bad = append(bad, fmt.Sprintf("exe %q, want %q", e.Process.Exe, x.Exe))
		}
		if c.field(c.caps.Argv, "Argv", "argv") {
			if msg := argvProblem(e.Exec.Argv, e.Exec.ArgvTruncated, x.Argv, c.limit); msg != "" {
				bad = append(bad, "Exec.Argv: "+msg)
			}
			if msg := argvProblem(e.Process.Argv, e.Process.ArgvTruncated, x.Argv, c.limit); msg != "" {
				bad = append(bad, "Process.Argv: "+msg)
			}
		}
		if e.Exec.OldTID != x.OldTID {
			bad = append(bad, fmt.Sprintf("old tid %d, want %d", e.Exec.OldTID, x.OldTID))
		}
		if len(bad) > 0 {
			c.f.failf("%s: exec %d of %d: %s:%s", name, i+1, len(p.Execs), strings.Join(bad, "; "), formatEvents([]semconv.Event{e}))
		}
		comms = append(comms, commFrom{boot: e.BootNS, comm: commOf(e.OS, x.Filename)})
	}
	if c.commAt == nil {
		c.commAt = map[int32][]commFrom{}
	}
	c.commAt[p.PID] = comms
}

func (c *checker) checkExecFailures(p truth.Proc, fails []semconv.Event) {
	name := label(p)
	if len(fails) != len(p.ExecFailures) {
		var want []string
		for _, x := range p.ExecFailures {
			want = append(want, fmt.Sprintf("%q errno %d", x.Filename, x.Errno))
		}
		c.f.failf("%s: want %d exec_failed events [%s], got %d:%s", name, len(p.ExecFailures), strings.Join(want, ", "), len(fails), formatEvents(fails))
		return
	}
	for i, x := range p.ExecFailures {
		if msg := c.execFailureProblem(fails[i], x); msg != "" {
			c.f.failf("%s: failed exec %d of %d: %s:%s", name, i+1, len(p.ExecFailures), msg, formatEvents(fails[i:i+1]))
		}
	}
}

// execFailureProblem says how e differs from the failed exec x, or "".
func (c *checker) execFailureProblem(e semconv.Event, x truth.ExecFailure) string {
	var bad []string
	if e.Exec.Errno != x.Errno {
		bad = append(bad, fmt.Sprintf("errno %d (%s), want %d (%s)", e.Exec.Errno, semconv.ErrnoName(e.OS, e.Exec.Errno),
			x.Errno, semconv.ErrnoName(e.OS, x.Errno)))
	}
	if e.Exec.Filename != x.Filename {
		bad = append(bad, fmt.Sprintf("filename %q, want %q", e.Exec.Filename, x.Filename))
	}
	if c.field(c.caps.Argv, "Argv", "argv") {
		if msg := argvProblem(e.Exec.Argv, e.Exec.ArgvTruncated, x.Argv, c.limit); msg != "" {
			bad = append(bad, "Exec.Argv: "+msg)
		}
	}
	return strings.Join(bad, "; ")
}

func (c *checker) checkExit(p truth.Proc, exits []semconv.Event) {
	name := label(p)
	if len(exits) != 1 {
		c.f.failf("%s: want exactly one exit event (one per process, not per thread), got %d:%s", name, len(exits), formatEvents(exits))
		return
	}
	e := exits[0]
	var bad []string
	if p.Exit != nil {
		if e.Exit.Code != p.Exit.Code {
			bad = append(bad, fmt.Sprintf("code %d, want %d", e.Exit.Code, p.Exit.Code))
		}
		if c.field(c.caps.ExitSignal, "ExitSignal", "terminating signal") && e.Exit.Signal != p.Exit.Signal {
			bad = append(bad, fmt.Sprintf("signal %d, want %d (%s)", e.Exit.Signal, p.Exit.Signal, semconv.SignalName(e.OS, p.Exit.Signal)))
		}
		if c.field(c.caps.CoreDump, "CoreDump", "core-dumped flag") && e.Exit.CoreDumped != p.Exit.CoreDumped {
			bad = append(bad, fmt.Sprintf("core dumped %t, want %t (the wait status said so)", e.Exit.CoreDumped, p.Exit.CoreDumped))
		}
	}
	if want := p.ParentAtExit(); e.Process.PPID != want {
		bad = append(bad, fmt.Sprintf("ppid %d, want %d", e.Process.PPID, want))
	}
	if p.SID != 0 && e.Process.SID != p.SID {
		bad = append(bad, fmt.Sprintf("sid %d, want %d", e.Process.SID, p.SID))
	}
	if len(bad) > 0 {
		c.f.failf("%s: exit event: %s:%s", name, strings.Join(bad, "; "), formatEvents(exits))
	}
}

func (c *checker) checkReap(p truth.Proc, reaps []semconv.Event) {
	name := label(p)
	if len(reaps) != 1 {
		c.f.failf("%s: want exactly one reap event (reaper %d), got %d:%s", name, p.Reaper, len(reaps), formatEvents(reaps))
		return
	}
	e := reaps[0]
	switch got := e.Reap.ReaperPID; {
	case p.Reaper == 0:
	case got == 0:
		c.f.skip("reaper pid not checked: the backend left Reap.ReaperPID 0 (allowed: unknown)")
	case got != p.Reaper:
		c.f.failf("%s: reap event: reaper %d, want %d:%s", name, got, p.Reaper, formatEvents(reaps))
	}
}

// checkOrder checks that a process's fork, execs, exit and reap follow
// each other in BootNS.
func (c *checker) checkOrder(name string, evs []semconv.Event) {
	rank := map[semconv.Kind]int{
		semconv.KindFork: 0, semconv.KindExec: 1, semconv.KindExecFailed: 1,
		semconv.KindExit: 2, semconv.KindReap: 3,
	}
	var last semconv.Event
	seen := false
	// evs is sorted by BootNS, so the order is wrong exactly when a
	// lifecycle step comes before one it must follow.
	for _, e := range evs {
		r, ok := rank[e.Kind]
		if !ok {
			continue
		}
		if seen && rank[last.Kind] > r {
			c.f.failf("%s: %s at boot %d comes before %s at boot %d, but must follow it:%s",
				name, e.Kind, e.BootNS, last.Kind, last.BootNS, formatEvents([]semconv.Event{last, e}))
			return
		}
		last, seen = e, true
	}
}

// checkOrphans checks the processes the workload created without learning
// their pids: each must have forked from its parent, failed its exec as
// the workload saw, exited once and been reaped once.
func (c *checker) checkOrphans() {
	var orphans []int32
	for pid := range c.byPID {
		if _, ok := c.known[pid]; !ok {
			orphans = append(orphans, pid)
		}
	}
	slices.Sort(orphans)
	if c.caps.Has(semconv.KindFork) && len(orphans) != len(c.rep.OrphanExecFailures) {
		var lines []string
		for _, pid := range orphans {
			lines = append(lines, formatEvents(c.byPID[pid]))
		}
		c.f.failf("want %d processes outside the workload's report (children whose exec failed in Go's ForkExec), got %d:%s",
			len(c.rep.OrphanExecFailures), len(orphans), strings.Join(lines, ""))
	}
	if len(c.rep.OrphanExecFailures) > 0 && c.has(semconv.KindExecFailed, "exec failures in forked children") {
		used := map[int32]bool{}
		for _, x := range c.rep.OrphanExecFailures {
			c.matchOrphan(x, orphans, used)
		}
	}
	for _, pid := range orphans {
		evs := c.byPID[pid]
		name := fmt.Sprintf("pid %d (child of the workload outside its report)", pid)
		if c.caps.Has(semconv.KindExit) {
			if n := len(ofKind(evs, semconv.KindExit)); n != 1 {
				c.f.failf("%s: want exactly one exit event, got %d:%s", name, n, formatEvents(evs))
			}
		}
		if c.caps.Has(semconv.KindReap) {
			if n := len(ofKind(evs, semconv.KindReap)); n != 1 {
				c.f.failf("%s: want exactly one reap event, got %d:%s", name, n, formatEvents(evs))
			}
		}
		c.checkOrder(name, evs)
	}
}

func (c *checker) matchOrphan(x truth.ExecFailure, orphans []int32, used map[int32]bool) {
	var candidates []semconv.Event
	for _, pid := range orphans {
		if used[pid] {
			continue
		}
		for _, e := range ofKind(c.byPID[pid], semconv.KindExecFailed) {
			if e.Exec.Filename == x.Filename {
				candidates = append(candidates, e)
			}
		}
	}
	var problems []string
	for _, e := range candidates {
		msg := c.execFailureProblem(e, x)
		if c.caps.Has(semconv.KindFork) {
			if f := ofKind(c.byPID[e.Process.PID], semconv.KindFork); len(f) == 1 && f[0].Process.PPID != x.Parent {
				msg = strings.TrimPrefix(msg+fmt.Sprintf("; forked by %d, want %d", f[0].Process.PPID, x.Parent), "; ")
			}
		}
		if msg == "" {
			used[e.Process.PID] = true
			return
		}
		problems = append(problems, msg)
	}
	c.f.failf("exec of %q in a forked child of %d: want exec_failed with errno %d (%s), argv %s; got %d candidates (%s):%s",
		x.Filename, x.Parent, x.Errno, semconv.ErrnoName(c.caps.OS, x.Errno), shortArgv(x.Argv),
		len(candidates), strings.Join(problems, " | "), formatEvents(candidates))
}

func (c *checker) checkSignals() {
	if len(c.rep.Signals) == 0 || !c.has(semconv.KindSignal, "signals") {
		return
	}
	sender := c.field(c.caps.SignalSender, "SignalSender", "signal sender")
	outcome := c.field(c.caps.SignalOutcome, "SignalOutcome", "signal outcome")
	for _, s := range c.rep.Signals {
		var candidates []semconv.Event
		for _, e := range ofKind(c.byPID[s.Target], semconv.KindSignal) {
			if e.Signal.Signo == s.Signo {
				candidates = append(candidates, e)
			}
		}
		wantOutcome := "generated or delivered"
		if s.Ignored {
			wantOutcome = "ignored"
		}
		found := false
		for _, e := range candidates {
			if sender && e.Signal.SenderPID != s.Sender {
				continue
			}
			if outcome {
				o := e.Signal.Outcome
				if s.Ignored && o != semconv.SignalIgnored {
					continue
				}
				if !s.Ignored && o != semconv.SignalGenerated && o != semconv.SignalDelivered {
					continue
				}
			}
			found = true
			break
		}
		if !found {
			c.f.failf("signal %d (%s) from %d to %d: want a signal event with that sender and outcome %s, got:%s",
				s.Signo, semconv.SignalName(c.caps.OS, s.Signo), s.Sender, s.Target, wantOutcome,
				formatEvents(ofKind(c.byPID[s.Target], semconv.KindSignal)))
		}
	}
}

// checkCommon checks the fields every event carries.
func (c *checker) checkCommon(e semconv.Event) {
	var bad []string
	p := &e.Process
	if e.OS == semconv.OSUnknown {
		bad = append(bad, "OS not set")
	} else if c.caps.OS != semconv.OSUnknown && e.OS != c.caps.OS {
		bad = append(bad, fmt.Sprintf("OS %s, but the backend's capabilities say %s", e.OS, c.caps.OS))
	}
	if e.BootNS == 0 {
		bad = append(bad, "BootNS is 0")
	}
	if p.Start == 0 {
		bad = append(bad, "Process.Start is 0")
	} else if first := c.byPID[p.PID][0].Process.Start; first != 0 && p.Start != first {
		bad = append(bad, fmt.Sprintf("Process.Start %d differs from %d on the process's first event", p.Start, first))
	}
	if !c.rep.Started.IsZero() {
		lo, hi := c.rep.Started.Add(-TimeSlack), c.rep.Finished.Add(TimeSlack)
		if e.Time.Before(lo) || e.Time.After(hi) {
			bad = append(bad, fmt.Sprintf("time %s outside the run %s..%s ± %s",
				e.Time.Format(time.RFC3339Nano), c.rep.Started.Format(time.RFC3339Nano), c.rep.Finished.Format(time.RFC3339Nano), TimeSlack))
		}
	}
	if c.field(c.caps.Creds, "Creds", "credentials") && (p.UID != c.rep.UID || p.GID != c.rep.GID) {
		bad = append(bad, fmt.Sprintf("uid/gid %d/%d, want %d/%d", p.UID, p.GID, c.rep.UID, c.rep.GID))
	}
	if want, ok := c.expectedComm(e); ok && p.Comm != want && p.Comm != c.nextExecComm(e) {
		bad = append(bad, fmt.Sprintf("comm %q, want %q", p.Comm, want))
	}
	if len(bad) > 0 {
		c.f.failf("pid %d: %s event: %s:%s", p.PID, e.Kind, strings.Join(bad, "; "), formatEvents([]semconv.Event{e}))
	}
}

// expectedComm returns the task name the process should have at e: the
// name of its last exec before e, or before any exec the name of its
// parent's image.
func (c *checker) expectedComm(e semconv.Event) (string, bool) {
	pid := e.Process.PID
	if execs, ok := c.commAt[pid]; ok {
		want, found := "", false
		for _, x := range execs {
			if x.boot <= e.BootNS {
				want, found = x.comm, true
			}
		}
		if found {
			return want, true
		}
	} else if p, ok := c.known[pid]; ok && len(p.Execs) > 0 && c.caps.Has(semconv.KindExec) {
		return "", false // its execs did not match; already reported
	}
	return c.parentImageComm(pid, e.OS)
}

// nextExecComm is the name of the image the process executes next after
// e, or "" when none. The kernel renames the task inside exec, before the
// exec event is recorded, so an event in that window (a signal sent
// while the exec runs) rightly carries the new name.
func (c *checker) nextExecComm(e semconv.Event) string {
	if e.Kind == semconv.KindFork {
		return "" // a fork precedes every exec of the child
	}
	for _, x := range c.commAt[e.Process.PID] {
		if x.boot > e.BootNS {
			return x.comm
		}
	}
	return ""
}

// parentImageComm is the task name pid had before it executed anything:
// its parent's, from the parent's last exec.
func (c *checker) parentImageComm(pid int32, os semconv.OS) (string, bool) {
	parent := int32(0)
	if p, ok := c.known[pid]; ok {
		parent = p.PPID
	} else if f := ofKind(c.byPID[pid], semconv.KindFork); len(f) == 1 {
		parent = f[0].Process.PPID
	}
	if pp, ok := c.known[parent]; ok {
		if len(pp.Execs) == 0 {
			return "", false
		}
		return commOf(os, pp.Execs[len(pp.Execs)-1].Filename), true
	}
	if root, ok := c.known[c.rep.Root]; ok && parent == root.PPID && c.rep.ParentComm != "" {
		return c.rep.ParentComm, true
	}
	return "", false
}

// commOf is the task name the kernel gives an image executed from
// filename: its base name, cut to 15 bytes on Linux and 19 on FreeBSD.
func commOf(os semconv.OS, filename string) string {
	limit := 15
	if os == semconv.OSFreeBSD {
		limit = 19
	}
	base := path.Base(filename)
	if len(base) > limit {
		base = base[:limit]
	}
	return base
}

// argvProblem says how a captured argv differs from the one passed, or ""
// when it matches. An argv of at most limit bytes (each string with its
// NUL) must be captured exactly and not flagged; a longer one must be
// flagged truncated and captured as a prefix (the last string may be cut,
// and then has no NUL) of at most limit and at least limit/2 bytes.
func argvProblem(got []string, truncated bool, want []string, limit int) string {
	size := argvSize(want)
	if size <= limit {
		if truncated {
			return fmt.Sprintf("flagged truncated, but the %d-byte argv fits the %d-byte limit; got %s", size, limit, shortArgv(got))
		}
		if !slices.Equal(got, want) {
			return fmt.Sprintf("got %s, want %s", shortArgv(got), shortArgv(want))
		}
		return ""
	}
	if !truncated {
		return fmt.Sprintf("the %d-byte argv exceeds the %d-byte limit but is not flagged truncated; got %d strings, %d bytes",
			size, limit, len(got), argvSize(got))
	}
	if len(got) == 0 || len(got) > len(want) {
		return fmt.Sprintf("truncated argv has %d strings, want 1..%d", len(got), len(want))
	}
	n := len(got) - 1
	if !slices.Equal(got[:n], want[:n]) || !strings.HasPrefix(want[n], got[n]) {
		return fmt.Sprintf("truncated argv %s is not a prefix of %s", shortArgv(got), shortArgv(want))
	}
	g := argvSize(got)
	if got[n] != want[n] {
		g-- // a string cut at the limit has no NUL in the capture
	}
	if g > limit || g < limit/2 {
		return fmt.Sprintf("truncated argv holds %d bytes, want between %d and the limit %d", g, limit/2, limit)
	}
	return ""
}

// argvSize is the size of argv in a process image: each string and its NUL.
func argvSize(argv []string) int {
	n := 0
	for _, a := range argv {
		n += len(a) + 1
	}
	return n
}

// CheckStats checks a backend's counters after a low-rate run: nothing
// lost, nothing undecodable.
func CheckStats(st backends.Stats) []string {
	var bad []string
	if n := st.TotalLost(); n != 0 {
		var kinds []string
		for k, v := range st.Lost {
			if v != 0 {
				kinds = append(kinds, fmt.Sprintf("%s=%d", semconv.Kind(k), v))
			}
		}
		bad = append(bad, fmt.Sprintf("stats: %d events lost at a low rate (%s), want 0", n, strings.Join(kinds, " ")))
	}
	if st.DecodeErrors != 0 {
		bad = append(bad, fmt.Sprintf("stats: %d decode errors, want 0", st.DecodeErrors))
	}
	return bad
}
