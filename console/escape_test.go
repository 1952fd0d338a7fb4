package console

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/procotel/procotel/semconv"
)

// Process text chosen to rewrite the operator's screen: move up and erase
// a line, set the window title, clear the screen, a C1 CSI.
const (
	evilArg   = "\x1b[1A\x1b[2Kgone"
	evilExe   = "/tmp/\x1b]0;owned\a"
	evilTitle = "\x1b]0;owned\a"
)

// writeEvilRecording is a recording whose process 300 has hostile argv,
// executable, cwd, kernel name and container name, and whose process 301
// failed to execute a hostile filename.
func writeEvilRecording(t *testing.T) (string, uint64) {
	var r recBuilder
	init := proc(1, 0, "systemd")
	init.PGID, init.SID = 1, 1
	r.add(10*ms, semconv.KindExisting, init, nil)

	// Ten minutes after boot: aged about 50 minutes, an age printed with
	// the same width however long the tests before this one took, so
	// tree's clipped lines end in the same place.
	const at = 600_000 * ms
	starts[300], starts[301] = at, at+100*ms
	p := proc(300, 1, "evil\x1b[31m")
	p.ContainerID, p.ContainerName, p.ContainerRuntime = containerID, "web\x1b[2J", "docker"
	r.add(at, semconv.KindFork, p, nil)
	p.Exe, p.Cwd = evilExe, "/tmp/\x1b[H"
	p.Argv = []string{evilTitle, evilArg, "c1\u009b2J"}
	r.add(at+10*ms, semconv.KindExec, p, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: evilExe, Argv: p.Argv}
	})
	q := proc(301, 300, "sh")
	r.add(at+100*ms, semconv.KindFork, q, nil)
	r.add(at+110*ms, semconv.KindExecFailed, q, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/no/" + evilArg, Argv: []string{"/no/" + evilArg}, Errno: 2}
	})
	return saveRecording(t, r.events)
}

// runScript runs the console over r with script as its input and returns
// what it printed.
func runScript(t *testing.T, r *rig, script string) string {
	t.Helper()
	var out strings.Builder
	con, err := New(Options{Backend: r.b, Pipeline: r.pipe, Sink: r.sink,
		Stdin: pipeInput{strings.NewReader(script)}, Stdout: &lockedWriter{w: &out}})
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := con.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// terminalSafe fails if out holds a control character other than the line
// ends, a C1 character or invalid UTF-8.
func terminalSafe(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: output is not valid UTF-8:\n%q", what, out)
	}
	for _, c := range out {
		if c != '\n' && (c < 0x20 || c == 0x7f || c >= 0x80 && c <= 0x9f) {
			t.Errorf("%s: control character %U reaches the terminal:\n%q", what, c, out)
			return
		}
	}
}

func TestConsoleEscapesProcessText(t *testing.T) {
	r := replayRigOf(t, writeEvilRecording)
	for _, c := range []struct {
		cmd  string
		want []string
	}{
		// ps and tree clip their lines to the 80 columns of a non-terminal.
		{"ps", []string{`300       1   1000`, `"\x1b]0;owned\a" [container "web\x1b[2J"] "\x1…`}},
		{"tree", []string{`└─ 300 "\x1b]0;owned\a"`, `"\x1b[1A\x1b[2Kgone" "c1\u009b2J" [container …`}},
		{"show 300", []string{`exe:         "/tmp/\x1b]0;owned\a"`, `cwd:         "/tmp/\x1b[H"`,
			`comm:        "evil\x1b[31m"`, `argv:        ["\x1b]0;owned\a" "\x1b[1A\x1b[2Kgone" "c1\u009b2J"]`,
			`("web\x1b[2J") runtime docker`, `1 systemd`}},
		{"show 301", []string{`FAILED ENOENT  "/no/\x1b[1A\x1b[2Kgone"`, `300 "\x1b]0;owned\a" ← 1 systemd`}},
		{"containers", []string{`"web\x1b[2J"`}},
		{"top", []string{`"\x1b]0;owned\a"`}},
		{"tail -n 50", []string{`fork         300    1      1000   "evil\x1b[31m"`,
			`exec         300    1      1000   "\x1b]0;owned\a" "/tmp/\x1b]0;owned\a" "\x1b[1A\x1b[2Kgone" "c1\u009b2J"  [container "web\x1b[2J"]`,
			`"/no/\x1b[1A\x1b[2Kgone": ENOENT`}},
	} {
		out := runScript(t, r, c.cmd+"\n")
		terminalSafe(t, c.cmd, out)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %s:\n%s", c.cmd, w, out)
			}
		}
	}
}

// printf escapes its string and error arguments and keeps widths and %q.
func TestPrintfEscapesArguments(t *testing.T) {
	var out strings.Builder
	c := &Console{out: &out}
	c.printf("%-10s|%q|%v|%d\n", "a\x1bb", "x\x1b", errors.New("e\x1b[2J"), 7)
	if got, want := out.String(), `"a\x1bb"  |"x\x1b"|"e\x1b[2J"|7`+"\n"; got != want {
		t.Fatalf("printf wrote %q, want %q", got, want)
	}
}

// Tab completion prints its candidates as they are: names a terminal
// would act on are not offered.
func TestCompletionSkipsHostileNames(t *testing.T) {
	r := replayRigOf(t, writeEvilRecording)
	c := &Console{opts: Options{Pipeline: r.pipe}}
	for _, word := range []string{"exe=", "comm="} {
		cands, _ := completer{c}.filter(word)
		for _, cand := range cands {
			if s := string(cand); strings.ContainsAny(s, "\x1b\a") {
				t.Errorf("%s offers %q", word, s)
			}
		}
		if len(cands) == 0 {
			t.Errorf("%s offers nothing; want the clean names", word)
		}
	}
}
