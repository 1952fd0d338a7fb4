package pipeline

import (
	"context"
	"encoding/hex"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

func seedInitAndShell() []semconv.Event {
	sh := existing(100, 1, 50*ms, 100, 100, "/bin/bash", "bash")
	sh.Process.TTY = "pts/0"
	return []semconv.Event{
		existing(1, 0, 1*ms, 1, 1, "/sbin/init", "/sbin/init"),
		sh,
	}
}

func TestOrderingAndLifecycle(t *testing.T) {
	evs := append(seedInitAndShell(),
		withGroup(fork(1000*ms, 101, 100), 100, 100),
		exit(1005*ms, 101, 3, 0),                        // arrives before the exec it follows
		execOK(1002*ms, 101, "/usr/bin/ls", "ls", "-l"), // reordered by the window
		reap(1006*ms, 101),
	)
	rec, p := run(t, Config{}, evs...)
	equalLines(t, "events", lines(rec), []string{
		`fork pid=101 ppid=100 start=1000 pstart=50 exe=/bin/bash argv=["bash"] comm=bash root=100`,
		`exec pid=101 ppid=100 start=1000 pstart=50 exe=/usr/bin/ls argv=["ls" "-l"] comm=ls root=100`,
		`exit pid=101 ppid=100 start=1000 pstart=50 exe=/usr/bin/ls argv=["ls" "-l"] comm=ls root=100 code=3 sig=0`,
		`reap pid=101 ppid=100 start=1000 pstart=50 exe=/usr/bin/ls argv=["ls" "-l"] comm=ls root=100`,
	})
	equalLines(t, "lifetimes", ltLines(rec), []string{
		`lifetime pid=101 ppid=100 exe=/usr/bin/ls root=100 start=1000ms end=1005ms exited=true code=3 sig=0 seeded=false incomplete=false children=0 execs=[/usr/bin/ls:0@1002ms]`,
	})
	equalLines(t, "call order", rec.order, []string{"e:fork 101", "e:exec 101", "e:exit 101", "l:101", "e:reap 101"})

	st := p.Stats()
	if st.In[semconv.KindExisting] != 2 || st.In[semconv.KindExec] != 1 || st.Out[semconv.KindExisting] != 0 {
		t.Errorf("In/Out: in=%v out=%v", st.In, st.Out)
	}
	for _, k := range []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExit, semconv.KindReap} {
		if st.Out[k] != 1 {
			t.Errorf("Out[%s] = %d, want 1", k, st.Out[k])
		}
	}
	if st.Reordered != 1 || st.Late != 0 || st.Lifetimes != 1 {
		t.Errorf("Reordered=%d Late=%d Lifetimes=%d, want 1 0 1", st.Reordered, st.Late, st.Lifetimes)
	}
	if st.Live != 2 || st.Reaped != 1 || st.Exited != 0 || st.TableSize != 3 {
		t.Errorf("table: live=%d exited=%d reaped=%d size=%d", st.Live, st.Exited, st.Reaped, st.TableSize)
	}
	if rec.closed != 0 {
		t.Errorf("Run closed the sinks")
	}
	if err := p.Close(context.Background()); err != nil || rec.closed != 1 {
		t.Errorf("Close: %v, closed %d times", err, rec.closed)
	}
	if err := p.Close(context.Background()); err != nil || rec.closed != 1 {
		t.Errorf("second Close: %v, closed %d times", err, rec.closed)
	}
}

func TestEnrichmentExact(t *testing.T) {
	ex := execOK(1002*ms, 101, "/usr/bin/curl", "curl", "x")
	evs := append(seedInitAndShell(), fork(1000*ms, 101, 100), ex, exit(1005*ms, 101, 0, 0))
	rec, _ := run(t, Config{}, evs...)
	if len(rec.events) != 3 {
		t.Fatalf("got %d events, want 3", len(rec.events))
	}
	shell := semconv.KeyOf(100, 50*ms)
	creds := semconv.Creds{UID: 1000, EUID: 1000, GID: 100, EGID: 100}
	wantFork := semconv.Event{
		Kind: semconv.KindFork, Time: at(1000 * ms), BootNS: 1000 * ms, OS: semconv.OSLinux,
		Process: semconv.Process{PID: 101, TID: 101, PPID: 100, Start: 1000 * ms, ParentStart: 50 * ms, Creds: creds,
			PGID: 100, SID: 100, TTY: "pts/0", Comm: "bash", Exe: "/bin/bash", Argv: []string{"bash"}, Cwd: "/home/u"},
		Fork:    semconv.ForkInfo{ParentTID: 100},
		Lineage: semconv.Lineage{Root: shell, Creator: shell},
	}
	wantExit := semconv.Event{
		Kind: semconv.KindExit, Time: at(1005 * ms), BootNS: 1005 * ms, OS: semconv.OSLinux,
		Process: semconv.Process{PID: 101, TID: 101, PPID: 100, Start: 1000 * ms, ParentStart: 50 * ms, Creds: creds,
			PGID: 100, SID: 100, TTY: "pts/0", Comm: "curl", Exe: "/usr/bin/curl", Argv: []string{"curl", "x"}, Cwd: "/home/u"},
		Lineage: semconv.Lineage{Root: shell, Creator: shell},
	}
	if !reflect.DeepEqual(rec.events[0], wantFork) {
		t.Errorf("fork:\n got %+v\nwant %+v", rec.events[0], wantFork)
	}
	if !reflect.DeepEqual(rec.events[2], wantExit) {
		t.Errorf("exit:\n got %+v\nwant %+v", rec.events[2], wantExit)
	}
	lt := rec.lifetimes[0]
	wantLt := semconv.Lifetime{
		Process: wantExit.Process, Lineage: semconv.Lineage{Root: shell, Creator: shell}, OS: semconv.OSLinux, Start: at(1000 * ms), Created: at(1000 * ms), End: at(1005 * ms), Exited: true,
		Execs: []semconv.ExecRecord{{Time: at(1002 * ms), Filename: "/usr/bin/curl", Exe: "/usr/bin/curl", Argv: []string{"curl", "x"},
			ExecFacts: semconv.ExecFacts{ParentExe: "/bin/bash"}}},
	}
	if !reflect.DeepEqual(lt, wantLt) {
		t.Errorf("lifetime:\n got %+v\nwant %+v", lt, wantLt)
	}
}

func TestCredsComplete(t *testing.T) {
	// A process that became root: with CredsComplete its all-zero creds
	// are root's, not missing.
	su := execOK(1002*ms, 101, "/usr/bin/su", "su")
	for _, complete := range []bool{false, true} {
		evs := append(seedInitAndShell(), fork(1000*ms, 101, 100), su)
		rec, _ := run(t, Config{CredsComplete: complete}, evs...)
		got := rec.events[1].Process.Creds
		want := semconv.Creds{UID: 1000, EUID: 1000, GID: 100, EGID: 100}
		if complete {
			want = semconv.Creds{}
		}
		if got != want {
			t.Errorf("CredsComplete=%v: creds %+v, want %+v", complete, got, want)
		}
	}
}

