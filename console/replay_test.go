package console

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/semconv"
)

// The recording: a small tree with known pids.
//
//	1 systemd (existing)
//	└─ 100 bash (existing, session and group leader)
//	   └─ 200 sh -c job (group leader: roots its own trace)
//	      ├─ 201 exec of /nonexistent fails (ENOENT), then curl; exits 2
//	      ├─ 202 sleep 100, in container "web" (docker)
//	      │  └─ 204 true, in the container; exits 0
//	      └─ 203 jailed, in jail 7 "www"
const (
	testBoot    = semconv.BootID("0f7e4c9a-console-test-boot")
	containerID = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	ms          = uint64(time.Millisecond)
)

// testBootWall is an hour ago, so ages read as about an hour.
var testBootWall = time.Now().Add(-time.Hour).Truncate(time.Second)

// start times (ns since boot) of the processes.
var starts = map[int32]uint64{1: 1 * ms, 100: 500 * ms, 200: 3000 * ms, 201: 3100 * ms, 202: 3200 * ms, 203: 3300 * ms, 204: 3400 * ms}

func proc(pid, ppid int32, comm string) semconv.Process {
	return semconv.Process{
		PID: pid, TID: pid, PPID: ppid, Start: starts[pid], ParentStart: starts[ppid],
		Creds: semconv.Creds{UID: 1000, EUID: 1000, GID: 1000, EGID: 1000},
		PGID:  200, SID: 100, Comm: comm,
	}
}

type recBuilder struct{ events []semconv.Event }

func (r *recBuilder) add(bootNS uint64, k semconv.Kind, p semconv.Process, edit func(e *semconv.Event)) {
	e := semconv.Event{Kind: k, Time: testBootWall.Add(time.Duration(bootNS)), BootNS: bootNS, CPU: 0, OS: semconv.OSLinux, Process: p}
	if edit != nil {
		edit(&e)
	}
	r.events = append(r.events, e)
}

// writeRecording writes the recording and returns its path and event count.
func writeRecording(t *testing.T) (string, uint64) {
	t.Helper()
	var r recBuilder
	init := proc(1, 0, "systemd")
	init.PGID, init.SID, init.UID, init.EUID, init.GID, init.EGID = 1, 1, 0, 0, 0, 0
	init.Exe, init.Argv = "/usr/lib/systemd/systemd", []string{"/sbin/init"}
	r.add(10*ms, semconv.KindExisting, init, nil)
	bash := proc(100, 1, "bash")
	bash.PGID, bash.TTY = 100, "pts/0"
	bash.Exe, bash.Argv = "/usr/bin/bash", []string{"-bash"}
	r.add(10*ms, semconv.KindExisting, bash, nil)

	// 200: bash forks, the child makes its own group and runs sh.
	sh := proc(200, 100, "bash")
	sh.PGID = 100
	r.add(3000*ms, semconv.KindFork, sh, nil)
	sh.PGID, sh.Comm, sh.Exe, sh.Argv = 200, "sh", "/usr/bin/sh", []string{"sh", "-c", "job"}
	r.add(3050*ms, semconv.KindExec, sh, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/bin/sh", Argv: sh.Argv}
	})

	// 201: a failed exec, then curl, exit 2.
	c := proc(201, 200, "sh")
	r.add(3100*ms, semconv.KindFork, c, nil)
	r.add(3110*ms, semconv.KindExecFailed, c, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/nonexistent", Argv: []string{"/nonexistent", "--flag"}, Errno: 2}
	})
	c.Comm, c.Exe, c.Argv = "curl", "/usr/bin/curl", []string{"curl", "-s", "http://example.com/a b"}
	r.add(3120*ms, semconv.KindExec, c, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/usr/bin/curl", Argv: c.Argv}
	})
	r.add(3500*ms, semconv.KindExit, c, func(e *semconv.Event) { e.Exit.Code = 2 })
	r.add(3510*ms, semconv.KindReap, c, func(e *semconv.Event) { e.Reap.ReaperPID = 200 })

	// 202: sleep in a container.
	sl := proc(202, 200, "sh")
	sl.CgroupID, sl.CgroupPath = 4242, "/system.slice/docker-"+containerID+".scope"
	sl.ContainerID, sl.ContainerName, sl.ContainerRuntime = containerID, "web", "docker"
	r.add(3200*ms, semconv.KindFork, sl, nil)
	sl.Comm, sl.Exe, sl.Argv = "sleep", "/usr/bin/sleep", []string{"sleep", "100"}
	r.add(3210*ms, semconv.KindExec, sl, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/usr/bin/sleep", Argv: sl.Argv}
	})

	// 203: in a jail (a hand-built event: the schema carries both).
	j := proc(203, 200, "sh")
	j.JailID, j.JailName = 7, "www"
	r.add(3300*ms, semconv.KindFork, j, nil)
	j.Comm, j.Exe, j.Argv = "jailed", "/usr/local/bin/jailed", []string{"jailed", "-d"}
	r.add(3310*ms, semconv.KindExec, j, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: j.Exe, Argv: j.Argv}
	})

	// 204: true in the container, exit 0.
	tr := proc(204, 202, "sleep")
	tr.CgroupID, tr.CgroupPath = sl.CgroupID, sl.CgroupPath
	tr.ContainerID, tr.ContainerName, tr.ContainerRuntime = containerID, "web", "docker"
	r.add(3400*ms, semconv.KindFork, tr, nil)
	tr.Comm, tr.Exe, tr.Argv = "true", "/usr/bin/true", []string{"true"}
	r.add(3410*ms, semconv.KindExec, tr, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: tr.Exe, Argv: tr.Argv}
	})
	r.add(3420*ms, semconv.KindExit, tr, nil)
	return saveRecording(t, r.events)
}

