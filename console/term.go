package console

import (
	"sync"

	"github.com/chzyer/readline"
)

// fdFile is an input or output that is an open file, such as a terminal.
type fdFile interface{ Fd() uintptr }

// terminalMode puts the console's input terminal in raw mode for the
// whole session, not only while a line is edited: Ctrl-C then always
// arrives as a key, at the prompt and while a view runs, instead of
// killing the program. Output processing stays on, so "\n" still starts
// a new line. It does nothing when the input is not a terminal.
type terminalMode struct {
	fd int // -1 when the input is not a terminal

	mu  sync.Mutex
	old *readline.State
}

func newTerminalMode(in any) *terminalMode {
	t := &terminalMode{fd: -1}
	if f, ok := in.(fdFile); ok && readline.IsTerminal(int(f.Fd())) {
		t.fd = int(f.Fd())
	}
	return t
}

// isTerminal reports whether the input is a terminal.
func (t *terminalMode) isTerminal() bool { return t.fd >= 0 }

// enter switches to raw mode; it is idempotent.
func (t *terminalMode) enter() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fd < 0 || t.old != nil {
		return nil
	}
	old, err := readline.MakeRaw(t.fd)
	if err != nil {
		return err
	}
	t.old = old
	return nil
}

// restore puts the terminal back as it was; it is idempotent.
func (t *terminalMode) restore() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.old == nil {
		return nil
	}
	err := readline.Restore(t.fd, t.old)
	t.old = nil
	return err
}

// width returns the width of the output terminal, 80 when unknown.
func width(out any) int {
	if f, ok := out.(fdFile); ok {
		if w, _, err := readline.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// isTerminalOutput reports whether out is a terminal.
func isTerminalOutput(out any) bool {
	f, ok := out.(fdFile)
	return ok && readline.IsTerminal(int(f.Fd()))
}
