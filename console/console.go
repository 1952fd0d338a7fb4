// Package console owns procotel's interactive console (`procotel
// console`): a prompt with history and tab completion over a running
// backend and pipeline, with live views of the event stream (tail, top)
// and of the process table (ps, tree, show, containers, jails), and the
// counters (stats). The console reads the pipeline through its read-only
// views and the events through its own Sink; it never changes them.
package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/terminal"
)

// DefaultPrompt is the prompt when Options.Prompt is empty.
const DefaultPrompt = "procotel> "

// Options configure a console.
type Options struct {
	// Backend is the event source, already started; the console reads its
	// Capabilities and Stats.
	Backend backends.Backend
	// Pipeline is the pipeline the backend feeds; the console reads its
	// views and Stats.
	Pipeline *pipeline.Pipeline
	// Sink is the console's sink, given to pipeline.New with Pipeline.
	Sink *Sink
	// Stdin and Stdout are the console's terminal. When Stdin is a
	// terminal the console keeps it in raw mode while it runs, so Ctrl-C
	// is a key; otherwise it reads commands line by line, without a
	// prompt (a script). The console closes Stdin when it closes.
	Stdin  io.ReadCloser
	Stdout io.Writer
	// HistoryFile is where command history is kept; empty keeps none.
	// See DefaultHistoryFile.
	HistoryFile string
	// Prompt is shown before each command; DefaultPrompt when empty.
	Prompt string
	// Color turns on ANSI colours in tail.
	Color bool
	// QueueDepth, when set, reports the events waiting between the
	// backend and the pipeline and the queue's capacity, for stats.
	QueueDepth func() (waiting, capacity int)
}

// Console is an interactive session. Run drives it from one goroutine;
// Interrupt and Notify may be called from any goroutine.
type Console struct {
	opts        Options
	caps        backends.Capabilities
	out         io.Writer
	interactive bool
	started     time.Time

	kb   *keyboard
	term *terminalMode
	rl   *readline.Instance

	samples sampler

	closeOnce sync.Once
	closeErr  error
}

// DefaultHistoryFile returns where the history is kept for this user:
// $XDG_STATE_HOME/procotel/history when XDG_STATE_HOME is set, else
// ~/.procotel_history; empty when neither can be found.
func DefaultHistoryFile() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "procotel", "history")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".procotel_history")
	}
	return ""
}

// New returns a console over a started backend and its pipeline. It does
// not read input until Run.
func New(opts Options) (*Console, error) {
	switch {
	case opts.Backend == nil:
		return nil, errors.New("new console: no backend")
	case opts.Pipeline == nil:
		return nil, errors.New("new console: no pipeline")
	case opts.Sink == nil:
		return nil, errors.New("new console: no sink")
	case opts.Stdin == nil || opts.Stdout == nil:
		return nil, errors.New("new console: no terminal (Stdin and Stdout)")
	}
	if opts.Prompt == "" {
		opts.Prompt = DefaultPrompt
	}
	c := &Console{
		opts:    opts,
		caps:    opts.Backend.Capabilities(),
		out:     opts.Stdout,
		started: time.Now(),
		term:    newTerminalMode(opts.Stdin),
	}
	c.interactive = c.term.isTerminal() && isTerminalFile(opts.Stdout)
	if opts.HistoryFile != "" {
		if err := prepareHistory(opts.HistoryFile); err != nil {
			fmt.Fprintf(c.out, "procotel: history not kept: %v\n", err)
			c.opts.HistoryFile = ""
		}
	}
	c.kb = newKeyboard(opts.Stdin)
	onWidth := func(func()) {}
	if f, ok := opts.Stdout.(*os.File); ok && f == os.Stdout && c.interactive {
		onWidth = readline.DefaultOnWidthChanged
	}
	noop := func() error { return nil }
	rl, err := readline.NewEx(&readline.Config{
		Prompt:              opts.Prompt,
		HistoryFile:         c.opts.HistoryFile,
		HistorySearchFold:   true,
		AutoComplete:        completer{c},
		InterruptPrompt:     "^C",
		EOFPrompt:           "quit",
		Stdin:               c.kb,
		Stdout:              opts.Stdout,
		Stderr:              opts.Stdout,
		FuncGetWidth:        func() int { return width(opts.Stdout) },
		FuncIsTerminal:      func() bool { return c.interactive },
		FuncMakeRaw:         noop, // the console holds raw mode for the whole session
		FuncExitRaw:         noop,
		FuncOnWidthChanged:  onWidth,
		FuncFilterInputRune: c.filterRune,
	})
	if err != nil {
		c.kb.Close()
		return nil, fmt.Errorf("new console: %w", err)
	}
	c.rl = rl
	return c, nil
}

