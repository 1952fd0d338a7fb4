package pipeline

import (
	"fmt"
	"sort"
	"testing"

	"github.com/procotel/procotel/semconv"
)

// world is the ground truth of a synthetic process tree: the processes
// alive now (what /proc shows) and, step by step, the events a backend
// reports. setsid and setpgid change a process without an event, as on
// a real kernel.
type world struct {
	t     *testing.T
	now   uint64
	procs map[int32]*semconv.Process // alive (not yet exited)
	// reaper marks the subreapers (PR_SET_CHILD_SUBREAPER).
	reaper map[int32]bool
	// env is the TRACEPARENT in each process's environment.
	env   map[int32]string
	steps []worldStep
}

// worldStep is what one instant produced: the events reported, and the
// processes /proc shows right after it (where a restart would seed from).
type worldStep struct {
	events []semconv.Event
	seed   []semconv.Event
}

func newWorld(t *testing.T, initial ...semconv.Process) *world {
	w := &world{t: t, now: 1000 * ms, procs: map[int32]*semconv.Process{}, reaper: map[int32]bool{}, env: map[int32]string{}}
	for i := range initial {
		p := initial[i]
		p.TID = p.PID
		w.procs[p.PID] = &p
	}
	w.step() // the state procotel starts from
	return w
}

func (w *world) get(pid int32) *semconv.Process {
	p := w.procs[pid]
	if p == nil {
		w.t.Fatalf("world: no live process %d", pid)
	}
	return p
}