func TestExecPairing(t *testing.T) {
	sh := existing(100, 1, 50*ms, 100, 100, "/bin/sh", "sh")
	sh.OS = semconv.OSFreeBSD
	attempt := func(ts uint64, pid, tid int32, file string, argv ...string) semconv.Event {
		return semconv.Event{Kind: semconv.KindExecAttempt, Time: at(ts), BootNS: ts, OS: semconv.OSFreeBSD,
			Process: semconv.Process{PID: pid, TID: tid}, Exec: semconv.ExecInfo{Filename: file, Argv: argv}}
	}
	// Results as DTrace's exec-success and exec-failure give them: no
	// path, no argv.
	success := semconv.Event{Kind: semconv.KindExec, Time: at(1002 * ms), BootNS: 1002 * ms, OS: semconv.OSFreeBSD,
		Process: semconv.Process{PID: 101, TID: 100101}}
	failure := semconv.Event{Kind: semconv.KindExecFailed, Time: at(1012 * ms), BootNS: 1012 * ms, OS: semconv.OSFreeBSD,
		Process: semconv.Process{PID: 102, TID: 100102}, Exec: semconv.ExecInfo{Errno: 2}}
	evs := []semconv.Event{
		sh,
		fork(1000*ms, 101, 100),
		attempt(1001*ms, 101, 100101, "/usr/bin/env", "env", "FOO=1", "/bin/true"),
		success,
		fork(1010*ms, 102, 100),
		attempt(1011*ms, 102, 100102, "/nonexistent", "nonexistent"),
		failure,
		attempt(1020*ms, 100, 100100, "/bin/lost"),         // never answered: expires
		exit(12000*ms, 101, 0, 0),                          // 11 s later: the sweep forgets /bin/lost
		attempt(12001*ms, 100, 100100, "/bin/also-lost"),   // pending at shutdown
		attempt(12002*ms, 102, 100102, "/bin/dies-before"), // its process exits first
		exit(12003*ms, 102, 1, 0),
	}
	for i := range evs {
		evs[i].OS = semconv.OSFreeBSD
	}
	rec, p := run(t, Config{}, evs...)
	equalLines(t, "events", lines(rec), []string{
		`fork pid=101 ppid=100 start=1000 pstart=50 exe=/bin/sh argv=["sh"] comm=sh root=100`,
		`exec pid=101 ppid=100 start=1000 pstart=50 exe=/usr/bin/env argv=["env" "FOO=1" "/bin/true"] comm=env root=100`,
		`fork pid=102 ppid=100 start=1010 pstart=50 exe=/bin/sh argv=["sh"] comm=sh root=100`,
		`exec_failed pid=102 ppid=100 start=1010 pstart=50 exe=/bin/sh argv=["sh"] comm=sh root=100 file=/nonexistent errno=2`,
		`exit pid=101 ppid=100 start=1000 pstart=50 exe=/usr/bin/env argv=["env" "FOO=1" "/bin/true"] comm=env root=100 code=0 sig=0`,
		`exit pid=102 ppid=100 start=1010 pstart=50 exe=/bin/sh argv=["sh"] comm=sh root=100 code=1 sig=0`,
	})
	if got := rec.events[3].Exec.Argv; !reflect.DeepEqual(got, []string{"nonexistent"}) {
		t.Errorf("failed exec argv = %q", got)
	}
	equalLines(t, "lifetimes", ltLines(rec), []string{
		`lifetime pid=101 ppid=100 exe=/usr/bin/env root=100 start=1000ms end=12000ms exited=true code=0 sig=0 seeded=false incomplete=false children=0 execs=[/usr/bin/env:0@1002ms]`,
		`lifetime pid=102 ppid=100 exe=/bin/sh root=100 start=1010ms end=12003ms exited=true code=1 sig=0 seeded=false incomplete=false children=0 execs=[/nonexistent:2@1012ms]`,
	})
	st := p.Stats()
	if st.PairedExecs != 2 || st.UnpairedExecAttempts != 3 {
		t.Errorf("paired %d unpaired %d, want 2 3", st.PairedExecs, st.UnpairedExecAttempts)
	}
	if st.Out[semconv.KindExecAttempt] != 0 || st.In[semconv.KindExecAttempt] != 5 {
		t.Errorf("exec attempts in %d out %d", st.In[semconv.KindExecAttempt], st.Out[semconv.KindExecAttempt])
	}
}

func TestExecFromNonLeaderThreadKeepsIdentity(t *testing.T) {
	ex := execOK(1002*ms, 101, "/usr/bin/python3", "python3")
	ex.Process.Start = 1001 * ms * 7 // the thread's own start time
	ex.Process.TID = 101
	ex.Exec.OldTID = 105
	evs := append(seedInitAndShell(), fork(1000*ms, 101, 100), ex, exit(1010*ms, 101, 0, 0))
	rec, p := run(t, Config{}, evs...)
	equalLines(t, "events", lines(rec), []string{
		`fork pid=101 ppid=100 start=1000 pstart=50 exe=/bin/bash argv=["bash"] comm=bash root=100`,
		`exec pid=101 ppid=100 start=1000 pstart=50 exe=/usr/bin/python3 argv=["python3"] comm=python3 root=100`,
		`exit pid=101 ppid=100 start=1000 pstart=50 exe=/usr/bin/python3 argv=["python3"] comm=python3 root=100 code=0 sig=0`,
	})
	if st := p.Stats(); st.Unmatched != ([semconv.NumKinds]uint64{}) || len(rec.lifetimes) != 1 {
		t.Errorf("unmatched %v, lifetimes %d", st.Unmatched, len(rec.lifetimes))
	}
}

func TestLineageAndReparenting(t *testing.T) {
	evs := append(seedInitAndShell(),
		existing(50, 1, 20*ms, 50, 50, "/usr/lib/systemd/systemd", "systemd", "--user"),
		withGroup(fork(1000*ms, 101, 100), 100, 100),
		withGroup(fork(1010*ms, 102, 101), 100, 100),
		exit(1020*ms, 101, 0, 0),
	)
	// The next event of 102 reports its new parent, a subreaper: it joins
	// the subreaper's trace, below the subreaper's span.
	ex := execOK(1030*ms, 102, "/usr/bin/daemon", "daemon")
	ex.Process.PPID = 50
	evs = append(evs, ex)

	var mid ProcessInfo
	rec, p := runHook(t, Config{}, func(p *Pipeline, e *semconv.Event) {
		// Sinks may use the views while Run is delivering.
		if e.Kind == semconv.KindExit {
			mid, _ = p.Lookup(102)
		}
	}, evs...)
	equalLines(t, "events", lines(rec), []string{
		`fork pid=101 ppid=100 start=1000 pstart=50 exe=/bin/bash argv=["bash"] comm=bash root=100`,
		`fork pid=102 ppid=101 start=1010 pstart=1000 exe=/bin/bash argv=["bash"] comm=bash root=100`,
		`exit pid=101 ppid=100 start=1000 pstart=50 exe=/bin/bash argv=["bash"] comm=bash root=100 code=0 sig=0`,
		`exec pid=102 ppid=50 start=1010 pstart=20 exe=/usr/bin/daemon argv=["daemon"] comm=daemon root=50`,
	})
	if mid.Process.PPID != 1 || mid.Parent != semconv.KeyOf(1, 1*ms) || mid.Creator != semconv.KeyOf(101, 1000*ms) {
		t.Errorf("after parent exit: ppid %d parent %v creator %v, want 1, init, 101", mid.Process.PPID, mid.Parent, mid.Creator)
	}
	info, ok := p.Lookup(102)
	if !ok || info.Parent != semconv.KeyOf(50, 20*ms) || info.Root != semconv.KeyOf(50, 20*ms) || info.Lineage.Creator != semconv.KeyOf(50, 20*ms) {
		t.Errorf("Lookup(102) = %+v, %v", info, ok)
	}
	if st := p.Stats(); st.Reparented != 2 {
		t.Errorf("Reparented = %d, want 2", st.Reparented)
	}
	// Subtrees follow creation: 102 stays under 100 though its parent is 50.
	proc102 := info.Process
	if !p.Descends(&proc102, 100) || !p.Descends(&proc102, 101) || p.Descends(&proc102, 50) {
		t.Errorf("Descends: 100=%v 101=%v 50=%v, want true true false",
			p.Descends(&proc102, 100), p.Descends(&proc102, 101), p.Descends(&proc102, 50))
	}

	tree := p.Tree(0)
	if got := treeString(tree); got != "1(50(102) 100)" {
		t.Errorf("Tree(0) = %s", got)
	}
	if got := treeString(p.Tree(50)); got != "50(102)" {
		t.Errorf("Tree(50) = %s", got)
	}
	if got := p.Tree(101); got != nil {
		t.Errorf("Tree of exited 101 = %s, want nil", treeString(got))
	}
	snap := p.Snapshot()
	var pids []int32
	for _, s := range snap {
		pids = append(pids, s.PID)
	}
	if !reflect.DeepEqual(pids, []int32{1, 50, 100, 102}) {
		t.Errorf("Snapshot pids = %v", pids)
	}
}

