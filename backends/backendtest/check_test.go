package backendtest

import (
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/backendtest/truth"
	"github.com/procotel/procotel/semconv"
)

// fullCaps is a backend that sees everything the suite checks.
var fullCaps = backends.Capabilities{
	OS: semconv.OSLinux,
	Kinds: []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed,
		semconv.KindExit, semconv.KindReap, semconv.KindSignal},
	Argv: true, Exe: true, Creds: true, ExitSignal: true, CoreDump: true,
	SignalOutcome: true, SignalSender: true,
}

// synth returns the events a correct backend would produce for rep, in a
// plausible delivery order. Orphan exec failures get pids from 90000 up.
func synth(rep truth.Report, limit int) []semconv.Event {
	var evs []semconv.Event
	boot := uint64(1_000_000_000)
	clock := semconv.Clock{BootWall: rep.Started.Add(-time.Duration(boot))}
	next := func() (uint64, time.Time) {
		boot += 1000
		return boot, clock.Wall(boot)
	}
	ev := func(k semconv.Kind, pid, ppid int32, start uint64, comm string) semconv.Event {
		b, w := next()
		return semconv.Event{Kind: k, BootNS: b, Time: w, CPU: -1, OS: semconv.OSLinux,
			Process: semconv.Process{PID: pid, TID: pid, PPID: ppid, Start: start, Comm: comm,
				Creds: semconv.Creds{UID: rep.UID, EUID: rep.UID, GID: rep.GID, EGID: rep.GID}}}
	}
	capture := func(argv []string) ([]string, bool) {
		if argvSize(argv) <= limit {
			return argv, false
		}
		var out []string
		n := 0
		for _, a := range argv {
			if n+len(a)+1 > limit {
				if room := limit - n - 1; room > 0 {
					out = append(out, a[:room])
				}
				break
			}
			out = append(out, a)
			n += len(a) + 1
		}
		return out, true
	}
	imageComm := map[int32]string{}
	for _, p := range rep.Procs {
		if len(p.Execs) > 0 {
			imageComm[p.PID] = commOf(semconv.OSLinux, p.Execs[len(p.Execs)-1].Filename)
		}
	}
	for i, p := range rep.Procs {
		start, _ := next()
		comm := imageComm[p.PPID]
		if i == 0 {
			comm = rep.ParentComm
		}
		evs = append(evs, ev(semconv.KindFork, p.PID, p.PPID, start, comm))
		for j, x := range p.Execs {
			e := ev(semconv.KindExec, p.PID, p.PPID, start, commOf(semconv.OSLinux, x.Filename))
			e.Exec.Filename, e.Exec.OldTID, e.Process.Exe = x.Filename, x.OldTID, x.Exe
			e.Exec.Argv, e.Exec.ArgvTruncated = capture(x.Argv)
			e.Process.Argv, e.Process.ArgvTruncated = e.Exec.Argv, e.Exec.ArgvTruncated
			evs = append(evs, e)
			comm = e.Process.Comm
			if j == 0 {
				for _, f := range p.ExecFailures {
					e := ev(semconv.KindExecFailed, p.PID, p.PPID, start, comm)
					e.Exec.Filename, e.Exec.Errno = f.Filename, f.Errno
					e.Exec.Argv, e.Exec.ArgvTruncated = capture(f.Argv)
					evs = append(evs, e)
				}
			}
		}
		for _, s := range rep.Signals {
			if s.Target == p.PID {
				e := ev(semconv.KindSignal, p.PID, p.PPID, start, comm)
				e.Signal = semconv.SignalInfo{Signo: s.Signo, SenderPID: s.Sender, Outcome: semconv.SignalGenerated}
				if s.Ignored {
					e.Signal.Outcome = semconv.SignalIgnored
				}
				evs = append(evs, e)
			}
		}
		x := ev(semconv.KindExit, p.PID, p.ParentAtExit(), start, comm)
		x.Process.SID = p.SID
		if p.Exit != nil {
			x.Exit = semconv.ExitInfo{Code: p.Exit.Code, Signal: p.Exit.Signal, CoreDumped: p.Exit.CoreDumped}
		}
		evs = append(evs, x)
		r := ev(semconv.KindReap, p.PID, p.ParentAtExit(), start, comm)
		r.Reap.ReaperPID = p.Reaper
		evs = append(evs, r)
	}
	for i, o := range rep.OrphanExecFailures {
		pid := int32(90000 + i)
		start, _ := next()
		comm := imageComm[o.Parent]
		evs = append(evs, ev(semconv.KindFork, pid, o.Parent, start, comm))
		f := ev(semconv.KindExecFailed, pid, o.Parent, start, comm)
		f.Exec.Filename, f.Exec.Errno = o.Filename, o.Errno
		f.Exec.Argv, f.Exec.ArgvTruncated = capture(o.Argv)
		evs = append(evs, f)
		x := ev(semconv.KindExit, pid, o.Parent, start, comm)
		x.Exit.Code = 253
		evs = append(evs, x)
		r := ev(semconv.KindReap, pid, o.Parent, start, comm)
		r.Reap.ReaperPID = o.Parent
		evs = append(evs, r)
	}
	return evs
}

