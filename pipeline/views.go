package pipeline

import (
	"slices"

	"github.com/procotel/procotel/semconv"
)

// ProcessInfo is what the table knows of one process, for interactive
// views (a console's ps, tree and show). The embedded Lifetime is the
// lifetime so far: End is zero and Exited false while the process lives.
// Slices (argv, execs) are shared with the table and must not be modified.
type ProcessInfo struct {
	semconv.Lifetime
	// Reaped is true once the process was released by its parent.
	Reaped bool
	// Parent is the current parent (after re-parenting); Creator is the
	// process that forked it. Zero when unknown.
	Parent, Creator semconv.Key
}

// TreeNode is one live process and its live children in a process tree.
type TreeNode struct {
	Process  semconv.Process
	Root     semconv.Key // trace root; zero when the process is its own root
	Children []*TreeNode
}

// Lineage answers ancestry questions for filters (pid=N+). Descends
// reports whether p descends from a process with pid ancestor.
type Lineage interface {
	Descends(p *semconv.Process, ancestor int32) bool
}

var (
	_ Lineage = (*table)(nil)
	_ Lineage = (*Pipeline)(nil)
)

// Snapshot returns the processes alive now, ordered by pid. Safe for
// concurrent use.
func (p *Pipeline) Snapshot() []semconv.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]semconv.Process, 0, p.t.lists[stateLive].n)
	for en := p.t.lists[stateLive].head; en != nil; en = en.lnext {
		out = append(out, en.proc)
	}
	slices.SortFunc(out, func(a, b semconv.Process) int {
		if a.PID != b.PID {
			return int(a.PID) - int(b.PID)
		}
		return cmpUint(a.Start, b.Start)
	})
	return out
}

// Lookup returns the process that has, or last had, pid. Safe for
// concurrent use.
func (p *Pipeline) Lookup(pid int32) (ProcessInfo, bool) {
	return p.lookup(func(t *table) *entry { return t.byPID[pid] })
}

// LookupKey returns the process with identity k, while the table keeps
// it. Safe for concurrent use.
func (p *Pipeline) LookupKey(k semconv.Key) (ProcessInfo, bool) {
	return p.lookup(func(t *table) *entry { return t.byKey.get(k) })
}

// lookup returns what p knows of the entry find picks, under p.mu.
func (p *Pipeline) lookup(find func(*table) *entry) (ProcessInfo, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	en := find(p.t)
	if en == nil {
		return ProcessInfo{}, false
	}
	return p.info(en), true
}

// Descends reports whether the process p descends (by creation) from a
// process with pid ancestor. Safe for concurrent use; it implements
// Lineage for filtering outside the pipeline.
func (p *Pipeline) Descends(proc *semconv.Process, ancestor int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.t.Descends(proc, ancestor)
}

// Tree returns the live process tree by current parent: with pid 0 the
// whole forest (every live process whose parent is unknown or gone is a
// top-level node), otherwise the subtree of the live process pid (nil if
// there is none). Children are ordered by pid. Safe for concurrent use.
func (p *Pipeline) Tree(pid int32) []*TreeNode {
	p.mu.Lock()
	defer p.mu.Unlock()
	var tops []*entry
	if pid != 0 {
		en := p.t.current(pid)
		if en == nil {
			return nil
		}
		tops = []*entry{en}
	} else {
		for en := p.t.lists[stateLive].head; en != nil; en = en.lnext {
			if en.parent == nil || en.parent.exited {
				tops = append(tops, en)
			}
		}
		sortEntries(tops)
	}
	out := make([]*TreeNode, 0, len(tops))
	for _, en := range tops {
		out = append(out, p.node(en, 0))
	}
	return out
}

func (p *Pipeline) node(en *entry, depth int) *TreeNode {
	n := &TreeNode{Process: en.proc, Root: p.t.rootField(en)}
	if depth >= maxDepth {
		return n
	}
	var kids []*entry
	for c := en.firstChild; c != nil; c = c.nextSib {
		if !c.exited {
			kids = append(kids, c)
		}
	}
	sortEntries(kids)
	for _, c := range kids {
		n.Children = append(n.Children, p.node(c, depth+1))
	}
	return n
}

func (p *Pipeline) info(en *entry) ProcessInfo {
	in := ProcessInfo{
		Lifetime: semconv.Lifetime{
			Process:  en.proc,
			Lineage:  p.t.lineage(en, en.traceParent),
			OS:       p.os,
			Start:    en.startWall,
			End:      en.end,
			Exited:   en.exitSeen,
			Exit:     en.exit,
			Seeded:   en.seeded,
			Execs:    slices.Clone(en.execs),
			Children: en.forks,
		},
		Reaped:  en.state == stateReaped,
		Creator: en.creator,
	}
	if in.Start.IsZero() && en.startNS != 0 && !p.clock.BootWall.IsZero() {
		in.Start = p.clock.Wall(en.startNS)
	}
	if en.parent != nil {
		in.Parent = en.parent.key()
	}
	return in
}

// sortEntries orders entries by pid, then start.
func sortEntries(es []*entry) {
	slices.SortFunc(es, func(a, b *entry) int {
		if a.proc.PID != b.proc.PID {
			return int(a.proc.PID) - int(b.proc.PID)
		}
		return cmpUint(a.proc.Start, b.proc.Start)
	})
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
