package pipeline

import (
	"path"
	"time"

	"github.com/procotel/procotel/semconv"
)

// maxExecRecords bounds the exec records kept per process.
const maxExecRecords = 64

// apply updates the table from one ordered event and enriches the event
// from the table. It reports whether the event goes on to the sinks.
// The caller holds p.mu.
func (p *Pipeline) apply(e *semconv.Event) bool {
	if e.Kind == semconv.KindExecAttempt {
		p.att.add(e)
		return false
	}
	if e.Kind == semconv.KindThrottle {
		return true // about a cgroup: no process entry
	}
	p.t.finishSeeding()
	if e.BootNS != 0 {
		p.att.expire(e.BootNS)
	}
	if e.Process.TID == 0 {
		e.Process.TID = e.Process.PID
	}
	switch e.Kind {
	case semconv.KindFork:
		p.redactProcess(e)
		p.fork(e)
	case semconv.KindExec, semconv.KindExecFailed:
		p.exec(e)
	case semconv.KindExit:
		p.redactProcess(e)
		p.exit(e)
	case semconv.KindReap:
		p.redactProcess(e)
		p.reap(e)
	case semconv.KindSignal:
		p.redactProcess(e)
		p.signal(e)
	default: // start, thread start and exit
		p.redactProcess(e)
		p.other(e)
	}
	return true
}

// redactProcess scrubs an argv the backend sent; argv filled from the
// table was scrubbed when it entered the table.
func (p *Pipeline) redactProcess(e *semconv.Event) {
	if len(e.Process.Argv) > 0 {
		e.Process.Argv = p.redact.Argv(e.Process.Argv)
	}
}

// seed adds a process that existed when the backend started.
func (p *Pipeline) seed(e *semconv.Event) {
	t := p.t
	p.redactProcess(e)
	proc := &e.Process
	proc.TID = proc.PID
	if en := t.byKey.get(proc.Key()); en != nil {
		p.stats.Duplicates++
		fillSelf(proc, &en.proc, true, p.cfg.CredsComplete)
		t.absorb(en, proc)
		return
	}
	en := t.add(proc)
	en.seeded = true
	en.traceParent = e.TraceParent
	// The command procotel starts can be in the scan, before its fork's
	// report: it roots its trace as when the fork comes first.
	en.launched = t.launcher != 0 && proc.PPID == t.launcher
	if proc.PPID != 0 {
		if parent := t.parentOf(proc, false); parent != nil {
			p.adopt(en, parent)
		} else if t.seeding {
			t.orphans[proc.PPID] = append(t.orphans[proc.PPID], en)
		}
	}
	if kids, ok := t.orphans[proc.PID]; ok {
		for _, c := range kids {
			if c.state != stateEvicted && c.parent == nil {
				p.adopt(c, en)
			}
		}
		delete(t.orphans, proc.PID)
	}
}

// adopt links en under the parent that created it.
func (p *Pipeline) adopt(en, parent *entry) {
	p.t.link(en, parent)
	en.creator = parent.key()
	en.creatorRoot = p.t.rootField(parent)
	if en.proc.ParentStart == 0 {
		en.proc.ParentStart = parent.proc.Start
	}
}