// sampleReport is a hand-written report touching every check: an exec
// with a long argv, a thread exec, a failed exec, a re-parented process,
// signals and an orphan exec failure.
func sampleReport() truth.Report {
	now := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	self := "/tmp/x/workload"
	long := []string{"true"}
	for len(long) < 40 {
		long = append(long, strings.Repeat("y", 999))
	}
	exit := func(code, sig int32, core bool) *truth.Exit {
		return &truth.Exit{Code: code, Signal: sig, CoreDumped: core}
	}
	return truth.Report{
		Scenario: "sample", Root: 100, UID: 1000, GID: 1000,
		Started: now, Finished: now.Add(2 * time.Second), ParentComm: "backendtest.tes",
		Procs: []truth.Proc{
			{PID: 100, PPID: 50, Role: "root", Execs: []truth.Exec{{Filename: self, Argv: []string{self, "sample"}, Exe: self}},
				Exit: exit(0, 0, false), Reaper: 50},
			{PID: 101, PPID: 100, Role: "true", Execs: []truth.Exec{{Filename: "/bin/true", Argv: long, Exe: "/usr/bin/true"}},
				Exit: exit(3, 0, false), Reaper: 100},
			{PID: 102, PPID: 100, Role: "thread exec", Execs: []truth.Exec{
				{Filename: self, Argv: []string{self, "child-thread-exec"}, Exe: self},
				{Filename: self, Argv: []string{self, "child-exit", "0"}, Exe: self, OldTID: 105}},
				Exit: exit(0, 6, true), Reaper: 100},
			{PID: 103, PPID: 100, Role: "failing exec", Execs: []truth.Exec{{Filename: self, Argv: []string{self, "f"}, Exe: self}},
				ExecFailures: []truth.ExecFailure{{PID: 103, Parent: 100, Filename: "/no/such", Argv: []string{"/no/such", "direct"}, Errno: 2}},
				Exit:         exit(127, 0, false), Reaper: 100},
			{PID: 104, PPID: 103, Role: "re-parented", Execs: []truth.Exec{{Filename: self, Argv: []string{self, "g"}, Exe: self}},
				Exit: exit(7, 0, false), Reaper: 100, FinalPPID: 100, SID: 103},
		},
		Signals: []truth.Signal{
			{Sender: 100, Target: 102, Signo: 10, Ignored: true},
			{Sender: 100, Target: 102, Signo: 9},
		},
		OrphanExecFailures: []truth.ExecFailure{
			{Parent: 100, Filename: "/tmp/x/garbage", Argv: []string{"/tmp/x/garbage", "forked child"}, Errno: 8},
		},
	}
}

func TestCheckPassesCorrectEvents(t *testing.T) {
	rep := sampleReport()
	evs := synth(rep, backends.DefaultArgvMax)
	// Unrelated processes and kinds the suite ignores must not matter.
	evs = append(evs, semconv.Event{Kind: semconv.KindExisting, Process: semconv.Process{PID: 100}},
		semconv.Event{Kind: semconv.KindExit, OS: semconv.OSLinux, Process: semconv.Process{PID: 7}})
	f := Check(rep, fullCaps, backends.Options{}, evs)
	if !f.OK() {
		t.Fatalf("correct events failed the check:\n%s", strings.Join(f.Failures, "\n"))
	}
	if len(f.Skipped) != 0 {
		t.Errorf("full capabilities skipped checks: %q", f.Skipped)
	}
}