func treeString(nodes []*TreeNode) string {
	s := ""
	for i, n := range nodes {
		if i > 0 {
			s += " "
		}
		s += itoa(n.Process.PID)
		if len(n.Children) > 0 {
			s += "(" + treeString(n.Children) + ")"
		}
	}
	return s
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func TestRootPolicies(t *testing.T) {
	shim := existing(300, 1, 30*ms, 1, 1, "/usr/bin/containerd-shim", "containerd-shim")
	ctr := existing(301, 300, 31*ms, 301, 301, "/app", "app")
	ctr.Process.ContainerID = "c1c1c1"
	evs := []semconv.Event{
		existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"),
		existing(100, 1, 10*ms, 100, 100, "/usr/sbin/sshd", "sshd"),
		existing(200, 100, 20*ms, 200, 200, "/bin/bash", "bash"),
		shim, ctr,
		withGroup(fork(1000*ms, 201, 200), 200, 200),
	}
	// The shell makes 201 a job leader before it execs.
	ex := execOK(1001*ms, 201, "/usr/bin/make", "make")
	ex.Process.PGID, ex.Process.SID = 201, 200
	evs = append(evs, ex,
		withGroup(fork(1002*ms, 202, 201), 201, 200),
		fork(1003*ms, 302, 301),
		withGroup(fork(1004*ms, 400, 999), 999, 999), // parent unknown
	)
	cases := []struct {
		policy semconv.RootPolicy
		want   []string
	}{
		{semconv.RootProcessGroup, []string{"fork 201 200", "exec 201 self", "fork 202 201", "fork 302 301", "fork 400 self"}},
		{semconv.RootSession, []string{"fork 201 200", "exec 201 200", "fork 202 200", "fork 302 301", "fork 400 self"}},
		{semconv.RootContainer, []string{"fork 201 1", "exec 201 1", "fork 202 1", "fork 302 301", "fork 400 self"}},
		{semconv.RootNone, []string{"fork 201 self", "exec 201 self", "fork 202 self", "fork 302 self", "fork 400 self"}},
	}
	for _, c := range cases {
		t.Run(c.policy.String(), func(t *testing.T) {
			rec, p := run(t, Config{RootPolicy: c.policy}, evs...)
			var got []string
			for _, e := range rec.events {
				got = append(got, e.Kind.String()+" "+itoa(e.Process.PID)+" "+rootString(e.Root))
			}
			equalLines(t, "roots", got, c.want)
			// Seeded roots are decided once the parents are all known;
			// the container's first process is a root under every policy.
			info, _ := p.Lookup(301)
			if rootString(info.Root) != "self" {
				t.Errorf("root of seeded 301 = %s", rootString(info.Root))
			}
			info, _ = p.Lookup(200)
			wantSh := map[semconv.RootPolicy]string{
				semconv.RootProcessGroup: "self", semconv.RootSession: "self", semconv.RootContainer: "1", semconv.RootNone: "self",
			}[c.policy]
			if rootString(info.Root) != wantSh {
				t.Errorf("root of seeded 200 = %s, want %s", rootString(info.Root), wantSh)
			}
		})
	}
}

func TestContainerRootAtFirstExec(t *testing.T) {
	// runc forks on the host, moves the child into the container, and the
	// child execs the entrypoint: the container's trace starts there.
	ex := execOK(1001*ms, 310, "/app", "app")
	ex.Process.ContainerID = "c2c2"
	evs := []semconv.Event{
		existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"),
		existing(300, 1, 30*ms, 1, 1, "/usr/bin/runc", "runc"),
		fork(1000*ms, 310, 300),
		ex,
		fork(1002*ms, 311, 310),
		exit(1003*ms, 311, 0, 0),
		exit(1004*ms, 310, 0, 0),
	}
	rec, _ := run(t, Config{RootPolicy: semconv.RootContainer}, evs...)
	var got []string
	for _, e := range rec.events {
		got = append(got, e.Kind.String()+" "+itoa(e.Process.PID)+" "+rootString(e.Root)+" "+e.Process.ContainerID)
	}
	equalLines(t, "roots", got, []string{"fork 310 1 ", "exec 310 self c2c2", "fork 311 310 c2c2", "exit 311 310 c2c2", "exit 310 self c2c2"})
}

func TestSeedChildBeforeParent(t *testing.T) {
	// /proc order is not lineage order: a child may be seeded first.
	evs := []semconv.Event{
		existing(300, 200, 30*ms, 200, 200, "/bin/sleep", "sleep"),
		existing(200, 1, 20*ms, 200, 200, "/bin/bash", "bash"),
		existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"),
		exit(2000*ms, 300, 0, 0),
	}
	rec, p := run(t, Config{}, evs...)
	equalLines(t, "events", lines(rec), []string{
		`exit pid=300 ppid=200 start=30 pstart=20 exe=/bin/sleep argv=["sleep"] comm=sleep root=200 code=0 sig=0`,
	})
	equalLines(t, "lifetimes", ltLines(rec), []string{
		`lifetime pid=300 ppid=200 exe=/bin/sleep root=200 start=30ms end=2000ms exited=true code=0 sig=0 seeded=true incomplete=false children=0 execs=[]`,
	})
	if got := treeString(p.Tree(0)); got != "1(200)" {
		t.Errorf("tree = %s", got)
	}
}

func TestLifetimes(t *testing.T) {
	evs := append(seedInitAndShell(),
		fork(1000*ms, 101, 100),
		fork(1100*ms, 102, 100),
		execOK(1101*ms, 102, "/bin/sleep", "sleep", "100"),
		exit(2000*ms, 100, 0, 9), // the shell is killed: init adopts 101 and 102
		exit(2100*ms, 101, 0, 0),
	)
	for _, cfg := range []Config{{}, {Clock: semconv.Clock{BootWall: boot}}} {
		rec := &recorder{}
		p := New(Config{FlushIncomplete: true, Clock: cfg.Clock}, rec)
		p.now = func() time.Time { return at(5000 * ms) }
		if err := p.Run(context.Background(), semconv.QueueOf(evs...)); err != nil {
			t.Fatal(err)
		}
		// Re-parented to init, an orphan roots its own trace.
		equalLines(t, "lifetimes", ltLines(rec), []string{
			`lifetime pid=100 ppid=1 exe=/bin/bash root=self start=50ms end=2000ms exited=true code=0 sig=9 seeded=true incomplete=false children=2 execs=[]`,
			`lifetime pid=101 ppid=1 exe=/bin/bash root=self start=1000ms end=2100ms exited=true code=0 sig=0 seeded=false incomplete=false children=0 execs=[]`,
			`lifetime pid=1 ppid=0 exe=/sbin/init root=self start=1ms end=5000ms exited=false code=0 sig=0 seeded=true incomplete=true children=0 execs=[]`,
			`lifetime pid=102 ppid=1 exe=/bin/sleep root=self start=1100ms end=5000ms exited=false code=0 sig=0 seeded=false incomplete=true children=0 execs=[/bin/sleep:0@1101ms]`,
		})
		st := p.Stats()
		if st.Lifetimes != 4 || st.Incomplete != 2 {
			t.Errorf("Lifetimes %d Incomplete %d, want 4 2", st.Lifetimes, st.Incomplete)
		}
	}
}

func TestLostAndUnmatched(t *testing.T) {
	evs := append(seedInitAndShell(),
		fork(1000*ms, 101, 100),
		// 101's exit was lost; its pid is reused.
		fork(2000*ms, 101, 100),
		// 102 is reaped without an exit.
		fork(3000*ms, 102, 100),
		reap(3100*ms, 102),
		// Events about processes never seen.
		exit(4000*ms, 555, 1, 0),
		reap(4001*ms, 556),
		// A second exit of the same process.
		exit(5000*ms, 101, 0, 0),
		exit(5001*ms, 101, 0, 0),
	)
	evs[len(evs)-4].Process.PPID = 100 // 555's parent is the shell
	rec, p := run(t, Config{}, evs...)
	equalLines(t, "order", rec.order, []string{
		"e:fork 101",
		"e:fork 101", "l:101",
		"e:fork 102",
		"e:reap 102", "l:102",
		"e:exit 555", "l:555",
		"e:reap 556",
		"e:exit 101", "l:101",
		"e:exit 101",
	})
	equalLines(t, "lifetimes", ltLines(rec), []string{
		`lifetime pid=101 ppid=100 exe=/bin/bash root=100 start=1000ms end=2000ms exited=false code=0 sig=0 seeded=false incomplete=true children=0 execs=[]`,
		`lifetime pid=102 ppid=100 exe=/bin/bash root=100 start=3000ms end=3100ms exited=false code=0 sig=0 seeded=false incomplete=true children=0 execs=[]`,
		`lifetime pid=555 ppid=100 exe= root=100 start=zero end=4000ms exited=true code=1 sig=0 seeded=true incomplete=false children=0 execs=[]`,
		`lifetime pid=101 ppid=100 exe=/bin/bash root=100 start=2000ms end=5000ms exited=true code=0 sig=0 seeded=false incomplete=false children=0 execs=[]`,
	})
	st := p.Stats()
	if st.LostExits != 2 || st.Unmatched[semconv.KindExit] != 1 || st.Unmatched[semconv.KindReap] != 1 || st.Duplicates != 1 {
		t.Errorf("lost %d unmatched %v duplicates %d", st.LostExits, st.Unmatched, st.Duplicates)
	}
	// The two unmatched events, as the backend gave them, with when they
	// came after the first event (the fork at 1000 ms).
	want := []Unmatched{
		{Kind: semconv.KindExit, PID: 555, PPID: 100, BootNS: uint64(4000 * ms), SinceStart: 3000 * time.Millisecond},
		{Kind: semconv.KindReap, PID: 556, BootNS: uint64(4001 * ms), SinceStart: 3001 * time.Millisecond},
	}
	if !slices.Equal(st.UnmatchedFirst, want) {
		t.Fatalf("first unmatched %+v, want %+v", st.UnmatchedFirst, want)
	}
	if got, want := st.UnmatchedFirst[0].String(), "exit of pid 555 (, ?, parent 100, start unknown), 3s after the first event"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestUnmatchedFirstKeepsFew: of many unmatched events, Stats counts all
// and describes the first UnmatchedSamples, copied out of the pipeline.
func TestUnmatchedFirstKeepsFew(t *testing.T) {
	evs := seedInitAndShell()
	for i := int32(0); i < 10; i++ {
		e := execOK(uint64(1000+i)*uint64(ms), 700+i, "/usr/bin/dash", "sh", "-c", "true")
		e.Process.PPID, e.Process.Start = 1, uint64(900*ms)
		evs = append(evs, e)
	}
	_, p := run(t, Config{}, evs...)
	st := p.Stats()
	if st.Unmatched[semconv.KindExec] != 10 || len(st.UnmatchedFirst) != UnmatchedSamples {
		t.Fatalf("unmatched execs %d, described %d; want 10 and %d", st.Unmatched[semconv.KindExec], len(st.UnmatchedFirst), UnmatchedSamples)
	}
	for i, u := range st.UnmatchedFirst {
		if u.PID != 700+int32(i) || u.Kind != semconv.KindExec || u.Exe != "/usr/bin/dash" || u.Comm != "dash" || u.PPID != 1 {
			t.Errorf("unmatched %d: %+v", i, u)
		}
	}
	got := st.UnmatchedFirst[1].String()
	if want := "exec of pid 701 (dash, /usr/bin/dash, parent 1, started 0.101s before it), 1ms after the first event"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	st.UnmatchedFirst[0].PID = -1 // a copy: the pipeline's stays
	if p.Stats().UnmatchedFirst[0].PID != 700 {
		t.Error("Stats shares UnmatchedFirst with the pipeline")
	}
}

func TestEviction(t *testing.T) {
	evs := []semconv.Event{
		existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"),
		fork(1000*ms, 10, 1),
		fork(1100*ms, 11, 1),
		fork(1200*ms, 12, 1),
		exit(1300*ms, 10, 0, 0),
		reap(1301*ms, 10),
		exit(1400*ms, 11, 0, 0),
		fork(1500*ms, 13, 1), // full: the reaped 10 goes
		fork(1600*ms, 14, 1), // full: the exited 11 goes
		fork(1700*ms, 15, 1), // full: the least recently active live one, 12, goes
	}
	_, p := run(t, Config{MaxProcesses: 4}, evs...)
	st := p.Stats()
	if st.TableSize != 4 || st.Live != 4 || st.Evicted != 3 || st.EvictedLive != 1 {
		t.Errorf("size %d live %d evicted %d evictedLive %d, want 4 4 3 1", st.TableSize, st.Live, st.Evicted, st.EvictedLive)
	}
	for _, pid := range []int32{10, 11, 12} {
		if _, ok := p.Lookup(pid); ok {
			t.Errorf("%d still in the table", pid)
		}
	}
	for _, pid := range []int32{1, 13, 14, 15} {
		if _, ok := p.Lookup(pid); !ok {
			t.Errorf("%d not in the table", pid)
		}
	}
	if got := treeString(p.Tree(0)); got != "1(13 14 15)" {
		t.Errorf("tree = %s", got)
	}
}

func TestEvictionBoundUnderChurn(t *testing.T) {
	evs := []semconv.Event{existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init")}
	ts := 1000 * ms
	for i := 0; i < 2000; i++ {
		pid := int32(1000 + i)
		evs = append(evs, fork(ts, pid, 1), exit(ts+ms, pid, 0, 0), reap(ts+2*ms, pid))
		ts += 3 * ms
	}
	rec, p := run(t, Config{MaxProcesses: 100}, evs...)
	st := p.Stats()
	if st.TableSize > 100 || st.EvictedLive != 0 || st.Evicted != 2001-100 {
		t.Errorf("size %d evicted %d evictedLive %d", st.TableSize, st.Evicted, st.EvictedLive)
	}
	if len(rec.lifetimes) != 2000 {
		t.Errorf("%d lifetimes, want 2000", len(rec.lifetimes))
	}
	if _, ok := p.Lookup(1); !ok {
		t.Errorf("init was evicted")
	}
}

// Reaped processes beyond KeepReaped are forgotten, oldest first, without
// counting as evictions; live and exited ones are never forgotten.
func TestKeepReaped(t *testing.T) {
	evs := []semconv.Event{existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"), fork(900*ms, 999, 1)}
	ts := 1000 * ms
	for i := 0; i < 50; i++ {
		pid := int32(1000 + i)
		evs = append(evs, fork(ts, pid, 1), exit(ts+ms, pid, 0, 0), reap(ts+2*ms, pid))
		ts += 3 * ms
	}
	evs = append(evs, exit(ts, 999, 0, 0)) // exited, not reaped
	rec, p := run(t, Config{KeepReaped: 5}, evs...)
	st := p.Stats()
	if st.Reaped != 5 || st.Forgotten != 45 || st.Evicted != 0 || st.Exited != 1 || st.Live != 1 {
		t.Errorf("reaped %d forgotten %d evicted %d exited %d live %d, want 5 45 0 1 1",
			st.Reaped, st.Forgotten, st.Evicted, st.Exited, st.Live)
	}
	for pid := int32(1000); pid < 1050; pid++ {
		_, ok := p.Lookup(pid)
		if want := pid >= 1045; ok != want {
			t.Errorf("pid %d in the table: %v, want %v", pid, ok, want)
		}
	}
	if _, ok := p.Lookup(999); !ok {
		t.Error("the exited, unreaped 999 was forgotten")
	}
	if len(rec.lifetimes) != 51 {
		t.Errorf("%d lifetimes, want 51", len(rec.lifetimes))
	}

	_, p = run(t, Config{KeepReaped: -1}, evs...)
	if st := p.Stats(); st.Reaped != 0 || st.Forgotten != 50 {
		t.Errorf("KeepReaped -1: reaped %d forgotten %d, want 0 50", st.Reaped, st.Forgotten)
	}
}

func TestRedactionInPipeline(t *testing.T) {
	argv := []string{"curl", "-H", "Authorization: Bearer abc.def", "https://bob:hunter2@example.com/x", "--token", "s3cr3t"}
	ex := execOK(1002*ms, 101, "/usr/bin/curl", argv...)
	evs := append(seedInitAndShell(), fork(1000*ms, 101, 100), ex, exit(1005*ms, 101, 0, 0))
	rec, _ := run(t, Config{}, evs...)
	want := []string{"curl", "-H", "Authorization: Bearer [REDACTED]", "https://bob:[REDACTED]@example.com/x", "--token", "[REDACTED]"}
	for _, e := range rec.events[1:] {
		if !reflect.DeepEqual(e.Process.Argv, want) {
			t.Errorf("%s argv = %q", e.Kind, e.Process.Argv)
		}
	}
	if !reflect.DeepEqual(rec.events[1].Exec.Argv, want) {
		t.Errorf("exec Exec.Argv = %q", rec.events[1].Exec.Argv)
	}
	if got := rec.lifetimes[0].Execs[0].Argv; !reflect.DeepEqual(got, want) {
		t.Errorf("ExecRecord argv = %q", got)
	}
	if argv[5] != "s3cr3t" {
		t.Errorf("the backend's argv was modified")
	}

	rec, _ = run(t, Config{Redact: &Redactor{Disabled: true}}, evs...)
	if !reflect.DeepEqual(rec.events[1].Process.Argv, argv) {
		t.Errorf("disabled redactor changed argv: %q", rec.events[1].Process.Argv)
	}
}

func TestFilterInPipeline(t *testing.T) {
	f, err := ParseFilter("exe=*/curl")
	if err != nil {
		t.Fatal(err)
	}
	evs := append(seedInitAndShell(),
		fork(1000*ms, 101, 100),
		execOK(1001*ms, 101, "/usr/bin/curl", "curl"),
		exit(1002*ms, 101, 0, 0),
		fork(1010*ms, 102, 100),
		execOK(1011*ms, 102, "/bin/ls", "ls"),
		withGroup(fork(1012*ms, 103, 102), 100, 100), // tracked though filtered: inherits /bin/ls
		exit(1013*ms, 102, 0, 0),
	)
	rec, p := run(t, Config{Filter: f}, evs...)
	equalLines(t, "order", rec.order, []string{"e:exec 101", "e:exit 101", "l:101"})
	st := p.Stats()
	if st.Filtered[semconv.KindFork] != 3 || st.Filtered[semconv.KindExec] != 1 || st.Filtered[semconv.KindExit] != 1 ||
		st.LifetimesFiltered != 1 || st.Lifetimes != 1 {
		t.Errorf("filtered %v lifetimesFiltered %d lifetimes %d", st.Filtered, st.LifetimesFiltered, st.Lifetimes)
	}
	if info, ok := p.Lookup(103); !ok || info.Process.Exe != "/bin/ls" || info.Process.PPID != 1 {
		t.Errorf("filtered-out 103 not tracked: %+v %v", info.Process, ok)
	}

	// A subtree filter follows creation.
	f, _ = ParseFilter("pid=101+")
	evs = append(seedInitAndShell(),
		fork(1000*ms, 101, 100),
		fork(1001*ms, 102, 101),
		fork(1002*ms, 103, 100),
		exit(1003*ms, 101, 0, 0),
		exit(1004*ms, 102, 0, 0),
	)
	rec, _ = run(t, Config{Filter: f}, evs...)
	equalLines(t, "subtree", rec.order, []string{"e:fork 101", "e:fork 102", "e:exit 101", "l:101", "e:exit 102", "l:102"})
}

func TestWindowReleasesOnQuietSystem(t *testing.T) {
	rec := &recorder{}
	p := New(Config{Window: 5 * time.Millisecond}, rec)
	in := semconv.NewQueue(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, in) }()
	for _, e := range append(seedInitAndShell(), fork(1000*ms, 101, 100)) {
		in.Send(&e)
	}
	in.Flush()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.events)
		rec.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the window did not release the fork on a quiet system")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background(), in); err == nil {
		t.Errorf("second Run succeeded")
	}
}

func TestShutdownTakesQueuedEvents(t *testing.T) {
	rec := &recorder{}
	p := New(Config{Window: time.Hour}, rec)
	in := semconv.NewQueue(16, 0)
	for _, e := range append(seedInitAndShell(), fork(1000*ms, 101, 100), exit(1001*ms, 101, 0, 0)) {
		in.Send(&e)
	}
	in.Flush()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Run(ctx, in); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "order", rec.order, []string{"e:fork 101", "e:exit 101", "l:101"})
}