// step records the events of one instant and what /proc shows after it.
func (w *world) step(evs ...semconv.Event) {
	pids := make([]int32, 0, len(w.procs))
	for pid := range w.procs {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	seed := make([]semconv.Event, 0, len(pids))
	for _, pid := range pids {
		p := *w.procs[pid]
		e := semconv.Event{Kind: semconv.KindExisting, OS: semconv.OSLinux, BootNS: w.now, Time: at(w.now), Process: p}
		e.TraceParent = w.env[pid]
		seed = append(seed, e)
	}
	w.steps = append(w.steps, worldStep{events: evs, seed: seed})
	w.now += ms
}

// event is what the kernel reports about p now.
func (w *world) event(kind semconv.Kind, p *semconv.Process) semconv.Event {
	return semconv.Event{Kind: kind, Time: at(w.now), BootNS: w.now, OS: semconv.OSLinux, Process: *p}
}

func (w *world) fork(parent, pid int32) {
	pp := w.get(parent)
	c := *pp // the child inherits the group, session and image
	c.PID, c.TID, c.PPID, c.Start, c.ParentStart = pid, pid, parent, w.now, pp.Start
	w.procs[pid] = &c
	w.env[pid] = w.env[parent]
	e := w.event(semconv.KindFork, &c)
	e.Fork.ParentTID = parent
	w.step(e)
}

func (w *world) exec(pid int32, exe string) { w.execEnv(pid, exe, w.env[pid]) }

// execEnv execs with TRACEPARENT=tp in the new environment ("" for none).
func (w *world) execEnv(pid int32, exe, tp string) {
	w.env[pid] = tp
	p := w.get(pid)
	p.Exe, p.Argv, p.Comm = exe, []string{exe}, commOf(semconv.OSLinux, exe)
	e := w.event(semconv.KindExec, p)
	e.Exec = semconv.ExecInfo{Filename: exe, Argv: p.Argv}
	e.TraceParent = tp
	w.step(e)
}

// setsid and setpgid report nothing: the next event of the process does.
func (w *world) setsid(pid int32) {
	p := w.get(pid)
	p.SID, p.PGID = pid, pid
	w.step()
}

func (w *world) setpgid(pid, pgid int32) {
	w.get(pid).PGID = pgid
	w.step()
}

// exit ends pid (and its parent reaps it at once); its live children go
// to the nearest subreaper above it, else to init.
func (w *world) exit(pid int32) {
	p := w.get(pid)
	ex := w.event(semconv.KindExit, p)
	rp := w.event(semconv.KindReap, p)
	rp.Reap.ReaperPID = p.PPID
	delete(w.procs, pid)
	delete(w.env, pid)
	adopter := int32(1)
	for a := p.PPID; a > 1; {
		if w.reaper[a] {
			adopter = a
			break
		}
		ap := w.procs[a]
		if ap == nil {
			break
		}
		a = ap.PPID
	}
	for _, c := range w.procs {
		if c.PPID == pid {
			c.PPID, c.ParentStart = adopter, w.get(adopter).Start
		}
	}
	w.step(ex, rp)
}

// idsOf is what an exporter derives for a record or span: trace, span and
// parent span ids.
type idsOf struct {
	trace  [16]byte
	span   [8]byte
	parent [8]byte
}

func (i idsOf) String() string {
	return fmt.Sprintf("trace %x span %x parent %x", i.trace[:4], i.span[:4], i.parent[:4])
}

func idsFor(p *semconv.Process, l semconv.Lineage) idsOf {
	s := semconv.SpanContextIDs("boot", p, l)
	return idsOf{s.TraceID, s.SpanID, s.ParentSpanID}
}

// restartIDs runs the world's events from step cut on through a pipeline
// seeded with what /proc showed at that step (cut 0: the continuous run)
// and returns the ids of every record ("kind pid@start") and span
// ("span pid@start") emitted from there on.
func restartIDs(t *testing.T, cfg Config, w *world, cut int) map[string]idsOf {
	t.Helper()
	evs := append([]semconv.Event(nil), w.steps[cut].seed...)
	for _, st := range w.steps[cut+1:] {
		evs = append(evs, st.events...)
	}
	rec, _ := run(t, cfg, evs...)
	out := map[string]idsOf{}
	for i := range rec.events {
		e := &rec.events[i]
		out[recKey(e.Kind.String(), e.Process.Key())] = idsFor(&e.Process, e.Lineage)
	}
	for i := range rec.lifetimes {
		l := &rec.lifetimes[i]
		out[recKey("span", l.Process.Key())] = idsFor(&l.Process, l.Lineage)
	}
	return out
}

// recKey names a record ("exec 200@1002000000") or a span ("span ...").
func recKey(kind string, k semconv.Key) string { return fmt.Sprintf("%s %d@%d", kind, k.PID, k.Start) }

// checkRestarts compares, for a restart after every step of the world,
// the ids a restarted pipeline gives the records and spans after the
// restart with those a pipeline that ran through gave them. want names
// ids of the continuous run that must hold (the rule, not only its
// stability): "kind pid" or "span pid" to the pid of its trace root and
// the pid of its parent span (0 for none).
func checkRestarts(t *testing.T, cfg Config, w *world, want map[string][2]int32) {
	t.Helper()
	cont := restartIDs(t, cfg, w, 0)
	keys := map[int32]semconv.Key{}
	for _, st := range w.steps {
		for _, e := range append(st.seed, st.events...) {
			keys[e.Process.PID] = e.Process.Key()
		}
	}
	for what, rp := range want {
		var kind string
		var pid int32
		fmt.Sscanf(what, "%s %d", &kind, &pid)
		got, ok := cont[recKey(kind, keys[pid])]
		if !ok {
			t.Errorf("continuous: no %s", what)
			continue
		}
		w := idsOf{trace: semconv.TraceID("boot", keys[rp[0]]), span: semconv.SpanID("boot", keys[pid])}
		if rp[1] != 0 {
			w.parent = semconv.SpanID("boot", keys[rp[1]])
		}
		if got != w {
			t.Errorf("continuous: %s has %v, want root %d, parent %d (%v)", what, got, rp[0], rp[1], w)
		}
	}
	for cut := 1; cut < len(w.steps); cut++ {
		after := restartIDs(t, cfg, w, cut)
		// Everything emitted after the restart point, in the continuous run.
		emitted := map[string]bool{}
		for _, st := range w.steps[cut+1:] {
			for _, e := range st.events {
				emitted[recKey(e.Kind.String(), e.Process.Key())] = true
				if e.Kind == semconv.KindExit {
					emitted[recKey("span", e.Process.Key())] = true
				}
			}
		}
		for k := range emitted {
			c, ok := cont[k]
			if !ok {
				t.Errorf("restart after step %d: the continuous run emitted no %s", cut, k)
				continue
			}
			if r, ok := after[k]; !ok {
				t.Errorf("restart after step %d: %s not emitted", cut, k)
			} else if r != c {
				t.Errorf("restart after step %d: %s: %v, continuously %v", cut, k, r, c)
			}
		}
	}
}

// The processes every world starts with: init, and a login shell leading
// its session and process group.
var (
	worldInit  = semconv.Process{PID: 1, Start: 1 * ms, PGID: 1, SID: 1, Exe: "/sbin/init", Comm: "init"}
	worldShell = semconv.Process{PID: 100, PPID: 1, Start: 50 * ms, ParentStart: 1 * ms, PGID: 100, SID: 100, Exe: "/bin/bash", Comm: "bash"}
)

// TestRestartSetsidAfterExec: C (200) runs in its parent's job, execs,
// then calls setsid; the next events show it leading a session and a
// group: C roots its own trace from then on, and so does everything
// below it, whether procotel ran through or restarted anywhere in
// between.
func TestRestartSetsidAfterExec(t *testing.T) {
	for _, second := range []bool{false, true} {
		w := newWorld(t, worldInit, worldShell)
		w.fork(100, 200)
		w.exec(200, "/usr/bin/server")
		w.setsid(200)
		if second {
			w.exec(200, "/usr/bin/server-worker") // reports the new session
		}
		w.fork(200, 300) // reports it too: a child inherits group and session
		w.exec(300, "/bin/true")
		w.exit(300)
		w.exit(200)
		for _, policy := range []semconv.RootPolicy{semconv.RootProcessGroup, semconv.RootSession} {
			t.Run(fmt.Sprintf("%s/second exec %v", policy, second), func(t *testing.T) {
				want := map[string][2]int32{
					"fork 200": {100, 100}, // in the shell's job
					"exec 300": {200, 200},
					"span 300": {200, 200},
					"exit 200": {200, 0},
					"span 200": {200, 0},
				}
				checkRestarts(t, Config{RootPolicy: policy}, w, want)
			})
		}
	}
}

// TestRestartJobControl: an interactive shell's job (200) makes its own
// process group before it execs (setpgid(0, 0)); the job's children are in
// that group. Under process_group the job roots a trace, under session it
// stays in the shell's.
func TestRestartJobControl(t *testing.T) {
	w := newWorld(t, worldInit, worldShell)
	w.fork(100, 200)
	w.setpgid(200, 200)
	w.exec(200, "/usr/bin/make")
	w.fork(200, 300)
	w.exec(300, "/usr/bin/cc")
	w.exit(300)
	w.exit(200)
	checkRestarts(t, Config{RootPolicy: semconv.RootProcessGroup}, w, map[string][2]int32{
		"fork 200": {100, 100}, "exec 200": {200, 0}, "span 200": {200, 0}, "span 300": {200, 200},
	})
	checkRestarts(t, Config{RootPolicy: semconv.RootSession}, w, map[string][2]int32{
		"fork 200": {100, 100}, "exec 200": {100, 100}, "span 200": {100, 100}, "span 300": {100, 200},
	})
}

// TestRestartDaemon: a daemon double-forks: 200 calls setsid and forks
// the daemon 300, then exits, and 300 is re-parented; a restarted
// procotel sees it as its adopter's child, not knowing 200.
//   - Re-parented to init, the daemon roots its trace; its children
//     join it.
//   - Under a subreaper (a user's service manager, 50, above the shell),
//     it joins the subreaper's trace below the subreaper's span, the only
//     parent a restarted procotel can see.
func TestRestartDaemon(t *testing.T) {
	mgr := semconv.Process{PID: 50, PPID: 1, Start: 20 * ms, ParentStart: 1 * ms, PGID: 50, SID: 50, Exe: "/usr/lib/systemd/systemd", Comm: "systemd"}
	underMgr := worldShell
	underMgr.PPID, underMgr.ParentStart = 50, 20*ms
	for _, c := range []struct {
		name    string
		procs   []semconv.Process
		adopter int32 // 0: init
	}{
		{"init", []semconv.Process{worldInit, worldShell}, 0},
		{"subreaper", []semconv.Process{worldInit, mgr, underMgr}, 50},
	} {
		w := newWorld(t, c.procs...)
		if c.adopter != 0 {
			w.reaper[c.adopter] = true
		}
		w.fork(100, 200)
		w.setsid(200)
		w.fork(200, 300)
		w.exit(200)
		w.exec(300, "/usr/sbin/daemond")
		w.fork(300, 400)
		w.exec(400, "/bin/helper")
		w.exit(400)
		w.exit(300)
		want := map[string][2]int32{
			"fork 300": {200, 200}, // still 200's child
			"exec 300": {300, 0}, "span 300": {300, 0}, "span 400": {300, 300},
		}
		if c.adopter != 0 {
			want["exec 300"] = [2]int32{c.adopter, c.adopter}
			want["span 300"] = [2]int32{c.adopter, c.adopter}
			want["span 400"] = [2]int32{c.adopter, 300}
		}
		for _, policy := range []semconv.RootPolicy{semconv.RootProcessGroup, semconv.RootSession} {
			t.Run(c.name+"/"+policy.String(), func(t *testing.T) {
				checkRestarts(t, Config{RootPolicy: policy}, w, want)
			})
		}
	}
}

// TestRestartTraceParent: a CI step (200) execs with a TRACEPARENT its
// shell has not; it roots its part of that trace, below the remote span,
// and its child follows, when the backend reads TRACEPARENT for the
// processes it seeds as well.
func TestRestartTraceParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	w := newWorld(t, worldInit, worldShell)
	w.fork(100, 200)
	w.execEnv(200, "/usr/bin/make", tp)
	w.fork(200, 300)
	w.exec(300, "/usr/bin/cc")
	w.exit(300)
	w.exit(200)
	checkRestarts(t, Config{}, w, nil)
	cont := restartIDs(t, Config{}, w, 0)
	var remote [8]byte
	copy(remote[:], []byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7})
	k200, k300 := semconv.KeyOf(200, 1001*ms), semconv.KeyOf(300, 1003*ms)
	if got := cont[recKey("span", k200)]; got.parent != remote || got.trace[0] != 0x4b {
		t.Errorf("make's span: %v, want the traceparent's trace and span as parent", got)
	}
	if got := cont[recKey("span", k300)]; got.parent != semconv.SpanID("boot", k200) || got.trace[0] != 0x4b {
		t.Errorf("cc's span: %v, want the traceparent's trace, below make", got)
	}
}

