package terminal

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/procotel/procotel/semconv"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"/usr/bin/ls", "/usr/bin/ls"},
		{"a b\"c\\d", "a b\"c\\d"}, // printable: as it is
		{"héllo wörld 日本", "héllo wörld 日本"},
		{"\x1b[1A\x1b[2Kgone", `"\x1b[1A\x1b[2Kgone"`},
		{"\x1b]0;owned\a", `"\x1b]0;owned\a"`},
		{"tab\there", `"tab\there"`},
		{"nl\n", `"nl\n"`},
		{"del\x7f", `"del\x7f"`},
		{"c1 \u009b2J", `"c1 \u009b2J"`},   // CSI as one character
		{"csi \xc2\x9b", `"csi \u009b"`},   // the same, spelled in bytes
		{"bad \xff\xfe", `"bad \xff\xfe"`}, // not UTF-8
		{"é\x1b", `"é\x1b"`},               // control after a non-ASCII character
		{"rtl \u202e", `"rtl \u202e"`},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %s, want %s", c.in, got, c.want)
		}
		if got := string(AppendEscaped([]byte("x"), c.in)); got != "x"+c.want {
			t.Errorf("AppendEscaped(%q) = %s", c.in, got)
		}
		if got := Escape(Escape(c.in)); got != c.want {
			t.Errorf("Escape(Escape(%q)) = %s, not idempotent", c.in, got)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"", `""`},
		{"a b", `"a b"`},
		{"$HOME", `"$HOME"`},
		{"\x1b[2J", `"\x1b[2J"`},
	} {
		if got := QuoteArg(c.in); got != c.want {
			t.Errorf("QuoteArg(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// assertTerminalSafe fails if out holds anything a terminal would act on
// apart from the line ends: C0 and C1 controls, DEL, invalid UTF-8.
func assertTerminalSafe(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("output is not valid UTF-8: %q", out)
	}
	for _, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f) {
			t.Errorf("control character %U reaches the terminal in %q", r, out)
			return
		}
	}
}

// Text from the watched processes never reaches the terminal raw: argv,
// the executable, the kernel name, a failed exec's filename, the sender of
// a signal, a container's name.
func TestTextEscapesProcessText(t *testing.T) {
	const evil = "\x1b[1A\x1b[2Kgone"
	exec := ev(semconv.KindExec, 10, 1, "true")
	exec.Process.Exe = "/tmp/\x1b]0;owned\a"
	exec.Process.Argv = []string{"/bin/true", evil, "c1\u009b2J", "bad\xff"}
	fork := ev(semconv.KindFork, 11, 1, "x\x1b[31m")
	failed := ev(semconv.KindExecFailed, 12, 1, "sh")
	failed.Exec = semconv.ExecInfo{Filename: "/no/" + evil, Errno: 2}
	sig := ev(semconv.KindSignal, 13, 1, "sleep")
	sig.Signal = semconv.SignalInfo{Signo: 15, SenderPID: 1, SenderComm: "k\x07ill", Outcome: semconv.SignalDelivered}
	ctr := ev(semconv.KindFork, 14, 1, "sh")
	ctr.Process.ContainerID, ctr.Process.ContainerName = "abc", "web\x1b[H"

	var buf bytes.Buffer
	s := NewText(&buf, Options{Location: time.UTC})
	for _, e := range []semconv.Event{exec, fork, failed, sig, ctr} {
		s.Event(&e)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	assertTerminalSafe(t, out)
	for _, want := range []string{
		`"/tmp/\x1b]0;owned\a" "\x1b[1A\x1b[2Kgone" "c1\u009b2J" "bad\xff"`,
		`"x\x1b[31m"`,
		`"/no/\x1b[1A\x1b[2Kgone": ENOENT`,
		`from 1 ("k\aill")`,
		`[container "web\x1b[H"]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}