func TestLateEventsAreCounted(t *testing.T) {
	evs := append(seedInitAndShell(),
		fork(1000*ms, 101, 100),
		fork(1100*ms, 102, 100), // releases 101 (older than newest - window)
		fork(1050*ms, 103, 100), // reordered, and released at once, before 102
		fork(1200*ms, 104, 100), // releases 102
	)
	rec, p := run(t, Config{Window: 20 * time.Millisecond}, evs...)
	equalLines(t, "order", rec.order, []string{"e:fork 101", "e:fork 103", "e:fork 102", "e:fork 104"})
	if st := p.Stats(); st.Reordered != 1 || st.Late != 0 {
		t.Errorf("reordered %d late %d, want 1 0", st.Reordered, st.Late)
	}

	evs = append(seedInitAndShell(),
		fork(1000*ms, 101, 100),
		fork(1100*ms, 102, 100), // releases 101
		fork(1200*ms, 104, 100), // releases 102
		fork(1050*ms, 103, 100), // older than what went out: late
	)
	rec, p = run(t, Config{Window: 20 * time.Millisecond}, evs...)
	equalLines(t, "order", rec.order, []string{"e:fork 101", "e:fork 102", "e:fork 103", "e:fork 104"})
	if st := p.Stats(); st.Reordered != 1 || st.Late != 1 {
		t.Errorf("reordered %d late %d, want 1 1", st.Reordered, st.Late)
	}
}

