package pipeline

import (
	"time"

	"github.com/procotel/procotel/semconv"
)

// maxDepth bounds every walk up a chain of parents, so a cycle built from
// inconsistent kernel data ends instead of looping.
const maxDepth = 4096

// Entry states; each state has its own eviction list.
const (
	stateLive uint8 = iota
	stateExited
	stateReaped
	stateEvicted
)

// entry is one process in the table.
type entry struct {
	proc        semconv.Process
	traceParent string

	// root is the trace root (the entry's own key when it is a root) as
	// decided when the table's generation was rootGen; stale when the
	// generation has moved on since.
	root    semconv.Key
	rootGen uint64

	startNS   uint64    // creation, kernel clock
	startWall time.Time // creation, wall clock, when an event said it
	end       time.Time
	seeded    bool
	exited    bool // the process is gone (exit seen, or inferred)
	exitSeen  bool // the exit event itself was seen
	// launched marks a process the table's launcher created: a root
	// without a link to its creator.
	launched bool
	// state names the eviction list the entry is on (lprev, lnext).
	state uint8
	exit  semconv.ExitInfo
	execs []semconv.ExecRecord
	forks int

	// creator is the process that forked this one (kept when the parent
	// exits and the process is re-parented); it defines subtrees.
	creator semconv.Key
	// creatorRoot is the creator's trace root when this one was created
	// (zero when the creator was its own root); used when the creator is
	// no longer in the table.
	creatorRoot semconv.Key

	// parent is the current parent in the table; the children list links
	// the live and exited children whose current parent this is.
	parent                       *entry
	firstChild, prevSib, nextSib *entry

	// Eviction list links.
	lprev, lnext *entry
}

func (en *entry) key() semconv.Key { return en.proc.Key() }

// list is an intrusive doubly linked list of entries, oldest first.
type list struct {
	head, tail *entry
	n          int
}

func (l *list) pushBack(en *entry) {
	en.lprev, en.lnext = l.tail, nil
	if l.tail != nil {
		l.tail.lnext = en
	} else {
		l.head = en
	}
	l.tail = en
	l.n++
}

func (l *list) remove(en *entry) {
	if en.lprev != nil {
		en.lprev.lnext = en.lnext
	} else {
		l.head = en.lnext
	}
	if en.lnext != nil {
		en.lnext.lprev = en.lprev
	} else {
		l.tail = en.lprev
	}
	en.lprev, en.lnext = nil, nil
	l.n--
}

// table is the process table: entries by identity, the current process of
// each pid, lineage, and bounded memory. It is not safe for concurrent use;
// the Pipeline guards it.
type table struct {
	byKey  keyIndex
	byPID  map[int32]*entry
	lists  [3]list // live (least recently active first), exited, reaped
	max    int
	keep   int // reaped entries remembered
	policy semconv.RootPolicy
	// launcher is Config.Launcher: the processes it creates are roots.
	launcher int32

	// seeding is true until the first event after the KindExisting ones;
	// meanwhile a child may arrive before its parent and waits in orphans.
	seeding bool
	orphans map[int32][]*entry

	// gen is the generation of root decisions: it moves on when the
	// state a cached root depends on changes for a process that has
	// children (a childless process's own cache is cleared instead).
	gen uint64

	evicted, evictedLive, forgotten uint64

	// spares are entries forgotten past keep (at most maxSpares), each
	// holding its emptied exec records as room (at most spareExecsCap: the
	// lifetime that held them was handed to the sinks, which keep nothing
	// of it past the call, Sink), zeroed and handed to the next adds: in a
	// storm every reap forgets the oldest reaped entry and every fork adds
	// one, so the table allocates nothing per process (an entry is a third
	// of what a process costs the garbage collector). Reaps come in bursts
	// behind the forks (after an RCU grace period), so one spare is not
	// enough: the adds between two bursts would allocate.
	spares []*entry
}

// maxSpares bounds the forgotten entries kept for reuse: more than the
// forks of a storm's reap lag (a fork storm's 18,000 processes a second
// for a few tens of milliseconds), about 512 KiB when full.
const maxSpares = 1024