func TestCheckMergesExecAttempts(t *testing.T) {
	rep := sampleReport()
	var evs []semconv.Event
	for _, e := range synth(rep, backends.DefaultArgvMax) {
		if e.Kind == semconv.KindExec || e.Kind == semconv.KindExecFailed {
			a := e
			a.Kind = semconv.KindExecAttempt
			a.BootNS--
			evs = append(evs, a)
			e.Exec.Filename, e.Exec.Argv, e.Exec.ArgvTruncated = "", nil, false
		}
		evs = append(evs, e)
	}
	caps := fullCaps
	caps.Kinds = append(caps.Kinds, semconv.KindExecAttempt)
	if f := Check(rep, caps, backends.Options{}, evs); !f.OK() {
		t.Fatalf("attempt+result pairs failed the check:\n%s", strings.Join(f.Failures, "\n"))
	}
}

// mutation breaks the events of the sample report in one way.
type mutation struct {
	name string
	// edit changes the events; it returns them (possibly resized).
	edit func(evs []semconv.Event) []semconv.Event
	// want is a fragment of the failure the check must report.
	want string
}

// find returns the index of the first event of kind k about pid.
func find(t *testing.T, evs []semconv.Event, k semconv.Kind, pid int32) int {
	t.Helper()
	for i, e := range evs {
		if e.Kind == k && e.Process.PID == pid {
			return i
		}
	}
	t.Fatalf("no %s event for %d in synthetic events", k, pid)
	return -1
}

func remove(evs []semconv.Event, i int) []semconv.Event {
	return append(evs[:i:i], evs[i+1:]...)
}