func TestInvalidKindDropped(t *testing.T) {
	rec, p := run(t, Config{}, semconv.Event{Kind: semconv.KindInvalid}, semconv.Event{Kind: 200})
	if len(rec.events) != 0 || p.Stats().Invalid != 2 {
		t.Errorf("events %d invalid %d", len(rec.events), p.Stats().Invalid)
	}
}

func TestConcurrentViews(t *testing.T) {
	rec := &recorder{}
	p := New(Config{}, rec)
	rec.onEvent = func(e *semconv.Event) { p.Lookup(e.Process.PPID) }
	in := semconv.NewQueue(64, 0)
	send := func(e semconv.Event) { in.Send(&e) }
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.Snapshot()
			p.Tree(0)
			p.Stats()
			p.Lookup(1)
		}
	}()
	go func() {
		send(existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init"))
		ts := 1000 * ms
		for i := 0; i < 3000; i++ {
			pid := int32(2 + i%500)
			send(fork(ts, pid, 1))
			send(execOK(ts+ms/2, pid, "/bin/true", "true"))
			send(exit(ts+ms, pid, 0, 0))
			send(reap(ts+ms, pid))
			ts += 11 * ms
			if i%7 == 0 {
				in.Flush() // batches of many lengths
			}
		}
		in.Close()
	}()
	if err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if len(rec.lifetimes) != 3000 {
		t.Errorf("%d lifetimes, want 3000", len(rec.lifetimes))
	}
}

func TestExecRecordsBounded(t *testing.T) {
	evs := append(seedInitAndShell(), fork(1000*ms, 101, 100))
	ts := 1001 * ms
	for i := 0; i < 100; i++ {
		evs = append(evs, execFail(ts, 101, 2, "/no/"+itoa(int32(i))))
		ts += ms / 10
	}
	evs = append(evs, execOK(ts, 101, "/bin/true", "true"), exit(ts+ms, 101, 0, 0))
	rec, p := run(t, Config{}, evs...)
	execs := rec.lifetimes[0].Execs
	if len(execs) != maxExecRecords || execs[0].Filename != "/no/0" || execs[62].Filename != "/no/62" ||
		execs[63].Filename != "/bin/true" || execs[63].Errno != 0 {
		t.Errorf("%d execs, first %q, 63rd %q, last %q", len(execs), execs[0].Filename, execs[62].Filename, execs[63].Filename)
	}
	if got := p.Stats().ExecRecordsDropped; got != 101-maxExecRecords {
		t.Errorf("ExecRecordsDropped = %d, want %d", got, 101-maxExecRecords)
	}
}