func (p *Pipeline) fork(e *semconv.Event) {
	t := p.t
	child := &e.Process
	parent := t.parentOf(child, true) // a parent is alive when it forks
	// Looked up once: nothing below adds to the table before add.
	known := t.byKey.get(child.Key())
	if parent != nil {
		if known == nil && (e.OS != semconv.OSLinux || e.Fork.CloneFlags&cloneParent == 0) {
			learnFromChild(t, parent, child)
		}
		inherit(child, &parent.proc, p.cfg.CredsComplete)
		if child.ParentStart == 0 {
			child.ParentStart = parent.proc.Start
		}
		if e.TraceParent == "" {
			e.TraceParent = parent.traceParent
		}
		parent.forks++
		t.touch(parent)
	} else {
		p.unmatched(e)
	}

	if en := known; en != nil {
		// Seeded in the race between attaching and the scan, or a duplicate.
		if !en.seeded {
			p.stats.Duplicates++
		}
		en.seeded = false
		en.startWall = p.wall(e)
		fillSelf(child, &en.proc, true, p.cfg.CredsComplete)
		t.absorb(en, child)
		e.Lineage = t.lineage(en, e.TraceParent)
		return
	}
	if old := t.current(child.PID); old != nil {
		p.lostExit(old, e)
	}
	en := t.add(child)
	en.startWall = p.wall(e)
	en.traceParent = e.TraceParent
	en.launched = t.launcher != 0 && child.PPID == t.launcher
	if parent != nil && parent.state != stateEvicted {
		p.adopt(en, parent)
	} else if pk := child.ParentKey(); !pk.IsZero() {
		// The parent is not in the table (it exited between attach and
		// the /proc scan, or was evicted), but the fork names it: keep it
		// as the creator so subtrees and span parents stay whole.
		en.creator = pk
	}
	e.Lineage = t.lineage(en, e.TraceParent)
}

// findSelf returns the table entry of the process an event is about.
func (p *Pipeline) findSelf(e *semconv.Event) *entry {
	t := p.t
	proc := &e.Process
	if (e.Kind == semconv.KindExec || e.Kind == semconv.KindExecFailed) && e.Exec.OldTID != 0 {
		// A non-leader thread exec'd: same process, whatever start time
		// the thread had.
		if en := t.current(proc.PID); en != nil {
			return en
		}
	}
	en := t.find(proc.PID, proc.Start)
	if en == nil && proc.Start != 0 {
		if c := t.byPID[proc.PID]; c != nil && c.proc.Start == 0 {
			return c // seeded without a start time
		}
	}
	return en
}

// unmatched counts e as an event about a process the table did not know,
// and keeps the first few (Stats.UnmatchedFirst) to tell what they were.
func (p *Pipeline) unmatched(e *semconv.Event) {
	p.stats.Unmatched[e.Kind]++
	if len(p.stats.UnmatchedFirst) >= UnmatchedSamples {
		return
	}
	pr := &e.Process
	u := Unmatched{Kind: e.Kind, PID: pr.PID, PPID: pr.PPID, Start: pr.Start, BootNS: e.BootNS, Comm: pr.Comm, Exe: pr.Exe}
	if p.firstBootNS != 0 && e.BootNS > p.firstBootNS {
		u.SinceStart = time.Duration(e.BootNS - p.firstBootNS)
	}
	p.stats.UnmatchedFirst = append(p.stats.UnmatchedFirst, u)
}

// matched is findSelf for an event that cannot add a process: one the
// table does not have is counted unmatched, and matched returns nil.
func (p *Pipeline) matched(e *semconv.Event) *entry {
	en := p.findSelf(e)
	if en == nil {
		p.unmatched(e)
	}
	return en
}

// implicit adds a process first seen mid-life (its fork or seed was lost)
// and counts the event as unmatched. It is marked seeded: its start was
// not observed.
func (p *Pipeline) implicit(e *semconv.Event) *entry {
	t := p.t
	p.unmatched(e)
	proc := &e.Process
	if old := t.current(proc.PID); old != nil {
		p.lostExit(old, e)
	}
	en := t.add(proc)
	en.seeded = true
	en.proc.TID = proc.PID
	en.launched = t.launcher != 0 && proc.PPID == t.launcher
	if parent := t.parentOf(proc, false); parent != nil {
		p.adopt(en, parent)
	}
	t.rootOf(en)
	return en
}

// reparent moves en under the parent a later event reports.
func (p *Pipeline) reparent(en *entry, proc *semconv.Process) {
	if proc.PPID == 0 || proc.PPID == en.proc.PPID {
		return
	}
	t := p.t
	np := t.parentOf(proc, true) // an adopter is alive
	t.link(en, np)
	en.proc.PPID = proc.PPID
	en.proc.ParentStart = proc.ParentStart
	if np != nil && en.proc.ParentStart == 0 {
		en.proc.ParentStart = np.proc.Start
	}
	p.stats.Reparented++
}

