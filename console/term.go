package console

import (
	"errors"
	"sync"
	"syscall"

	"github.com/chzyer/readline"
)

// withFD runs f on the file descriptor of file when it is an open file (a
// syscall.Conn, such as *os.File); otherwise, or when file is closed, it
// returns an error and f does not run. Unlike
// os.File.Fd it leaves a pollable file non-blocking, so that closing the
// console's input ends the keyboard's Read in progress instead of leaving
// it (and the descriptor) waiting for the next key.
func withFD(file any, f func(fd int)) error {
	sc, ok := file.(syscall.Conn)
	if !ok {
		return errNotFile
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { f(int(fd)) })
}

var errNotFile = errors.New("not an open file")

// terminalMode puts the console's input terminal in raw mode for the
// whole session, not only while a line is edited: Ctrl-C then always
// arrives as a key, at the prompt and while a view runs, instead of
// killing the program. Output processing stays on, so "\n" still starts
// a new line. It does nothing when the input is not a terminal. The
// terminal must be restored before the input is closed.
type terminalMode struct {
	in       any
	terminal bool

	mu  sync.Mutex
	old *readline.State
}

func newTerminalMode(in any) *terminalMode {
	return &terminalMode{in: in, terminal: isTerminalFile(in)}
}

// isTerminal reports whether the input is a terminal.
func (t *terminalMode) isTerminal() bool { return t.terminal }

// enter switches to raw mode; it is idempotent.
func (t *terminalMode) enter() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.terminal || t.old != nil {
		return nil
	}
	var old *readline.State
	var err error
	if cerr := withFD(t.in, func(fd int) { old, err = readline.MakeRaw(fd) }); cerr != nil {
		return cerr
	}
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
	var err error
	if cerr := withFD(t.in, func(fd int) { err = readline.Restore(fd, t.old) }); cerr != nil {
		err = cerr
	}
	t.old = nil
	return err
}

// width returns the width of the output terminal, 80 when unknown.
func width(out any) int {
	w := 0
	withFD(out, func(fd int) { w, _, _ = readline.GetSize(fd) })
	if w <= 0 {
		return 80
	}
	return w
}

// isTerminalFile reports whether f is an open file that is a terminal.
func isTerminalFile(f any) bool {
	is := false
	withFD(f, func(fd int) { is = readline.IsTerminal(fd) })
	return is
}