func TestCheckCatchesEachDefect(t *testing.T) {
	rep := sampleReport()
	var tt *testing.T // set per subtest for find
	at := func(k semconv.Kind, pid int32, f func(e *semconv.Event)) func([]semconv.Event) []semconv.Event {
		return func(evs []semconv.Event) []semconv.Event {
			f(&evs[find(tt, evs, k, pid)])
			return evs
		}
	}
	mutations := []mutation{
		{"missing fork", func(evs []semconv.Event) []semconv.Event {
			return remove(evs, find(tt, evs, semconv.KindFork, 101))
		}, "pid 101 (true): want exactly one fork event"},
		{"fork wrong ppid", at(semconv.KindFork, 101, func(e *semconv.Event) { e.Process.PPID = 1 }), "fork event has ppid 1, want 100"},
		{"missing exec", func(evs []semconv.Event) []semconv.Event {
			return remove(evs, find(tt, evs, semconv.KindExec, 103))
		}, "want 1 exec events"},
		{"exec wrong filename", at(semconv.KindExec, 101, func(e *semconv.Event) { e.Exec.Filename = "/usr/bin/true" }), `filename "/usr/bin/true", want "/bin/true"`},
		{"exe not resolved", at(semconv.KindExec, 101, func(e *semconv.Event) { e.Process.Exe = "/bin/true" }), `exe "/bin/true", want "/usr/bin/true"`},
		{"argv not truncated", at(semconv.KindExec, 101, func(e *semconv.Event) { e.Exec.ArgvTruncated = false }), "not flagged truncated"},
		{"argv over limit", at(semconv.KindExec, 101, func(e *semconv.Event) {
			e.Exec.Argv = []string{"true"}
			for len(e.Exec.Argv) < 18 {
				e.Exec.Argv = append(e.Exec.Argv, strings.Repeat("y", 999))
			}
		}), "want between"},
		{"argv changed", at(semconv.KindExec, 100, func(e *semconv.Event) { e.Process.Argv = []string{"/tmp/x/workload", "sampl"} }), "Process.Argv: got"},
		{"argv truncated when it fits", at(semconv.KindExec, 100, func(e *semconv.Event) { e.Exec.ArgvTruncated = true }), "fits the"},
		{"thread exec old tid", func(evs []semconv.Event) []semconv.Event {
			for i := range evs {
				if evs[i].Kind == semconv.KindExec && evs[i].Exec.OldTID == 105 {
					evs[i].Exec.OldTID = 0
				}
			}
			return evs
		}, "old tid 0, want 105"},
		{"errno wrong", at(semconv.KindExecFailed, 103, func(e *semconv.Event) { e.Exec.Errno = 13 }), "errno 13 (EACCES), want 2 (ENOENT)"},
		{"duplicate exit", func(evs []semconv.Event) []semconv.Event {
			return append(evs, evs[find(tt, evs, semconv.KindExit, 102)])
		}, "want exactly one exit event (one per process, not per thread), got 2"},
		{"exit code", at(semconv.KindExit, 101, func(e *semconv.Event) { e.Exit.Code = 0 }), "code 0, want 3"},
		{"exit signal", at(semconv.KindExit, 102, func(e *semconv.Event) { e.Exit.Signal = 11 }), "signal 11, want 6"},
		{"core flag", at(semconv.KindExit, 102, func(e *semconv.Event) { e.Exit.CoreDumped = false }), "core dumped false, want true"},
		{"not re-parented", at(semconv.KindExit, 104, func(e *semconv.Event) { e.Process.PPID = 103 }), "ppid 103, want 100"},
		{"session", at(semconv.KindExit, 104, func(e *semconv.Event) { e.Process.SID = 0 }), "sid 0, want 103"},
		{"missing reap", func(evs []semconv.Event) []semconv.Event {
			return remove(evs, find(tt, evs, semconv.KindReap, 104))
		}, "want exactly one reap event (reaper 100), got 0"},
		{"wrong reaper", at(semconv.KindReap, 101, func(e *semconv.Event) { e.Reap.ReaperPID = 1 }), "reaper 1, want 100"},
		{"exit before exec", at(semconv.KindExit, 101, func(e *semconv.Event) { e.BootNS = 1 }), "must follow"},
		{"start differs", at(semconv.KindExit, 101, func(e *semconv.Event) { e.Process.Start++ }), "differs from"},
		{"start zero", at(semconv.KindReap, 101, func(e *semconv.Event) { e.Process.Start = 0 }), "Process.Start is 0"},
		{"time outside window", at(semconv.KindExit, 101, func(e *semconv.Event) { e.Time = e.Time.Add(time.Hour) }), "outside the run"},
		{"uid", at(semconv.KindExit, 101, func(e *semconv.Event) { e.Process.UID = 0 }), "uid/gid 0/1000, want 1000/1000"},
		{"os unset", at(semconv.KindFork, 101, func(e *semconv.Event) { e.OS = semconv.OSUnknown }), "OS not set"},
		{"comm after exec", at(semconv.KindExit, 101, func(e *semconv.Event) { e.Process.Comm = "workload" }), `comm "workload", want "true"`},
		{"comm at fork", at(semconv.KindFork, 101, func(e *semconv.Event) { e.Process.Comm = "true" }), `comm "true", want "workload"`},
		{"root fork comm", at(semconv.KindFork, 100, func(e *semconv.Event) { e.Process.Comm = "workload" }), `want "backendtest.tes"`},
		{"ignored outcome", at(semconv.KindSignal, 102, func(e *semconv.Event) { e.Signal.Outcome = semconv.SignalDelivered }), "outcome ignored"},
		{"signal sender", func(evs []semconv.Event) []semconv.Event {
			for i := range evs {
				if evs[i].Kind == semconv.KindSignal && evs[i].Signal.Signo == 9 {
					evs[i].Signal.SenderPID = 102
				}
			}
			return evs
		}, "signal 9 (SIGKILL) from 100 to 102"},
		{"missing signal", func(evs []semconv.Event) []semconv.Event {
			return remove(evs, find(tt, evs, semconv.KindSignal, 102))
		}, "signal 10 (SIGUSR1) from 100 to 102"},
		{"orphan errno", at(semconv.KindExecFailed, 90000, func(e *semconv.Event) { e.Exec.Errno = 13 }), "errno 13 (EACCES), want 8 (ENOEXEC)"},
		{"orphan missing exec_failed", func(evs []semconv.Event) []semconv.Event {
			return remove(evs, find(tt, evs, semconv.KindExecFailed, 90000))
		}, `exec of "/tmp/x/garbage" in a forked child of 100`},
		{"orphan double exit", func(evs []semconv.Event) []semconv.Event {
			return append(evs, evs[find(tt, evs, semconv.KindExit, 90000)])
		}, "pid 90000 (child of the workload outside its report): want exactly one exit event, got 2"},
		{"unexpected child", func(evs []semconv.Event) []semconv.Event {
			e := evs[find(tt, evs, semconv.KindFork, 101)]
			e.Process.PID, e.Process.PPID = 555, 104
			return append(evs, e)
		}, "want 1 processes outside the workload's report"},
	}

	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tt = t
			evs := m.edit(synth(rep, backends.DefaultArgvMax))
			f := Check(rep, fullCaps, backends.Options{}, evs)
			for _, msg := range f.Failures {
				if strings.Contains(msg, m.want) {
					return
				}
			}
			t.Errorf("check did not report %q; failures:\n%s", m.want, strings.Join(f.Failures, "\n"))
		})
	}
}