// orphanChildren re-parents the live children of a process that exited to
// init (pid 1) for now; the next event of each child that reports another
// parent (a subreaper, a container's init) moves it there. Their trace
// follows (see Config.RootPolicy).
func (p *Pipeline) orphanChildren(parent *entry) {
	t := p.t
	init := t.current(1)
	if init == parent {
		init = nil
	}
	for c := parent.firstChild; c != nil; {
		next := c.nextSib
		if !c.exited {
			t.link(c, init)
			c.proc.PPID = 1
			c.proc.ParentStart = 0
			if init != nil {
				c.proc.ParentStart = init.proc.Start
			}
			p.stats.Reparented++
		}
		c = next
	}
}

// lostExit closes a process that is gone although its exit was not seen:
// it was reaped while alive in the table, or its pid was reused. Its
// lifetime is emitted with Exited false and Incomplete true.
func (p *Pipeline) lostExit(en *entry, e *semconv.Event) {
	p.stats.LostExits++
	en.exited = true
	en.end = p.wall(e)
	p.t.setState(en, stateExited)
	p.orphanChildren(en)
	p.att.dropProcess(en.proc.PID)
	p.closeLifetime(en, true, en.end)
}

func (p *Pipeline) exec(e *semconv.Event) {
	t := p.t
	if p.att.merge(e) {
		p.stats.PairedExecs++
	}
	proc := &e.Process
	raw := proc.Argv
	if len(raw) > 0 {
		proc.Argv = p.redact.Argv(raw)
	}
	if sameSlice(e.Exec.Argv, raw) {
		e.Exec.Argv = proc.Argv
	} else if len(e.Exec.Argv) > 0 {
		e.Exec.Argv = p.redact.Argv(e.Exec.Argv)
	}
	if len(e.Exec.Env) > 0 {
		e.Exec.Env = p.redact.Argv(e.Exec.Env) // NAME=value pairs redact like --name=value
	}

	en := p.findSelf(e)
	if en == nil {
		en = p.implicit(e)
	} else {
		p.reparent(en, proc)
		if e.Exec.OldTID != 0 || proc.Start == 0 {
			proc.Start = en.proc.Start
		}
	}
	failed := e.Kind == semconv.KindExecFailed
	if !failed {
		// The new image: what the event says, else what was asked for.
		if len(proc.Argv) == 0 {
			proc.Argv = e.Exec.Argv
			proc.ArgvTruncated = e.Exec.ArgvTruncated
		}
		if proc.Exe == "" && e.Exec.Filename != "" {
			proc.Exe = e.Exec.Filename
			cwd := proc.Cwd
			if cwd == "" {
				cwd = en.proc.Cwd
			}
			if !path.IsAbs(proc.Exe) && path.IsAbs(cwd) {
				proc.Exe = path.Join(cwd, proc.Exe)
			}
		}
		if proc.Comm == "" && proc.Exe != "" {
			proc.Comm = commOf(e.OS, proc.Exe)
		}
	}
	fillSelf(proc, &en.proc, failed, p.cfg.CredsComplete)
	if !failed && e.Exec.ParentExe == "" && en.parent != nil {
		// The parent's image as the table knows it at this point in time
		// order: from its fork (a child inherits its parent's), its last
		// exec, or the /proc scan.
		e.Exec.ParentExe = en.parent.proc.Exe
	}

	rec := semconv.ExecRecord{
		Time:      p.wall(e),
		Filename:  e.Exec.Filename,
		Argv:      e.Exec.Argv,
		Errno:     e.Exec.Errno,
		ExecFacts: e.Exec.ExecFacts,
	}
	if !failed {
		rec.Exe = proc.Exe
		if len(rec.Argv) == 0 {
			rec.Argv = proc.Argv
		}
	}
	if len(en.execs) < maxExecRecords {
		en.execs = append(en.execs, rec)
	} else {
		// Keep the first ones and, in the last slot, the latest.
		en.execs[maxExecRecords-1] = rec
		p.stats.ExecRecordsDropped++
	}
	t.absorb(en, proc)
	t.touch(en)
	if !failed && e.TraceParent != "" {
		// The new image was started inside someone else's trace when its
		// environment has a TRACEPARENT its parent's has not: it roots
		// its part of that trace, and its descendants follow it.
		t.setTraceParent(en, e.TraceParent)
	}
	e.Lineage = t.lineage(en, pick(e.TraceParent, en.traceParent))
}