// spareExecsCap bounds the exec records a reused entry keeps room for.
const spareExecsCap = 4

func newTable(max, keepReaped int, policy semconv.RootPolicy, launcher int32) *table {
	return &table{
		byKey:    newKeyIndex(),
		byPID:    make(map[int32]*entry),
		max:      max,
		keep:     keepReaped,
		policy:   policy,
		launcher: launcher,
		seeding:  true,
		orphans:  make(map[int32][]*entry),
		gen:      1,
	}
}

func (t *table) size() int { return t.byKey.len() }

// find returns the process with this pid and start time; with start 0,
// the current process with this pid.
func (t *table) find(pid int32, start uint64) *entry {
	if start != 0 {
		return t.byKey.get(semconv.KeyOf(pid, start))
	}
	return t.byPID[pid]
}

// current returns the current process with this pid if it is alive.
func (t *table) current(pid int32) *entry {
	if en := t.byPID[pid]; en != nil && !en.exited {
		return en
	}
	return nil
}

// parentOf returns the entry of p's parent: the exact process when
// p.ParentStart is known, else the one holding the pid now. With alive, an
// exact match that has exited gives way to the pid's current live holder.
// nil when p has no parent or the table does not know it.
func (t *table) parentOf(p *semconv.Process, alive bool) *entry {
	if p.PPID == 0 {
		return nil
	}
	en := t.find(p.PPID, p.ParentStart)
	if en == nil || (alive && en.exited) {
		en = t.current(p.PPID)
	}
	return en
}

// add inserts a new live entry for p, evicting if the table is full.
func (t *table) add(p *semconv.Process) *entry {
	for t.max > 0 && t.byKey.len() >= t.max {
		if !t.evictOne() {
			break
		}
	}
	var en *entry
	if n := len(t.spares); n > 0 {
		en = t.spares[n-1]
		t.spares[n-1] = nil
		t.spares = t.spares[:n-1]
		*en = entry{proc: *p, startNS: p.Start, execs: en.execs}
	} else {
		en = &entry{proc: *p, startNS: p.Start}
	}
	t.byKey.put(en.key(), en)
	t.byPID[p.PID] = en
	en.state = stateLive
	t.lists[stateLive].pushBack(en)
	return en
}

// touch marks a live entry as recently active.
func (t *table) touch(en *entry) {
	if en.state == stateLive && t.lists[stateLive].tail != en {
		t.lists[stateLive].remove(en)
		t.lists[stateLive].pushBack(en)
	}
}

// setState moves en to the eviction list of state s.
func (t *table) setState(en *entry, s uint8) {
	if en.state == s || en.state == stateEvicted {
		return
	}
	t.lists[en.state].remove(en)
	en.state = s
	t.lists[s].pushBack(en)
	if s == stateReaped {
		for t.lists[stateReaped].n > t.keep {
			t.forgotten++
			old := t.lists[stateReaped].head
			execs := old.execs
			t.drop(old)
			t.recycle(old, en, execs)
		}
	}
}

// evictOne drops the reaped entry reaped longest ago, else the exited one
// that exited longest ago, else the least recently active live one.
func (t *table) evictOne() bool {
	for s := stateReaped; ; s-- {
		if en := t.lists[s].head; en != nil {
			if s == stateLive {
				t.evictedLive++
			}
			t.evict(en)
			return true
		}
		if s == stateLive {
			return false
		}
	}
}

// recycle keeps en, just forgotten, as a spare for a later add (with
// execs, its exec records, as room for the next one's), unless it is cur
// (the entry its caller goes on with), the table is seeding (its orphans
// may still name en, and tell it by stateEvicted) or maxSpares are kept.
// Nothing else holds a forgotten entry: a reaped process is in no list of
// live or exited ones, drop took it out of the indexes and its children's
// links, and the lifetime it closed holds copies.
func (t *table) recycle(en, cur *entry, execs []semconv.ExecRecord) {
	if en == cur || t.seeding || len(t.spares) >= maxSpares {
		return
	}
	if cap(execs) <= spareExecsCap {
		clear(execs)
		en.execs = execs[:0]
	}
	t.spares = append(t.spares, en)
}

func (t *table) evict(en *entry) {
	t.evicted++
	t.drop(en)
}