// TestAncestorStateMovesDescendants: 300 was forked before its parent 200
// called setsid, so it stays in the shell's group and session; once 200's
// next event shows it leading its own, 300 is in 200's trace from its next
// event on, under both policies (it walks up to the nearest root by the
// current state), and so is every record after a restart from there.
func TestAncestorStateMovesDescendants(t *testing.T) {
	w := newWorld(t, worldInit, worldShell)
	w.fork(100, 200)
	w.exec(200, "/usr/bin/server")
	w.fork(200, 300)
	w.setsid(200)
	w.exec(200, "/usr/bin/server") // shows the setsid
	w.exec(300, "/bin/worker")
	w.exit(300)
	w.exit(200)
	for _, policy := range []semconv.RootPolicy{semconv.RootProcessGroup, semconv.RootSession} {
		t.Run(policy.String(), func(t *testing.T) {
			cfg := Config{RootPolicy: policy}
			want := map[string][2]int32{
				"fork 300": {100, 200}, "exec 300": {200, 200}, "span 300": {200, 200}, "span 200": {200, 0},
			}
			checkRestarts(t, cfg, w, want)
		})
	}
}

// TestCloneParentTeachesNothing: a child made with CLONE_PARENT is its
// creator's sibling: its group and session are its creator's, not those of
// the parent it names, so they teach nothing about that parent.
func TestCloneParentTeachesNothing(t *testing.T) {
	sibling := withGroup(fork(1010*ms, 201, 100), 200, 200) // made by 200, after its setsid
	sibling.Fork.CloneFlags = cloneParent
	evs := []semconv.Event{
		existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"),
		existing(90, 1, 9*ms, 90, 90, "/usr/sbin/sshd", "sshd"),
		existing(100, 90, 50*ms, 100, 100, "/bin/bash", "bash"),
		withGroup(fork(1000*ms, 200, 100), 100, 100),
		sibling,
	}
	var shell ProcessInfo
	rec, _ := runHook(t, Config{}, func(p *Pipeline, _ *semconv.Event) { shell, _ = p.Lookup(100) }, evs...)
	var got []string
	for _, e := range rec.events {
		got = append(got, e.Kind.String()+" "+itoa(e.Process.PID)+" "+rootString(e.Root))
	}
	// 201 names 100 as its parent and leads no group: it is in 100's trace.
	equalLines(t, "roots", got, []string{"fork 200 100", "fork 201 100"})
	if shell.Process.PGID != 100 || shell.Process.SID != 100 {
		t.Errorf("shell: group %d session %d, want 100 100", shell.Process.PGID, shell.Process.SID)
	}
}