func TestExecOfUnknownProcess(t *testing.T) {
	ex := execOK(1000*ms, 700, "/usr/bin/vim", "vim", "notes")
	ex.Process.PPID = 100
	ex.Process.Start = 900 * ms
	evs := append(seedInitAndShell(), ex, exit(1100*ms, 700, 0, 0))
	rec, p := run(t, Config{}, evs...)
	equalLines(t, "events", lines(rec), []string{
		`exec pid=700 ppid=100 start=900 pstart=50 exe=/usr/bin/vim argv=["vim" "notes"] comm=vim root=100`,
		`exit pid=700 ppid=100 start=900 pstart=50 exe=/usr/bin/vim argv=["vim" "notes"] comm=vim root=100 code=0 sig=0`,
	})
	equalLines(t, "lifetimes", ltLines(rec), []string{
		`lifetime pid=700 ppid=100 exe=/usr/bin/vim root=100 start=900ms end=1100ms exited=true code=0 sig=0 seeded=true incomplete=false children=0 execs=[/usr/bin/vim:0@1000ms]`,
	})
	if got := p.Stats().Unmatched[semconv.KindExec]; got != 1 {
		t.Errorf("Unmatched[exec] = %d, want 1", got)
	}
}

// TestLineageFollowsCreator checks what exporters derive span parents and
// links from: the creator (not the current parent) and the creator's root.
func TestLineageFollowsCreator(t *testing.T) {
	evs := append(seedInitAndShell(),
		withGroup(fork(1000*ms, 101, 100), 100, 100), // in the shell's trace
		withGroup(fork(1010*ms, 102, 101), 102, 100), // a new process group: its own root
		withGroup(fork(1015*ms, 103, 101), 100, 100), // same trace as 101
		exit(1020*ms, 101, 0, 0),
	)
	ex := execOK(1030*ms, 103, "/usr/bin/daemon", "daemon")
	ex.Process.PPID = 1 // re-parented to init after 101 exited
	evs = append(evs, ex, exit(1040*ms, 103, 0, 0), exit(1050*ms, 102, 0, 0))
	rec, _ := run(t, Config{}, evs...)

	shell, k101 := semconv.KeyOf(100, 50*ms), semconv.KeyOf(101, 1000*ms)
	byPID := map[int32]semconv.Lineage{}
	for _, lt := range rec.lifetimes {
		byPID[lt.Process.PID] = lt.Lineage
	}
	want := map[int32]semconv.Lineage{
		101: {Root: shell, Creator: shell},
		102: {Creator: k101, CreatorRoot: shell}, // own root; links to 101 in the shell's trace
		103: {Creator: k101, CreatorRoot: shell}, // re-parented to init: its own root, linked to 101
	}
	for pid, w := range want {
		if got := byPID[pid]; got != w {
			t.Errorf("lifetime %d lineage = %+v, want %+v", pid, got, w)
		}
	}
	for _, e := range rec.events {
		if e.Process.PID == 103 && e.Kind == semconv.KindExit && e.Process.PPID != 1 {
			t.Errorf("exit of 103 reports ppid %d, want the new parent 1", e.Process.PPID)
		}
	}
}

// TestUnseenParentKeepsSubtree: a process that was alive when the backend
// attached but gone before the /proc scan is in no table; the forks of its
// children still name it (PPID + ParentStart), so a pid subtree filter on
// it keeps them and their spans keep it as creator.
func TestUnseenParentKeepsSubtree(t *testing.T) {
	unseen := semconv.KeyOf(500, 400*ms)
	child := fork(1000*ms, 501, 500)
	child.Process.ParentStart = 400 * ms
	grand := fork(1010*ms, 502, 501)
	other := fork(1020*ms, 600, 100)
	evs := append(seedInitAndShell(), child, grand, other,
		exit(1030*ms, 502, 0, 0), exit(1040*ms, 501, 5, 0), exit(1050*ms, 600, 0, 0))
	f, err := ParseFilter("pid=500+")
	if err != nil {
		t.Fatal(err)
	}
	rec, p := run(t, Config{Filter: f}, evs...)
	var pids []int32
	for _, e := range rec.events {
		pids = append(pids, e.Process.PID)
	}
	if want := []int32{501, 502, 502, 501}; !reflect.DeepEqual(pids, want) {
		t.Errorf("subtree of the unseen parent: events of pids %v, want %v", pids, want)
	}
	for _, lt := range rec.lifetimes {
		if lt.Process.PID == 501 && lt.Creator != unseen {
			t.Errorf("lifetime of 501: creator %v, want the unseen parent %v", lt.Creator, unseen)
		}
	}
	if st := p.Stats(); st.Unmatched[semconv.KindFork] != 1 {
		t.Errorf("unmatched forks = %d, want 1 (the fork whose parent was not in the table)", st.Unmatched[semconv.KindFork])
	}
}

// TestTraceParentFromEnvironment: a CI step's process execs with a
// TRACEPARENT the backend read from its environment; it roots its part of
// that trace (under the remote span) and its descendants follow it.
func TestTraceParentFromEnvironment(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	step := withGroup(fork(1000*ms, 101, 100), 100, 100) // in the shell's process group
	ex := execOK(1001*ms, 101, "/usr/bin/make", "make")
	ex.TraceParent = tp
	child := withGroup(fork(1002*ms, 102, 101), 100, 100)
	evs := append(seedInitAndShell(), step, ex, child, exit(1003*ms, 102, 0, 0), exit(1004*ms, 101, 0, 0))
	rec, _ := run(t, Config{}, evs...)

	k101 := semconv.KeyOf(101, 1000*ms)
	lin := map[int32]semconv.Lineage{}
	procs := map[int32]semconv.Process{}
	for _, lt := range rec.lifetimes {
		lin[lt.Process.PID], procs[lt.Process.PID] = lt.Lineage, lt.Process
	}
	if l := lin[101]; !l.Root.IsZero() || l.TraceParent != tp {
		t.Errorf("make: lineage %+v, want its own root with the traceparent", l)
	}
	if l := lin[102]; l.Root != k101 || l.TraceParent != tp || l.Creator != k101 {
		t.Errorf("make's child: lineage %+v, want root and creator make, the traceparent inherited", l)
	}
	// What the exporters derive: one external trace; make under the remote
	// span, its child under make.
	p101, p102 := procs[101], procs[102]
	m := semconv.SpanContextIDs("b", &p101, lin[101])
	c := semconv.SpanContextIDs("b", &p102, lin[102])
	if hex.EncodeToString(m.TraceID[:]) != "4bf92f3577b34da6a3ce929d0e0e4736" || c.TraceID != m.TraceID {
		t.Errorf("trace ids %x %x, want the traceparent's", m.TraceID, c.TraceID)
	}
	if hex.EncodeToString(m.ParentSpanID[:]) != "00f067aa0ba902b7" || !m.ParentRemote || c.ParentSpanID != m.SpanID {
		t.Errorf("parents: make %x (remote %v), child %x; want the remote span, then make's", m.ParentSpanID, m.ParentRemote, c.ParentSpanID)
	}
	// The shell that started the step is untouched.
	for _, e := range rec.events {
		if e.Process.PID == 100 && e.TraceParent != "" {
			t.Errorf("the shell got the step's traceparent: %+v", e)
		}
	}
}

// TestExecFactsInPipeline: captured environment variables are redacted
// like argv, the exec's facts reach the lifetime's exec record, and the
// audit ids of a process carry over to its later events.
func TestExecFactsInPipeline(t *testing.T) {
	ex := execOK(1002*ms, 101, "/usr/bin/env", "env")
	ex.Exec.Env = []string{"LD_PRELOAD=/tmp/x.so", "AWS_SECRET_ACCESS_KEY=abcd1234", "API_TOKEN=t0ken"}
	ex.Exec.SetUID, ex.Exec.HTLHash = true, "0123456789abcdef0123456789abcdef"
	ex.Process.LoginUID, ex.Process.AuditSessionID = semconv.MakeAuditID(1000), semconv.MakeAuditID(7)
	x := exit(1005*ms, 101, 0, 0)
	evs := append(seedInitAndShell(), fork(1000*ms, 101, 100), ex, x)
	rec, _ := run(t, Config{}, evs...)
	var got *semconv.Event
	for i := range rec.events {
		if rec.events[i].Kind == semconv.KindExec {
			got = &rec.events[i]
		}
	}
	if got == nil {
		t.Fatal("no exec event")
	}
	want := []string{"LD_PRELOAD=/tmp/x.so", "AWS_SECRET_ACCESS_KEY=[REDACTED]", "API_TOKEN=[REDACTED]"}
	if !reflect.DeepEqual(got.Exec.Env, want) {
		t.Errorf("env = %q, want %q", got.Exec.Env, want)
	}
	if ex.Exec.Env[1] != "AWS_SECRET_ACCESS_KEY=abcd1234" {
		t.Errorf("the backend's env was modified")
	}
	facts := rec.lifetimes[0].Execs[0].ExecFacts
	if !facts.SetUID || facts.HTLHash != ex.Exec.HTLHash || !reflect.DeepEqual(facts.Env, want) {
		t.Errorf("exec record facts %+v", facts)
	}
	last := rec.events[len(rec.events)-1]
	if id, ok := last.Process.LoginUID.Get(); !ok || id != 1000 {
		t.Errorf("exit event login uid %v, want 1000 from the process", last.Process.LoginUID)
	}
}