// drop removes en from the table.
func (t *table) drop(en *entry) {
	t.lists[en.state].remove(en)
	en.state = stateEvicted
	t.byKey.del(en.key())
	if t.byPID[en.proc.PID] == en {
		delete(t.byPID, en.proc.PID)
	}
	t.unlink(en)
	if en.firstChild != nil {
		t.gen++ // its children lose their parent
	}
	for c := en.firstChild; c != nil; {
		next := c.nextSib
		c.parent, c.prevSib, c.nextSib = nil, nil, nil
		c = next
	}
	en.firstChild = nil
	en.execs = nil
}

// link makes parent the current parent of en.
func (t *table) link(en, parent *entry) {
	if en.parent == parent {
		return
	}
	t.changed(en)
	t.unlink(en)
	if parent == nil || parent == en {
		return
	}
	en.parent = parent
	en.nextSib = parent.firstChild
	if parent.firstChild != nil {
		parent.firstChild.prevSib = en
	}
	parent.firstChild = en
}

func (t *table) unlink(en *entry) {
	p := en.parent
	if p == nil {
		return
	}
	if en.prevSib != nil {
		en.prevSib.nextSib = en.nextSib
	} else {
		p.firstChild = en.nextSib
	}
	if en.nextSib != nil {
		en.nextSib.prevSib = en.prevSib
	}
	en.parent, en.prevSib, en.nextSib = nil, nil, nil
}

// changed records that something a root decision depends on changed for
// en: its group, session, container, jail, traceparent or parent.
func (t *table) changed(en *entry) {
	if en.firstChild == nil {
		en.rootGen = 0 // only its own decision depends on it
		return
	}
	t.gen++
}

// noteState is called before en's record becomes p: it reports a change
// when the state root decisions depend on differs.
func (t *table) noteState(en *entry, p *semconv.Process) {
	q := &en.proc
	if q.PGID != p.PGID || q.SID != p.SID || q.ContainerID != p.ContainerID || q.JailID != p.JailID {
		t.changed(en)
	}
}

// setTraceParent sets the traceparent en's environment carries.
func (t *table) setTraceParent(en *entry, tp string) {
	if en.traceParent != tp {
		en.traceParent = tp
		t.changed(en)
	}
}

// rootOf returns the trace root of en (its own key when it is a root): the
// first process that isRoot, walking up from en through the current
// parents. Decisions are cached until the state they depend on changes.
func (t *table) rootOf(en *entry) semconv.Key {
	if en.rootGen == t.gen {
		return en.root
	}
	cur := en
	var root semconv.Key
	for depth := 0; ; depth++ {
		if cur.rootGen == t.gen {
			root = cur.root
			break
		}
		if depth >= maxDepth || t.isRoot(cur) {
			root = cur.key()
			break
		}
		cur = cur.parent
	}
	for e := en; ; e = e.parent {
		e.root, e.rootGen = root, t.gen
		if e == cur {
			break
		}
	}
	return root
}

// isRoot reports whether en roots a trace, by the current state of en and
// its current parent only: what a procotel restarted now would see too.
func (t *table) isRoot(en *entry) bool {
	p := en.parent
	if p == nil || en.launched {
		return true
	}
	if en.traceParent != "" && en.traceParent != p.traceParent {
		return true // its image was started inside another trace
	}
	switch t.policy {
	case semconv.RootProcessGroup:
		return p.proc.PID == 1 || (en.proc.PGID != 0 && en.proc.PGID == en.proc.PID)
	case semconv.RootSession:
		return p.proc.PID == 1 || (en.proc.SID != 0 && en.proc.SID == en.proc.PID)
	case semconv.RootContainer:
		return p.proc.ContainerID != en.proc.ContainerID || p.proc.JailID != en.proc.JailID
	}
	return true // RootNone and unknown policies
}

// rootField is the value of Event.Root and Lifetime.Root: zero when the
// process is its own root.
func (t *table) rootField(en *entry) semconv.Key {
	r := t.rootOf(en)
	if r == en.key() {
		return semconv.Key{}
	}
	return r
}

