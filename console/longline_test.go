package console

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// paste types text at the terminal from another goroutine (a write of
// 100 KB to a pty blocks until the console reads it).
func (s *screen) paste(text string) {
	go s.ptm.Write([]byte(text))
}

// A pasted line of 100 KB is dropped with a message within seconds, the
// console goes on answering, Ctrl-C is answered right after such a paste,
// and cancelling Run (SIGTERM in the binary) ends it even while one is
// being pasted.
func TestConsoleLongLine(t *testing.T) {
	r := replayRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _, done := startConsoleContext(t, ctx, r, tempHistory(t))
	const huge = 100 << 10

	start := time.Now()
	m := s.mark()
	s.paste(strings.Repeat("a", huge) + "\r")
	out := s.waitForWithin(m, "line dropped", 5*time.Second)
	s.waitForWithin(m+strings.Index(out, "line dropped"), DefaultPrompt, 5*time.Second)
	t.Logf("100 KB line dropped in %v", time.Since(start))
	if !strings.Contains(out, "longer than 1024 bytes") {
		t.Errorf("message does not say the limit:\n%s", out)
	}
	if out := s.cmd("help"); !strings.Contains(out, "Commands:") {
		t.Errorf("help after the long line:\n%s", out)
	}
	// A line of exactly MaxLine bytes is still taken.
	if out := s.cmd("show 203" + strings.Repeat(" ", MaxLine-len("show 203"))); !strings.Contains(out, "jail:        7 (www)") {
		t.Errorf("a line of %d bytes was not run:\n%s", MaxLine, out)
	}

	// Ctrl-C right after a long paste: the hint Ctrl-C prints at the
	// prompt comes at once, not after the paste.
	m = s.mark()
	s.paste(strings.Repeat("b", huge) + "\r\x03")
	start = time.Now()
	s.waitForWithin(m, "(Ctrl-C stops tail and top", 5*time.Second)
	t.Logf("Ctrl-C after a 100 KB paste answered in %v", time.Since(start))

	// Cancel while a long line is being pasted, without Enter.
	s.paste(strings.Repeat("c", huge))
	time.Sleep(50 * time.Millisecond)
	cancel()
	cancelled := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		t.Logf("Run returned %v after cancel", time.Since(cancelled))
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancelling during a long paste")
	}
	done <- nil // for the cleanup
}

// lineEnds counts the line ends and Ctrl-Cs in s.
func lineEnds(s string) int {
	return strings.Count(s, "\n") + strings.Count(s, "\r") + strings.Count(s, "\x03")
}

// readAll reads from k until it has n line ends or Ctrl-Cs, and returns
// what it read; it fails after 10s.
func readAll(t *testing.T, k *keyboard, n int) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	timeout := time.AfterFunc(10*time.Second, func() { k.Close() })
	defer timeout.Stop()
	for lineEnds(b.String()) < n {
		m, err := k.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes and %d line ends of %d: %v", b.Len(), lineEnds(b.String()), n, err)
		}
		b.Write(buf[:m])
	}
	return b.String()
}

// The keyboard hands the editor no line longer than MaxLine, wherever the
// line falls in the input's reads, and loses none of the lines around it.
func TestKeyboardCutsLongLines(t *testing.T) {
	long := strings.Repeat("x", MaxLine+1)
	fits := strings.Repeat("y", MaxLine)
	q := regexp.QuoteMeta
	for _, c := range []struct {
		name   string
		writes []string
		want   string // a regular expression for all the editor gets
		ends   int    // the line ends and Ctrl-Cs in it
		cut    int
	}{
		{"one read", []string{"ps\n" + long + "\nhelp\n"}, q("ps\n\x03help\n"), 3, 1},
		// Given as it comes, the line reaches the editor, up to MaxLine.
		{"byte by byte", strings.Split("ps\n"+long+"\nhelp\n", ""), `ps\nx*\x03help\n`, 3, 1},
		{"exactly MaxLine", []string{fits + "\n"}, q(fits + "\n"), 1, 0},
		{"MaxLine in pieces", []string{fits[:100], fits[100:], "\r"}, q(fits + "\r"), 1, 0},
		{"Ctrl-C starts over", []string{fits + "\x03" + fits + "\n"}, q(fits + "\x03" + fits + "\n"), 2, 0},
		{"two long, no end", []string{long + "\n" + long}, q("\x03\x03"), 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			k := newKeyboard(pr)
			defer k.Close()
			go func() {
				for _, w := range c.writes {
					pw.Write([]byte(w))
				}
			}()
			got := readAll(t, k, c.ends)
			if !regexp.MustCompile(`^(?s:` + c.want + `)$`).MatchString(got) {
				t.Errorf("editor got %d bytes %.60q…, want /%.60s…/", len(got), got, c.want)
			}
			for _, line := range regexp.MustCompile("[\r\n\x03]").Split(got, -1) {
				if len(line) > MaxLine {
					t.Errorf("editor got a line of %d bytes", len(line))
				}
			}
			if cut := k.takeTooLong(); cut != c.cut {
				t.Errorf("%d lines reported too long, want %d", cut, c.cut)
			}
		})
	}
}

// Input typed ahead beyond what the keyboard holds waits in the input, it
// is not lost.
func TestKeyboardKeepsTypeAhead(t *testing.T) {
	pr, pw := io.Pipe()
	k := newKeyboard(pr)
	defer k.Close()
	const lines = 3 * maxPending / 8
	go pw.Write([]byte(strings.Repeat("stats\n", lines)))
	time.Sleep(50 * time.Millisecond) // let the keyboard fill up
	if got := strings.Count(readAll(t, k, lines), "stats\n"); got != lines {
		t.Fatalf("editor got %d lines, want %d", got, lines)
	}
}