func TestCheckSkipsWhatTheBackendCannotSee(t *testing.T) {
	rep := sampleReport()
	evs := synth(rep, backends.DefaultArgvMax)
	// A backend without argv, exe, signal kinds or exit signals: wrong
	// values in those fields and no signal events must not fail, and each
	// skip must be said.
	var kept []semconv.Event
	for _, e := range evs {
		if e.Kind == semconv.KindSignal {
			continue
		}
		e.Exec.Argv, e.Process.Argv, e.Process.Exe = nil, nil, ""
		e.Exit.Signal, e.Exit.CoreDumped = 0, false
		kept = append(kept, e)
	}
	caps := fullCaps
	caps.Kinds = []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed, semconv.KindExit, semconv.KindReap}
	caps.Argv, caps.Exe, caps.ExitSignal, caps.CoreDump = false, false, false, false
	f := Check(rep, caps, backends.Options{}, kept)
	if !f.OK() {
		t.Fatalf("check failed on fields the backend disclaims:\n%s", strings.Join(f.Failures, "\n"))
	}
	for _, want := range []string{"argv not checked", "Process.Exe) not checked", "signals not checked", "terminating signal not checked", "core-dumped flag not checked"} {
		found := false
		for _, s := range f.Skipped {
			found = found || strings.Contains(s, want)
		}
		if !found {
			t.Errorf("skips %q do not mention %q", f.Skipped, want)
		}
	}
}

func TestArgvProblem(t *testing.T) {
	long := []string{"a", strings.Repeat("b", 3000), strings.Repeat("c", 3000)}
	tests := []struct {
		name  string
		got   []string
		trunc bool
		want  []string
		ok    bool
	}{
		{"exact", []string{"a", "b c", ""}, false, []string{"a", "b c", ""}, true},
		{"empty string lost", []string{"a", "b c"}, false, []string{"a", "b c", ""}, false},
		{"cut at string boundary", long[:2], true, long, true},
		{"cut inside a string", []string{"a", long[1], long[2][:900]}, true, long, true},
		{"cut exactly at the limit", []string{"a", long[1], long[2][:4096-2-3001]}, true, long, true},
		{"cut one byte over the limit", []string{"a", long[1], long[2][:4096-2-3001+1]}, true, long, false},
		{"cut too short", []string{"a"}, true, long, false},
		{"not a prefix", []string{"a", strings.Repeat("x", 3000)}, true, long, false},
		{"over the limit", long, true, long, false},
		{"nothing captured", nil, true, long, false},
	}
	for _, tc := range tests {
		msg := argvProblem(tc.got, tc.trunc, tc.want, 4096)
		if (msg == "") != tc.ok {
			t.Errorf("%s: argvProblem = %q, want ok=%t", tc.name, msg, tc.ok)
		}
	}
}

func TestCheckStats(t *testing.T) {
	if bad := CheckStats(backends.Stats{}); len(bad) != 0 {
		t.Errorf("clean stats reported %q", bad)
	}
	var st backends.Stats
	st.Lost[semconv.KindExit] = 2
	st.DecodeErrors = 1
	bad := CheckStats(st)
	if len(bad) != 2 || !strings.Contains(bad[0], "exit=2") || !strings.Contains(bad[1], "1 decode errors") {
		t.Errorf("CheckStats = %q, want lost exit=2 and 1 decode error", bad)
	}
}

// TestCommDuringExecWindow: the kernel renames a task inside exec, before
// the exec event is recorded, so a signal that lands in that window
// carries the new image's name although its time precedes the exec event.
// That is accepted; any other name is not.
func TestCommDuringExecWindow(t *testing.T) {
	rep := sampleReport()
	rep.Signals = append(rep.Signals, truth.Signal{Sender: 100, Target: 101, Signo: 15})
	base := synth(rep, backends.DefaultArgvMax)
	execAt := base[find(t, base, semconv.KindExec, 101)].BootNS
	sigIdx := -1
	for i, e := range base {
		if e.Kind == semconv.KindSignal && e.Process.PID == 101 {
			sigIdx = i
		}
	}
	if sigIdx < 0 {
		t.Fatal("synth made no signal event for 101")
	}
	for _, c := range []struct {
		comm string
		ok   bool
	}{{"true", true}, {"workload", true}, {"bogus", false}} {
		evs := append([]semconv.Event(nil), base...)
		evs[sigIdx].BootNS = execAt - 1
		evs[sigIdx].Process.Comm = c.comm
		f := Check(rep, fullCaps, backends.Options{}, evs)
		if f.OK() != c.ok {
			t.Errorf("signal just before exec with comm %q: ok=%v, want %v; failures:\n%s", c.comm, f.OK(), c.ok, strings.Join(f.Failures, "\n"))
		}
	}
}