// lineage is the value of Event.Lineage and Lifetime.Lineage for en. A
// process in its trace hangs below its creator's span while it is its
// creator's child; once re-parented, below its adopter's (the only parent
// a restarted procotel sees). A root links to its creator's span.
func (t *table) lineage(en *entry, traceParent string) semconv.Lineage {
	root := t.rootOf(en)
	l := semconv.Lineage{Creator: en.creator, CreatorRoot: en.creatorRoot, TraceParent: traceParent, Unlinked: en.launched}
	if root != en.key() {
		l.Root = root
		if p := en.parent; p != nil && p.key() != en.creator {
			l.Creator, l.CreatorRoot = p.key(), root
			if root == p.key() {
				l.CreatorRoot = semconv.Key{}
			}
			return l
		}
	}
	if !en.creator.IsZero() {
		if c := t.byKey.get(en.creator); c != nil {
			l.CreatorRoot = t.rootField(c)
		}
	}
	return l
}

// finishSeeding ends the seeding phase: a child whose parent was not
// seeded stays without one.
func (t *table) finishSeeding() {
	if !t.seeding {
		return
	}
	t.seeding = false
	clear(t.orphans)
}

// Descends reports whether the process p was created, directly or through
// its descendants, by a process with pid ancestor. It follows creation, not
// the current parent: a daemon that double-forked stays in the subtree of
// the process that started it.
func (t *table) Descends(p *semconv.Process, ancestor int32) bool {
	en := t.find(p.PID, p.Start)
	var k semconv.Key
	if en != nil {
		k = creatorOf(en)
	} else if par := t.byPID[p.PPID]; par != nil && p.PPID != 0 {
		k = par.key()
	} else {
		return p.PPID == ancestor && p.PPID != 0
	}
	for depth := 0; depth < maxDepth && !k.IsZero(); depth++ {
		if k.PID == ancestor {
			return true
		}
		next := t.byKey.get(k)
		if next == nil {
			return false
		}
		k = creatorOf(next)
	}
	return false
}

// creatorOf is the process that created en: the creator recorded at its
// fork, or, for a process whose creation was not seen, the parent it
// reported (the best knowledge there is).
func creatorOf(en *entry) semconv.Key {
	if !en.creator.IsZero() {
		return en.creator
	}
	if en.proc.PPID != 0 && en.proc.PPID != en.proc.PID {
		return semconv.Key{PID: en.proc.PPID, Start: en.proc.ParentKey().Start}
	}
	return semconv.Key{}
}

// keyIndex maps process identities to table entries. A key as KeyOf
// makes it (a pid below 2^22, Linux's limit, and a start time in whole
// StartGranularity steps) packs into one uint64, which Go's maps hash and
// compare in one step, where the two-field struct with its padding costs
// a hash call per field; any other key goes to a map of its own.
type keyIndex struct {
	packed map[uint64]*entry
	other  map[semconv.Key]*entry
}

func newKeyIndex() keyIndex {
	return keyIndex{packed: make(map[uint64]*entry), other: make(map[semconv.Key]*entry)}
}

const (
	keyPIDBits   = 22
	keyStartBits = 64 - keyPIDBits
	keyStep      = uint64(semconv.StartGranularity)
)

// pack returns k as one uint64, or false when it does not fit.
func pack(k semconv.Key) (uint64, bool) {
	steps := k.Start / keyStep
	if k.PID < 0 || k.PID >= 1<<keyPIDBits || k.Start%keyStep != 0 || steps >= 1<<keyStartBits {
		return 0, false
	}
	return uint64(k.PID)<<keyStartBits | steps, true
}

func (x *keyIndex) get(k semconv.Key) *entry {
	if p, ok := pack(k); ok {
		return x.packed[p]
	}
	return x.other[k]
}

func (x *keyIndex) put(k semconv.Key, en *entry) {
	if p, ok := pack(k); ok {
		x.packed[p] = en
		return
	}
	x.other[k] = en
}

func (x *keyIndex) del(k semconv.Key) {
	if p, ok := pack(k); ok {
		delete(x.packed, p)
		return
	}
	delete(x.other, k)
}

func (x *keyIndex) len() int { return len(x.packed) + len(x.other) }