// TestParentExe: an exec's parent executable is the parent's image at
// that point of the stream: inherited at its fork, replaced by its own
// exec, the adopter's after a re-parent; kept when the backend gave one,
// and absent when the parent is not known.
func TestParentExe(t *testing.T) {
	orphanExec := execOK(1008*ms, 102, "/usr/bin/ld", "ld")
	orphanExec.Process.PPID = 1 // 101 exited: 102 was moved to init
	given := execOK(1009*ms, 103, "/bin/true", "true")
	given.Exec.ParentExe = "/given/by/backend"
	strayFork := fork(1010*ms, 201, 200) // 200 never seen
	evs := append(seedInitAndShell(),
		fork(1000*ms, 101, 100),
		execOK(1001*ms, 101, "/usr/bin/make", "make"), // bash's child
		fork(1002*ms, 102, 101),
		execOK(1003*ms, 102, "/usr/bin/cc", "cc"), // make's child
		fork(1004*ms, 103, 100),
		exit(1005*ms, 101, 0, 0),
		orphanExec,
		given,
		strayFork,
		execOK(1011*ms, 201, "/bin/sh", "sh"),
	)
	rec, _ := run(t, Config{}, evs...)
	want := map[int32][]string{
		101: {"/bin/bash"},
		102: {"/usr/bin/make", "/sbin/init"},
		103: {"/given/by/backend"},
		201: {""},
	}
	got := map[int32][]string{}
	for _, e := range rec.events {
		if e.Kind == semconv.KindExec {
			got[e.Process.PID] = append(got[e.Process.PID], e.Exec.ParentExe)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parent executables by pid %v, want %v", got, want)
	}
	for _, l := range rec.lifetimes {
		if l.Process.PID == 102 && (len(l.Execs) != 2 || l.Execs[1].ParentExe != "/sbin/init") {
			t.Errorf("102's exec records %+v, want the second with parent /sbin/init", l.Execs)
		}
	}
}

// TestThrottlePassesThrough: a throttle event, about a cgroup, reaches
// the sinks as it came, without a process entry or an unmatched count.
func TestThrottlePassesThrough(t *testing.T) {
	th := semconv.Event{Kind: semconv.KindThrottle, BootNS: 1001 * ms, Time: at(1001 * ms), OS: semconv.OSLinux,
		Process:  semconv.Process{CgroupID: 77},
		Throttle: semconv.ThrottleInfo{CgroupID: 77, Phase: semconv.ThrottleStop, Suppressed: 450, Limit: 50}}
	rec, p := run(t, Config{}, append(seedInitAndShell(), th)...)
	if len(rec.events) != 1 || rec.events[0].Throttle != th.Throttle || rec.events[0].Process.PID != 0 {
		t.Fatalf("events %+v", rec.events)
	}
	if st := p.Stats(); st.Unmatched[semconv.KindThrottle] != 0 || st.Out[semconv.KindThrottle] != 1 {
		t.Errorf("unmatched %v out %v", st.Unmatched, st.Out)
	}
}

// flushRecorder is a recorder that is a Flusher: it notes how many events
// and lifetimes it had been handed at each Flush.
type flushRecorder struct {
	recorder
	flushedAt []int
}

func (f *flushRecorder) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushedAt = append(f.flushedAt, len(f.order))
}

// TestFlushAfterEachPass: a sink that is a Flusher is flushed after the
// passes that handed it something, and only then, and nothing it was
// handed is left unflushed when Run returns.
func TestFlushAfterEachPass(t *testing.T) {
	f := &flushRecorder{}
	p := New(Config{}, f)
	q := semconv.NewQueue(8, 2)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), q) }()
	send := func(evs ...semconv.Event) {
		for _, e := range evs {
			*q.Next() = e
		}
		q.Flush()
	}
	// Two bursts apart in time: each is released on its own pass.
	send(fork(1000, 100, 1), execOK(2000, 100, "/bin/true"), exit(3000, 100, 0, 0), reap(4000, 100))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		n := len(f.flushedAt)
		f.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no flush 5 s after the first burst")
		}
	}
	send(fork(5000, 101, 1), exit(6000, 101, 3, 0), reap(7000, 101))
	q.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// 7 events and 2 lifetimes.
	if len(f.order) != 9 {
		t.Fatalf("sink was handed %d things, want 7 events and 2 lifetimes: %v", len(f.order), f.order)
	}
	if len(f.flushedAt) < 2 || f.flushedAt[len(f.flushedAt)-1] != len(f.order) {
		t.Fatalf("flushes at %v of %d things handed: want one per burst and the last after everything", f.flushedAt, len(f.order))
	}
	for i := 1; i < len(f.flushedAt); i++ {
		if f.flushedAt[i] == f.flushedAt[i-1] {
			t.Fatalf("flushes at %v: a flush after a pass that handed nothing", f.flushedAt)
		}
	}
	if f.flushedAt[0] != 5 {
		t.Fatalf("first flush after %d things, want the first burst's 4 events and its lifetime", f.flushedAt[0])
	}
}

// TestSteadyBatchesReleaseWithoutTimer: while batches come at a steady
// pace, the batches release what falls due (Run does not wake for its
// window timer between them), and after the last batch the timer releases
// the rest.
func TestSteadyBatchesReleaseWithoutTimer(t *testing.T) { steadyBatches(t, 1) }

// A backend that hands over a pass of several batches (a storm's read of
// the ring buffer, a batch each time one fills) paces Run by its passes:
// the batches of a pass, a millisecond apart, are one arrival, and the
// window timer does not wake Run between passes either.
func TestSteadyBurstsReleaseWithoutTimer(t *testing.T) { steadyBatches(t, 3) }

// steadyBatches hands Run bursts of perTick batches of four forks at a
// steady pace and checks that the window timer stays quiet meanwhile and
// releases what is left after the last.
func steadyBatches(t *testing.T, perTick int) {
	const window, every, batches = 30 * time.Millisecond, 20 * time.Millisecond, 15
	rec := &recorder{}
	p := New(Config{Window: window}, rec)
	var fired atomic.Int32
	p.onTimer = func() { fired.Add(1) }
	q := semconv.NewQueue(64, 8)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), q) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	pid := int32(1000)
	for i := 0; i < batches; i++ {
		<-tick.C
		for b := range perTick {
			if b > 0 {
				// The reader decodes the next batch meanwhile.
				time.Sleep(time.Millisecond)
			}
			for j := 0; j < 4; j++ {
				pid++
				*q.Next() = fork(uint64(pid)*1000, pid, 1)
			}
			q.Flush()
		}
	}
	steady := fired.Load()
	// The last batches are left to the timer.
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.events)
		rec.mu.Unlock()
		if n == 4*batches*perTick {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events released 5 s after the last batch", n, 4*batches*perTick)
		}
		time.Sleep(time.Millisecond)
	}
	q.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Without coalescing the timer fires about once per batch; allow a
	// few for a late tick on a loaded machine.
	if steady > 3 {
		t.Fatalf("the window timer woke Run %d times during %d steady batches", steady, batches)
	}
	if fired.Load() == steady {
		t.Fatal("the timer did not release the last batches")
	}
}