// filterRune is the line editor's input filter. It drops Ctrl-Z:
// suspending would leave the shell with a raw terminal. And it ends the
// editor's line loop once the console is closed: chzyer/readline's
// Operation.ioloop (v1.5.1) has no return, and after its input ends it
// would wait forever to report that end once more. Rune 0 is what that
// loop reads then; the end is reported (Operation.Close, so a Readline
// in progress returns io.EOF) and the goroutine ends here.
func (c *Console) filterRune(r rune) (rune, bool) {
	if r == 0 && c.kb.isClosed() {
		c.rl.Operation.Close()
		runtime.Goexit()
	}
	return r, r != readline.CharCtrlZ
}

// prepareHistory creates the history file's directory and the file itself,
// readable by its owner only (commands may name what the user looks for).
func prepareHistory(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Run reads and runs commands until the user quits (quit, Ctrl-D, end of
// input) or ctx ends, and returns nil then. Ctrl-C stops a running view;
// at the prompt it drops the line. Run may be called once.
func (c *Console) Run(ctx context.Context) error {
	if err := c.term.enter(); err != nil {
		return fmt.Errorf("run console: raw mode: %w", err)
	}
	defer c.term.restore()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		c.term.restore() // before its input is closed
		c.kb.Close()
	}()
	go c.samples.run(ctx, c.opts.Backend)

	if c.interactive {
		c.printf("procotel console — %s backend (%s). Type help for commands, Tab to complete, Ctrl-D to leave.\n",
			c.opts.Backend.Name(), c.caps.OS)
	}
	for {
		line, err := c.rl.Readline()
		if ctx.Err() != nil {
			return nil // a line cut short by the end is not run
		}
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			if n := c.kb.takeTooLong(); n > 0 {
				c.printf("line dropped: longer than %d bytes, the most a command takes; nothing was run\n", MaxLine)
				continue
			}
			if strings.TrimSpace(line) == "" {
				c.printf("(Ctrl-C stops tail and top; type quit or press Ctrl-D to leave)\n")
			}
			continue
		case err != nil: // io.EOF: Ctrl-D, end of input, or Close
			return nil
		}
		if quit := c.execute(ctx, line); quit {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Interrupt stops the running view (tail, top), as Ctrl-C does; at the
// prompt it prints the hint Ctrl-C prints. A program whose input is not a
// terminal calls it on SIGINT.
func (c *Console) Interrupt() {
	if !c.kb.interrupt() {
		c.Notify("(Ctrl-C stops tail and top; type quit or press Ctrl-D to leave)")
	}
}

// Notify prints a message without disturbing the line being edited, for
// news from outside the console (the backend stopped, say).
func (c *Console) Notify(msg string) {
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	c.rl.Write([]byte(msg))
}

// Close ends the session: it stops reading input, closes Stdin and
// restores the terminal. It is idempotent and may be called while Run
// runs, which then returns.
func (c *Console) Close() error {
	c.closeOnce.Do(func() {
		// The terminal first: restoring it needs the input still open.
		err := c.term.restore()
		c.kb.Close()
		if e := c.rl.Close(); err == nil {
			err = e
		}
		if c.opts.HistoryFile != "" {
			// The line editor rewrites the file when it compacts it, with
			// the umask's permissions; keep it private.
			os.Chmod(c.opts.HistoryFile, 0o600)
		}
		c.closeErr = err
	})
	return c.closeErr
}

// printf prints to the console. Its string and error arguments are
// escaped for the terminal (terminal.Escape), since most hold text from
// the processes watched; the format is printed as it is. Text the console
// builds itself with line breaks or escape sequences goes through print.
func (c *Console) printf(format string, args ...any) {
	fmt.Fprintf(c.out, format, escapeArgs(args)...)
}

// print prints text the console composed, as it is.
func (c *Console) print(s string) { io.WriteString(c.out, s) }

// escapeArgs returns args with each string and error made an escaped
// value; it does not change args.
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = escaped(v)
		case error:
			out[i] = escaped(v.Error())
		default:
			out[i] = a
		}
	}
	return out
}

// escaped is a string that prints escaped for the terminal with %s and
// %v, with width and flags as given; %q quotes it as usual (which escapes
// too).
type escaped string

// Format implements fmt.Formatter.
func (s escaped) Format(f fmt.State, verb rune) {
	v := string(s)
	if verb != 'q' {
		v = terminal.Escape(v)
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), v)
}