func (p *Pipeline) exit(e *semconv.Event) {
	t := p.t
	proc := &e.Process
	en := p.findSelf(e)
	if en == nil {
		en = p.implicit(e)
	} else {
		p.reparent(en, proc)
	}
	fillSelf(proc, &en.proc, true, p.cfg.CredsComplete)
	if en.exited {
		// Seen already, or closed when found gone without it.
		p.stats.Duplicates++
		e.Lineage = t.lineage(en, pick(e.TraceParent, en.traceParent))
		return
	}
	t.absorb(en, proc) // first: the exit may be the first to show a setsid
	e.Lineage = t.lineage(en, pick(e.TraceParent, en.traceParent))
	en.exited, en.exitSeen = true, true
	en.exit = e.Exit
	en.end = p.wall(e)
	t.setState(en, stateExited)
	p.orphanChildren(en)
	p.att.dropProcess(proc.PID)
	p.closeLifetime(en, false, en.end)
}

func (p *Pipeline) reap(e *semconv.Event) {
	t := p.t
	en := p.matched(e)
	if en == nil {
		return
	}
	fillSelf(&e.Process, &en.proc, true, p.cfg.CredsComplete)
	e.Lineage = t.lineage(en, pick(e.TraceParent, en.traceParent))
	if !en.exited {
		p.lostExit(en, e)
	}
	t.setState(en, stateReaped)
}

func (p *Pipeline) signal(e *semconv.Event) {
	t := p.t
	if s := &e.Signal; s.SenderPID != 0 && s.SenderComm == "" {
		if sender := t.current(s.SenderPID); sender != nil {
			s.SenderComm = sender.proc.Comm
		}
	}
	en := t.find(e.Process.PID, e.Process.Start)
	if en == nil {
		p.unmatched(e)
		return
	}
	fillSelf(&e.Process, &en.proc, true, p.cfg.CredsComplete)
	e.Lineage = t.lineage(en, pick(e.TraceParent, en.traceParent))
}

// other handles start and thread events: enrich, and learn what changed.
func (p *Pipeline) other(e *semconv.Event) {
	t := p.t
	en := p.matched(e)
	if en == nil {
		return
	}
	p.reparent(en, &e.Process)
	fillSelf(&e.Process, &en.proc, true, p.cfg.CredsComplete)
	if !en.exited {
		t.absorb(en, &e.Process)
		t.touch(en)
	}
	e.Lineage = t.lineage(en, pick(e.TraceParent, en.traceParent))
}

// absorb makes the table's record of en what the (enriched) event says,
// keeping the identity.
func (t *table) absorb(en *entry, proc *semconv.Process) {
	t.noteState(en, proc)
	start := en.proc.Start
	en.proc = *proc
	en.proc.TID = proc.PID
	if semconv.KeyOf(proc.PID, proc.Start) != semconv.KeyOf(proc.PID, start) {
		en.proc.Start = start
	}
}

// cloneParent is Linux's CLONE_PARENT: the child's parent is the forking
// process's parent, not the forking process.
const cloneParent = 0x8000

// learnFromChild updates what the table knows of parent from the fork of
// child: a child starts in its parent's process group and session, so
// the fork shows a setsid or setpgid of the parent before the parent's
// own next event does.
func learnFromChild(t *table, parent *entry, child *semconv.Process) {
	q := parent.proc
	if child.PGID != 0 {
		q.PGID = child.PGID
	}
	if child.SID != 0 {
		q.SID = child.SID
	}
	t.noteState(parent, &q)
	parent.proc.PGID, parent.proc.SID = q.PGID, q.SID
}

func pick(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