// A reaped entry forgotten past KeepReaped is reused for the next
// process; the lifetimes of the processes that get it carry nothing of
// the one before. Ground truth: what each process of the stream did.
func TestForgottenEntryReused(t *testing.T) {
	type truth struct {
		exe      string
		code     int32
		signal   int32
		children int
	}
	want := map[int32]truth{}
	evs := []semconv.Event{existing(1, 0, 1*ms, 1, 1, "/sbin/init", "init")}
	ts := 1000 * ms
	// 1000 execs, forks a child, exits 3: its entry is forgotten when
	// its child's reap comes and reused by the first of those below.
	evs = append(evs, fork(ts, 1000, 1), execOK(ts+ms, 1000, "/bin/builder", "builder"),
		fork(ts+2*ms, 1001, 1000), exit(ts+3*ms, 1000, 3, 0), reap(ts+4*ms, 1000),
		exit(ts+5*ms, 1001, 0, 9), reap(ts+6*ms, 1001))
	want[1000] = truth{exe: "/bin/builder", code: 3, children: 1}
	want[1001] = truth{signal: 9}
	ts += 10 * ms
	for i := int32(0); i < 20; i++ {
		pid := 1002 + i
		evs = append(evs, fork(ts, pid, 1), exit(ts+ms, pid, i, 0), reap(ts+2*ms, pid))
		want[pid] = truth{code: i}
		ts += 3 * ms
	}
	rec, p := run(t, Config{KeepReaped: 1}, evs...)
	if st := p.Stats(); st.Forgotten != 21 {
		t.Errorf("forgotten %d, want 21", st.Forgotten)
	}
	got := map[int32]bool{}
	for _, l := range rec.lifetimes {
		w, ok := want[l.Process.PID]
		if !ok {
			continue
		}
		got[l.Process.PID] = true
		exe := ""
		if len(l.Execs) > 0 {
			exe = l.Execs[len(l.Execs)-1].Exe
		}
		if len(l.Execs) > 1 || exe != w.exe || l.Exit.Code != w.code || l.Exit.Signal != w.signal || l.Children != w.children {
			t.Errorf("pid %d: %d execs (last %q), exit %d signal %d, %d children; want exe %q, exit %d signal %d, %d children",
				l.Process.PID, len(l.Execs), exe, l.Exit.Code, l.Exit.Signal, l.Children, w.exe, w.code, w.signal, w.children)
		}
	}
	if len(got) != len(want) {
		t.Errorf("lifetimes of %d of the %d processes", len(got), len(want))
	}
}

// The table hands the next add the entry it last forgot, zeroed, and
// not while seeding, nor the entry its caller goes on with.
func TestTableRecyclesForgotten(t *testing.T) {
	tb := newTable(0, 1, semconv.RootPolicy(0), 0)
	a := tb.add(&semconv.Process{PID: 10, Start: 1})
	a.forks, a.exitSeen, a.execs = 4, true, []semconv.ExecRecord{{Exe: "/bin/a"}}
	tb.setState(a, stateReaped)
	b := tb.add(&semconv.Process{PID: 11, Start: 2})
	b.execs = append(b.execs, semconv.ExecRecord{Exe: "/bin/b", Argv: []string{"b"}})
	tb.setState(b, stateReaped) // forgets a while seeding: not reused
	if len(tb.spares) != 0 {
		t.Fatal("an entry forgotten while seeding was kept for reuse")
	}
	tb.seeding = false
	c := tb.add(&semconv.Process{PID: 12, Start: 3})
	c.forks = 2
	tb.setState(c, stateReaped) // forgets b
	if len(tb.spares) != 1 || tb.spares[0] != b {
		t.Fatalf("spares %+v, want the forgotten entry %p", tb.spares, b)
	}
	d := tb.add(&semconv.Process{PID: 13, Start: 4})
	if d != b || len(tb.spares) != 0 {
		t.Fatalf("add gave %p (spares now %+v), want the forgotten %p", d, tb.spares, b)
	}
	// b's exec records are kept as room, emptied and cleared.
	if len(d.execs) != 0 || cap(d.execs) != 1 || !reflect.DeepEqual(d.execs[:1][0], semconv.ExecRecord{}) {
		t.Errorf("reused exec records: len %d cap %d, first %+v; want room for 1, cleared", len(d.execs), cap(d.execs), d.execs[:cap(d.execs)])
	}
	// Alone on the live list: no links, nothing but what add sets.
	fresh := entry{proc: semconv.Process{PID: 13, Start: 4}, startNS: 4, state: stateLive, execs: d.execs}
	if !reflect.DeepEqual(*d, fresh) {
		t.Errorf("reused entry not fresh:\n%+v\nwant\n%+v", *d, fresh)
	}
	if got := tb.byKey.get(semconv.KeyOf(13, 4)); got != d {
		t.Errorf("index holds %p, want %p", got, d)
	}
	if got := tb.byKey.get(semconv.KeyOf(11, 2)); got != nil {
		t.Errorf("the forgotten 11 is still indexed")
	}
	tb.keep = 0
	tb.setState(d, stateReaped) // forgets c and d itself: d is its caller's
	if len(tb.spares) != 1 || tb.spares[0] != c {
		t.Errorf("spares %+v, want c (%p) alone: the entry being reaped is its caller's", tb.spares, c)
	}
}

// TestTableSparesBurst: reaps that come in a burst after many forks (as
// they do, an RCU grace period behind) leave one spare per forgotten
// entry, up to maxSpares, and the adds after the burst take them all
// before allocating.
func TestTableSparesBurst(t *testing.T) {
	const n = 50
	tb := newTable(0, 0, semconv.RootPolicy(0), 0)
	tb.seeding = false
	var first []*entry
	for i := range n {
		first = append(first, tb.add(&semconv.Process{PID: int32(100 + i), Start: uint64(i + 1)}))
	}
	for _, en := range first {
		tb.setState(en, stateReaped) // keep 0: forgotten at once, not by its own caller
	}
	// Each reap forgets the entry it reaps, which is its caller's: none kept.
	if len(tb.spares) != 0 {
		t.Fatalf("%d spares after reaps that each forgot their own entry", len(tb.spares))
	}
	tb.keep = n
	var second []*entry
	for i := range 2 * n {
		second = append(second, tb.add(&semconv.Process{PID: int32(1000 + i), Start: uint64(1000 + i)}))
	}
	for _, en := range second {
		tb.setState(en, stateReaped) // the last n forget the first n of second
	}
	if len(tb.spares) != n {
		t.Fatalf("%d spares after a burst forgot %d entries", len(tb.spares), n)
	}
	kept := map[*entry]bool{}
	for _, en := range tb.spares {
		kept[en] = true
	}
	for i := range n {
		if !kept[second[i]] {
			t.Fatalf("forgotten entry %d (pid %d) not kept", i, 1000+i)
		}
	}
	for i := range n {
		en := tb.add(&semconv.Process{PID: int32(5000 + i), Start: uint64(5000 + i)})
		if !kept[en] {
			t.Fatalf("add %d allocated with %d spares left", i, len(tb.spares))
		}
		delete(kept, en)
	}
	if len(tb.spares) != 0 || len(kept) != 0 {
		t.Fatalf("%d spares left, %d not reused", len(tb.spares), len(kept))
	}
	if got := testing.AllocsPerRun(1, func() { tb.add(&semconv.Process{PID: 9999, Start: 9999}) }); got < 1 {
		t.Errorf("add with no spares allocated %v times, want a new entry", got)
	}
}

// In a storm the window timer is set past the arrival after the one that
// releases the deadline, so every arrival moves it on before it is due.
func TestCoalesce(t *testing.T) {
	last := time.Unix(1000, 0)
	const gap = 40 * time.Millisecond
	for _, tc := range []struct {
		deadline, want time.Duration // after last
	}{
		{20 * time.Millisecond, 2*gap + coalesceSlack},  // due before the next arrival
		{gap, 2*gap + coalesceSlack},                    // due at it
		{gap + time.Millisecond, 3*gap + coalesceSlack}, // just after it
		{-5 * time.Millisecond, gap + coalesceSlack},    // already due
	} {
		d := last.Add(tc.deadline)
		got := coalesce(d, last, gap).Sub(last)
		if got != tc.want {
			t.Errorf("deadline last%+v: timer at last%+v, want last%+v", tc.deadline, got, tc.want)
		}
		if got < tc.deadline || got-tc.deadline > 2*gap+coalesceSlack {
			t.Errorf("deadline last%+v: timer at last%+v is not within two gaps and the slack after it", tc.deadline, got)
		}
	}
}