// saveRecording writes events as a recording and returns its path and
// event count.
func saveRecording(t *testing.T, events []semconv.Event) (string, uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	caps := backends.Capabilities{OS: semconv.OSLinux, Boot: testBoot, Clock: semconv.Clock{BootWall: testBootWall},
		Kinds: []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed, semconv.KindExit, semconv.KindReap}}
	var st backends.Stats
	for i := range events {
		st.Received[events[i].Kind]++
	}
	st.Lost[semconv.KindFork] = 3 // the recording run lost three forks
	if err := replay.WriteFile(path, "ebpf", caps, events, st); err != nil {
		t.Fatal(err)
	}
	return path, uint64(len(events))
}

// replayRig starts the replay backend over the test recording and waits
// until the pipeline has the whole table.
func replayRig(t *testing.T) *rig {
	t.Helper()
	return replayRigOf(t, writeRecording)
}

// replayRigOf is replayRig over the recording that write makes.
func replayRigOf(t *testing.T, write func(*testing.T) (string, uint64)) *rig {
	t.Helper()
	path, n := write(t)
	b, err := replay.New(path, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := startRig(t, b)
	r.waitReplayed(t, n)
	return r
}

// lineWith returns the first line of out that contains s, or fails.
func lineWith(t *testing.T, out, s string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	t.Fatalf("no line with %q in:\n%s", s, out)
	return ""
}

func TestConsoleReplay(t *testing.T) {
	r := replayRig(t)
	history := tempHistory(t)
	s, con, done := startConsole(t, r, history)

	t.Run("ps", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("ps")
		for _, pid := range []string{"1", "100", "200", "202", "203"} {
			if !regexp.MustCompile(`(?m)^\s+` + pid + `\s`).MatchString(out) {
				t.Errorf("ps lacks live pid %s:\n%s", pid, out)
			}
		}
		for _, pid := range []string{"201", "204"} {
			if regexp.MustCompile(`(?m)^\s+` + pid + `\s`).MatchString(out) {
				t.Errorf("ps lists exited pid %s:\n%s", pid, out)
			}
		}
		l := lineWith(t, out, "sleep")
		if !regexp.MustCompile(`^\s+202\s+200\s+1000\s+(59m|1h0)\S*\s+sleep\s+\[container web\] 100$`).MatchString(l) {
			t.Errorf("ps line of 202 = %q", l)
		}
		if !strings.Contains(out, "5 of 5 live processes") {
			t.Errorf("ps count missing:\n%s", out)
		}
		out = s.cmd("ps container=web")
		if !strings.Contains(out, "1 of 5 live processes") || !strings.Contains(out, "202") {
			t.Errorf("ps container=web:\n%s", out)
		}
	})

	t.Run("tree", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("tree 200")
		want := []*regexp.Regexp{
			regexp.MustCompile(`^200 sh  \(\S+\) -c job$`),
			regexp.MustCompile(`^├─ 202 sleep  \(\S+\) 100 \[container web\]$`),
			regexp.MustCompile(`^└─ 203 jailed  \(\S+\) -d \[jail www\]$`),
		}
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("tree 200 has %d lines, want %d:\n%s", len(lines), len(want), out)
		}
		for i, re := range want {
			if !re.MatchString(lines[i]) {
				t.Errorf("tree 200 line %d = %q, want %s", i, lines[i], re)
			}
		}
		out = s.cmd("tree")
		if !strings.Contains(out, "1 systemd") || !strings.Contains(out, "└─ 100 bash") || !strings.Contains(out, "   └─ 200 sh") {
			t.Errorf("tree:\n%s", out)
		}
		out = s.cmd("tree 201")
		if !strings.Contains(out, "pid 201 (curl) is not alive: exited with code 2, reaped") {
			t.Errorf("tree 201:\n%s", out)
		}
	})

	t.Run("show", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("show 201")
		info, ok := r.pipe.Lookup(201)
		if !ok {
			t.Fatal("pipeline lost 201")
		}
		ids := semconv.SpanContextIDs(testBoot, &info.Process, info.Lineage)
		// Ground truth independent of the pipeline: 200 leads its process
		// group, so it roots the trace of 201, and 201's span's parent is 200's.
		root := semconv.KeyOf(200, starts[200])
		if ids.TraceID != semconv.TraceID(testBoot, root) {
			t.Errorf("pipeline lineage gives trace %x, want the trace of 200", ids.TraceID)
		}
		wants := []string{
			"process 201 (curl)",
			"state:       exited with code 2, reaped",
			`argv:        ["curl" "-s" "http://example.com/a b"]`,
			"creds:       uid 1000 euid 1000 gid 1000 egid 1000",
			"lineage:     201 curl ← 200 sh ← 100 bash ← 1 systemd",
			fmt.Sprintf("trace id:    %x", semconv.TraceID(testBoot, root)),
			fmt.Sprintf("span id:     %x", semconv.SpanID(testBoot, semconv.KeyOf(201, starts[201]))),
			fmt.Sprintf("parent span: %x", semconv.SpanID(testBoot, root)),
			fmt.Sprintf("trace id:    %x", ids.TraceID),
			"trace root:  200 sh",
			"execs:       2 observed",
			"FAILED ENOENT  /nonexistent",
			"ok  /usr/bin/curl",
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("show 201 lacks %q:\n%s", w, out)
			}
		}
		out = s.cmd("show 200")
		for _, w := range []string{"state:       alive", "trace root:  itself", "201 curl  exited with code 2, reaped", "202 sleep  alive", "203 jailed  alive", "children:    3 known, 3 forked while observed"} {
			if !strings.Contains(out, w) {
				t.Errorf("show 200 lacks %q:\n%s", w, out)
			}
		}
		out = s.cmd("show 204")
		for _, w := range []string{"exited with code 0", "container:   " + containerID + " (web) runtime docker", "lineage:     204 true ← 202 sleep ← 200 sh"} {
			if !strings.Contains(out, w) {
				t.Errorf("show 204 lacks %q:\n%s", w, out)
			}
		}
		if out := s.cmd("show 203"); !strings.Contains(out, "jail:        7 (www)") {
			t.Errorf("show 203:\n%s", out)
		}
		if out := s.cmd("show 999"); !strings.Contains(out, "pid 999 is not known") {
			t.Errorf("show 999:\n%s", out)
		}
		if out := s.cmd("show abc"); !strings.Contains(out, `show: "abc" is not a pid`) {
			t.Errorf("show abc:\n%s", out)
		}
	})

	t.Run("tail backlog then Ctrl-C", func(t *testing.T) {
		s := s.with(t)
		m := s.mark()
		s.send("tail kind=exit\r")
		s.waitFor(m, "then live; Ctrl-C or q stops --")
		s.waitFor(m, "204")
		s.send("\x03")
		out := s.waitViewEnd(m, "-- tail stopped: 2 recent and 0 live events shown, 0 dropped")
		var events []string
		for _, l := range strings.Split(out, "\n") {
			if regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6}  `).MatchString(l) {
				events = append(events, l)
			}
		}
		if len(events) != 2 {
			t.Fatalf("tail kind=exit showed %d event lines, want the 2 exits:\n%s", len(events), out)
		}
		for i, want := range []string{`^\S+  exit\s+204\s+202\s+1000\s+true\s+code 0  \[container web\]$`, `^\S+  exit\s+201\s+200\s+1000\s+curl\s+code 2$`} {
			if !regexp.MustCompile(want).MatchString(events[i]) {
				t.Errorf("exit line %d = %q, want %s", i, events[i], want)
			}
		}
		// The prompt answers again.
		if out := s.cmd("show 201"); !strings.Contains(out, "exited with code 2") {
			t.Errorf("after tail, show 201:\n%s", out)
		}
	})

	t.Run("tail live events, stop with Ctrl-C", func(t *testing.T) {
		s := s.with(t)
		m := s.mark()
		s.send("tail -n 0 pid=200+\r")
		s.waitFor(m, "then live; Ctrl-C or q stops --")
		// A new child of 200 forks and exits 7; a process outside the
		// subtree exits too and must not show.
		at := uint64(5000 * ms)
		child := proc(205, 200, "sh")
		child.Start = at
		other := proc(300, 1, "cron")
		other.Start, other.ParentStart, other.PGID, other.SID = at, starts[1], 300, 300
		live := []semconv.Event{
			{Kind: semconv.KindFork, BootNS: at, Process: child},
			{Kind: semconv.KindFork, BootNS: at + 1, Process: other},
			{Kind: semconv.KindExit, BootNS: at + 2, Process: other, Exit: semconv.ExitInfo{Code: 1}},
			{Kind: semconv.KindExit, BootNS: at + 3, Process: child, Exit: semconv.ExitInfo{Code: 7}},
		}
		for i := range live {
			live[i].OS, live[i].Time = semconv.OSLinux, testBootWall.Add(time.Duration(live[i].BootNS))
		}
		r.inject(t, live...)
		s.waitFor(m, "code 7")
		s.send("\x03")
		out := s.waitViewEnd(m, "-- tail stopped: 0 recent and 2 live events shown, 0 dropped")
		if strings.Contains(out, "300 ") {
			t.Errorf("tail pid=200+ showed pid 300:\n%s", out)
		}
		if !regexp.MustCompile(`(?m)  fork\s+205\s+200\s`).MatchString(out) {
			t.Errorf("tail pid=200+ lacks the fork of 205:\n%s", out)
		}
		if out := s.cmd("stats"); !strings.Contains(out, "console:") {
			t.Errorf("prompt did not come back after Ctrl-C: %s", out)
		}
	})

	t.Run("top", func(t *testing.T) {
		s := s.with(t)
		m := s.mark()
		s.send("top 3600\r")
		s.waitFor(m, "PID   FORKS   EXECS")
		s.waitFor(m, "\n")
		s.send("q")
		out := s.waitViewEnd(m, "-- top stopped")
		// 200 forked 201, 202, 203 and 205 and ran one exec.
		if !regexp.MustCompile(`(?m)^\s+200\s+4\s+1  sh\s+alive$`).MatchString(out) {
			t.Errorf("top lacks 200 with 4 forks and 1 exec:\n%s", out)
		}
		if !regexp.MustCompile(`(?m)^\s+202\s+1\s+1  sleep\s+alive$`).MatchString(out) {
			t.Errorf("top lacks 202 with 1 fork and 1 exec:\n%s", out)
		}
	})

	t.Run("containers and jails", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("containers")
		if !regexp.MustCompile(`(?m)^abcdef012345\s+web\s+docker\s+1\s+1$`).MatchString(out) {
			t.Errorf("containers (want web: 1 live, 1 ended):\n%s", out)
		}
		out = s.cmd("jails")
		if !regexp.MustCompile(`(?m)^7\s+www\s+1\s+0$`).MatchString(out) {
			t.Errorf("jails (want 7 www: 1 live):\n%s", out)
		}
	})

	t.Run("stats", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("stats")
		for _, re := range []string{
			`(?m)^fork\s+5\s+\S+\s+\S+\s+3\s+0$`, // 5 replayed (the injected ones bypass the backend); 3 lost in the recording
			`(?m)^exec_failed\s+1\s`,
			`(?m)^total\s+\d+\s+3  ← LOST events$`,
			`backend: 2 existing processes seeded`,
			`pipeline: table \d+ processes \(live 5`,
			`memory: heap`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("stats lacks %s:\n%s", re, out)
			}
		}
	})

	t.Run("bad filter", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("tail kind=exit cdoe!=0")
		col := len(DefaultPrompt) + len("tail kind=exit ")
		want := strings.Repeat(" ", col) + `^ unknown field "cdoe"`
		if !strings.Contains(out, want) {
			t.Errorf("want caret line %q, got:\n%s", want, out)
		}
		out = s.cmd("ps   uid>=x")
		col = len(DefaultPrompt) + len("ps   uid>=")
		if !strings.Contains(out, strings.Repeat(" ", col)+"^ ") {
			t.Errorf("caret for ps   uid>=x:\n%s", out)
		}
		if out := s.cmd("ps"); !strings.Contains(out, "live processes") {
			t.Errorf("prompt did not survive a bad filter:\n%s", out)
		}
	})

	t.Run("unknown command and help", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("frobnicate 1 2")
		if !strings.Contains(out, `unknown command "frobnicate"; commands: tail, ps, tree, show, top, stats, containers, jails, help, quit`) {
			t.Errorf("unknown command:\n%s", out)
		}
		if out := s.cmd("help"); !strings.Contains(out, "show <pid>") || !strings.Contains(out, "top [seconds]") {
			t.Errorf("help:\n%s", out)
		}
		if out := s.cmd("help tail"); !strings.Contains(out, "container, jail, cgroup") {
			t.Errorf("help tail:\n%s", out)
		}
	})

	t.Run("completion", func(t *testing.T) {
		s := s.with(t)
		out := s.cmd("contai\t")
		if !strings.Contains(out, "abcdef012345") {
			t.Errorf("Tab did not complete contai to containers:\n%s", out)
		}
		m := s.mark()
		s.send("tail -n 5 kind=exi\t\r")
		s.waitFor(m, `events matching "kind=exit"`)
		s.send("\x03")
		s.waitViewEnd(m, "-- tail stopped")
		// Tab prints the candidates and redraws the prompt before Enter,
		// so wait for the answer itself rather than for the next prompt.
		m = s.mark()
		s.send("show 20\t3\t\r")
		s.waitFor(m, "process 203 (jailed)")
	})

	t.Run("Ctrl-C at the prompt, then Ctrl-D", func(t *testing.T) {
		s := s.with(t)
		m := s.mark()
		s.send("\x03")
		s.waitFor(m, "(Ctrl-C stops tail and top; type quit or press Ctrl-D to leave)")
		s.send("\x04")
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Ctrl-D did not end the console")
		}
		con.Close()
		b, err := os.ReadFile(history)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"ps\n", "tree 200\n", "show 201\n", "tail kind=exit\n"} {
			if !strings.Contains(string(b), w) {
				t.Errorf("history lacks %q:\n%s", w, b)
			}
		}
		if st, err := os.Stat(history); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("history mode %v, want 0600", st.Mode().Perm())
		}
		done <- nil // for the cleanup
	})
}

// TestConsoleScript drives the console without a terminal, as a script
// would: no prompt, the line reprinted above a filter error's caret.
func TestConsoleScript(t *testing.T) {
	got := runScript(t, replayRig(t), "show 201\ntail kind=exit cdoe!=0\nbogus\nquit\nps\n")
	for _, w := range []string{
		"state:       exited with code 2, reaped",
		"  tail kind=exit cdoe!=0\n" + strings.Repeat(" ", 2+len("tail kind=exit ")) + `^ unknown field "cdoe"`,
		`unknown command "bogus"`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("script output lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "live processes") {
		t.Errorf("ps after quit ran:\n%s", got)
	}
	if strings.Contains(got, DefaultPrompt) {
		t.Errorf("prompt printed without a terminal:\n%s", got)
	}
}
