package pipeline

import (
	"errors"
	"testing"

	"github.com/procotel/procotel/semconv"
)

func TestParseFilterErrors(t *testing.T) {
	cases := []struct {
		expr string
		col  int
		msg  string
	}{
		{`kind=exec exx=1`, 11, `unknown field "exx" (known: argv, cgroup, code, comm, container, errno, euid, exe, gid, jail, kind, pid, ppid, signal, uid)`},
		{`pid=1 exx=1`, 7, `unknown field "exx" (known: argv, cgroup, code, comm, container, errno, euid, exe, gid, jail, kind, pid, ppid, signal, uid)`},
		{`pid>=abc`, 6, `"abc" is not a number (field pid)`},
		{`exe<foo`, 4, `operator "<" needs a numeric field; "exe" is not one`},
		{`kind=exec,fok`, 11, `unknown event kind "fok" (known: fork, start, exec, exec_failed, exit, reap, signal, thread_start, thread_exit, throttle)`},
		{`kind=existing`, 6, `unknown event kind "existing" (known: fork, start, exec, exec_failed, exit, reap, signal, thread_start, thread_exit, throttle)`},
		{`argv="abc`, 6, `unterminated quote`},
		{`pid`, 4, `expected an operator (=, !=, <, <=, >, >=) after "pid"`},
		{`pid:5`, 4, `expected an operator (=, !=, <, <=, >, >=) after "pid", found ":5"`},
		{`pid=`, 5, `missing value`},
		{`pid= uid=1`, 5, `missing value`},
		{`uid<1,2`, 7, `operator "<" takes one value`},
		{`=5`, 1, `expected a field name, found "=5"`},
		{`pid=1 9=1`, 7, `expected a field name, found "9=1"`},
		{`signal=SIGFOO`, 8, `unknown signal "SIGFOO"`},
		{`errno=EWHAT`, 7, `unknown errno "EWHAT"`},
		{`ppid=5+`, 7, `subtree "+" works only with pid`},
		{`pid>5+`, 6, `subtree "+" works only with = and !=`},
		{`comm=a,,b`, 8, `missing value`},
		{`comm=é exx=1`, 8, `unknown field "exx" (known: argv, cgroup, code, comm, container, errno, euid, exe, gid, jail, kind, pid, ppid, signal, uid)`},
		{`uid=-`, 5, `"-" is not a number (field uid)`},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.expr)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("%q: got %v, %v; want a *FilterError", c.expr, f, err)
			continue
		}
		if fe.Col != c.col || fe.Msg != c.msg {
			t.Errorf("%q: got column %d %q, want column %d %q", c.expr, fe.Col, fe.Msg, c.col, c.msg)
		}
	}
	_, err := ParseFilter(`kind=exec exx=1`)
	if got, want := err.Error(), `filter: column 11: unknown field "exx" (known: argv, cgroup, code, comm, container, errno, euid, exe, gid, jail, kind, pid, ppid, signal, uid)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// fakeLineage says 200 and 300 were created by 100 (300 through 200).
type fakeLineage struct{}

func (fakeLineage) Descends(p *semconv.Process, ancestor int32) bool {
	switch p.PID {
	case 200:
		return ancestor == 100
	case 300:
		return ancestor == 100 || ancestor == 200
	}
	return false
}

func TestFilterMatch(t *testing.T) {
	curl := semconv.Event{Kind: semconv.KindExec, OS: semconv.OSLinux, Process: semconv.Process{
		PID: 200, PPID: 100, Creds: semconv.Creds{UID: 1000, EUID: 0, GID: 100}, Comm: "curl",
		Exe: "/usr/bin/curl", Argv: []string{"curl", "-o", "out file", "https://example.com"},
		CgroupID: 77, CgroupPath: "/system.slice/docker-abc.scope", ContainerID: "abcdef0123", ContainerName: "web",
	}}
	killed := semconv.Event{Kind: semconv.KindExit, OS: semconv.OSLinux, Process: semconv.Process{PID: 300, PPID: 200, Comm: "sleep", Exe: "/bin/sleep"},
		Exit: semconv.ExitInfo{Signal: 9}}
	exited := semconv.Event{Kind: semconv.KindExit, OS: semconv.OSLinux, Process: semconv.Process{PID: 400, PPID: 1, Comm: "false", Exe: "/bin/false"},
		Exit: semconv.ExitInfo{Code: 1}}
	failed := semconv.Event{Kind: semconv.KindExecFailed, OS: semconv.OSLinux, Process: semconv.Process{PID: 500, Exe: "/bin/sh"},
		Exec: semconv.ExecInfo{Errno: 2, Filename: "/nope"}}
	usr1Linux := semconv.Event{Kind: semconv.KindSignal, OS: semconv.OSLinux, Process: semconv.Process{PID: 600}, Signal: semconv.SignalInfo{Signo: 10}}
	usr1BSD := semconv.Event{Kind: semconv.KindSignal, OS: semconv.OSFreeBSD, Process: semconv.Process{PID: 600, JailID: 3, JailName: "www"},
		Signal: semconv.SignalInfo{Signo: 30}}

	cases := []struct {
		expr string
		e    *semconv.Event
		want bool
	}{
		{``, &curl, true},
		{`kind=exec`, &curl, true},
		{`kind=exec,exit`, &killed, true},
		{`kind!=exec,exit`, &killed, false},
		{`kind!=exec`, &failed, true},
		{`pid=200`, &curl, true},
		{`pid=201`, &curl, false},
		{`pid!=200`, &curl, false},
		{`pid=100+`, &curl, true},
		{`pid=100+`, &killed, true},
		{`pid=200+`, &killed, true},
		{`pid=200+`, &exited, false},
		{`pid!=100+`, &curl, false},
		{`pid=5,300`, &killed, true},
		{`pid>100 pid<=200`, &curl, true},
		{`pid>200`, &curl, false},
		{`pid>=200`, &curl, true},
		{`ppid=100`, &curl, true},
		{`uid=1000 euid=0 gid=100`, &curl, true},
		{`uid!=0`, &curl, true},
		{`euid!=0`, &curl, false},
		{`comm=curl`, &curl, true},
		{`comm=cu*`, &curl, true},
		{`comm=url`, &curl, false},
		{`exe=curl`, &curl, true},
		{`exe=/usr/bin/curl`, &curl, true},
		{`exe=*/curl`, &curl, true},
		{`exe=/usr/*`, &curl, true},
		{`exe=*/wget,*/curl`, &curl, true},
		{`exe=bin/curl`, &curl, false},
		{`exe="/usr/bin/curl" comm=curl`, &curl, true},
		{`argv=example.com`, &curl, true},
		{`argv="out file"`, &curl, true},
		{`argv="-o out"`, &curl, true},
		{`argv="curl*example*"`, &curl, true},
		{`argv=wget`, &curl, false},
		{`code=1`, &exited, true},
		{`code!=0`, &exited, true},
		{`code!=0`, &killed, false}, // killed: no exit code
		{`code=0`, &curl, false},    // no code on an exec
		{`code!=0`, &curl, false},
		{`code>0`, &exited, true},
		{`signal=SIGKILL`, &killed, true},
		{`signal=KILL`, &killed, true},
		{`signal=9`, &killed, true},
		{`signal=sigkill,segv`, &killed, true},
		{`signal=0`, &exited, true},
		{`signal!=0`, &exited, false},
		{`signal=SIGUSR1`, &usr1Linux, true},
		{`signal=SIGUSR1`, &usr1BSD, true},
		{`signal=10`, &usr1BSD, false},
		{`signal=SIGINFO`, &usr1Linux, false},
		{`signal>=SIGTERM`, &killed, false},
		{`errno=ENOENT`, &failed, true},
		{`errno=2`, &failed, true},
		{`errno=EACCES`, &failed, false},
		{`errno=ENOENT`, &exited, false},
		{`container=abc`, &curl, true},
		{`container=web`, &curl, true},
		{`container=w*`, &curl, true},
		{`container=xyz`, &curl, false},
		{`container=""`, &curl, false},
		{`container=""`, &exited, true},
		{`container!=""`, &curl, true},
		{`jail=3`, &usr1BSD, true},
		{`jail=www`, &usr1BSD, true},
		{`jail=0`, &usr1Linux, true},
		{`jail!=0`, &usr1BSD, true},
		{`cgroup=/system.slice/*`, &curl, true},
		{`cgroup=77`, &curl, true},
		{`cgroup=78`, &curl, false},
		{`kind=exec exe=*/curl uid!=0`, &curl, true},
		{`kind=exec exe=*/curl uid=0`, &curl, false},
		{`  kind=exec   pid=200  `, &curl, true},
		{`KIND=exec`, &curl, true},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if got := f.Match(c.e, fakeLineage{}); got != c.want {
			t.Errorf("%q on %s %d: %v, want %v", c.expr, c.e.Kind, c.e.Process.PID, got, c.want)
		}
		if f.String() != c.expr {
			t.Errorf("String() = %q", f.String())
		}
	}
	var nilFilter *Filter
	if !nilFilter.Match(&curl, nil) {
		t.Errorf("nil filter rejected an event")
	}
	f, _ := ParseFilter("pid=100+")
	if f.Match(&curl, nil) {
		t.Errorf("subtree without lineage matched a descendant")
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"a*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "abd", false},
		{"*/curl", "/usr/bin/curl", true},
		{"*/curl", "/usr/bin/curlx", false},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b", "xxbxxa", false},
		{"abc", "abc", true},
		{"abc*", "ab", false},
	}
	for _, c := range cases {
		if got := globMatch(c.pattern, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
