package console

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/procotel/procotel/pipeline"
)

// command is one console command.
type command struct {
	name    string
	aliases []string
	usage   string // arguments, as help shows them
	summary string // one line
	help    string // more, for help <command>
	// run runs the command; nil for help and quit, which execute handles.
	run func(c *Console, ctx context.Context, in input)
}

// input is a command's arguments and where they start in the line, so
// errors can point at a column.
type input struct {
	line string // the whole line as typed
	args string // the text after the command name, untrimmed
	off  int    // byte offset of args in line
}

// fields returns the arguments split at spaces.
func (in input) fields() []string { return strings.Fields(in.args) }

// commands is the command table, in the order help lists it.
var commands = []command{
	{
		name: "tail", usage: "[-n N] [filter]",
		summary: "follow the event stream until Ctrl-C (or q)",
		help: `Prints the N most recent events that match (default 20, from the
console's memory of the last events), then every new matching event as it
happens, until Ctrl-C or q. The filter is the pipeline filter language:
  tail exe=curl            tail kind=exit code!=0     tail uid=0
  tail pid=1234+           (1234 and everything it started)
  tail container=abc123    tail jail=3                tail errno=ENOENT
Terms are ANDed; a,b means either; != < <= > >= work on numbers; * globs.
Fields: ` + filterFieldList + `.`,
		run: (*Console).tail,
	},
	{
		name: "ps", usage: "[filter]",
		summary: "list the live processes with their age",
		help: `Lists the processes the pipeline's table holds as alive, by pid, with
their age. A filter (the tail language; fields about the process, such as
exe=, uid=, container=, pid=N+) narrows the list.`,
		run: (*Console).ps,
	},
	{
		name: "tree", usage: "[pid]",
		summary: "show the live process tree (or the subtree of pid)",
		help: `Draws the live processes by current parent, with their age. With a
pid, only that process and its live descendants.`,
		run: (*Console).tree,
	},
	{
		name: "show", usage: "<pid>",
		summary: "one process: lineage, argv, creds, execs, children, exit, trace ids",
		help: `Shows what the table knows of the process that has (or last had) pid:
its lineage up to the oldest known ancestor, argv, credentials, session,
the executables it ran (and failed to run), its children, how it ended,
its container or jail, and the trace id and span id of its span.`,
		run: (*Console).show,
	},
	{
		name: "top", usage: "[seconds]",
		summary: "busiest forkers and execers over a sliding window, until Ctrl-C",
		help: `Counts fork events by parent and exec events by process over the last
seconds (default 10), refreshed every second, until Ctrl-C or q.`,
		run: (*Console).top,
	},
	{
		name: "stats", summary: "event rates, losses, table size, queue depth, memory",
		help: `Events per kind (total and per second), what the kernel lost per kind,
the pipeline's counters (table size, evictions, unmatched events), the
queue between backend and pipeline, the console's drops, and memory.`,
		run: (*Console).stats,
	},
	{
		name: "containers", summary: "containers seen, with process counts",
		help: `Lists the containers of the live processes, and of the processes that
ended while the console ran, with counts of each.`,
		run: (*Console).containers,
	},
	{
		name: "jails", summary: "jails seen, with process counts",
		help: `Lists the FreeBSD jails of the live processes, and of the processes that
ended while the console ran, with counts of each.`,
		run: (*Console).jails,
	},
	{
		name: "help", aliases: []string{"?"}, usage: "[command]",
		summary: "list the commands, or explain one",
		// run is nil: execute calls helpCmd, which reads this table.
	},
	{
		name: "quit", aliases: []string{"exit"},
		summary: "leave the console (also Ctrl-D)",
	},
}

// filterFieldList names the filter language's fields, for help and
// completion. The pipeline does not export its list; this one follows
// pipeline.Filter's documentation.
const filterFieldList = "kind, pid, ppid, uid, euid, gid, comm, exe, argv, code, signal, errno, container, jail, cgroup"

var filterFields = strings.Split(strings.ReplaceAll(filterFieldList, " ", ""), ",")

func commandNames() []string {
	names := make([]string, len(commands))
	for i, cmd := range commands {
		names[i] = cmd.name
	}
	return names
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
		for _, a := range commands[i].aliases {
			if a == name {
				return &commands[i]
			}
		}
	}
	return nil
}

// execute runs one line and reports whether the user asked to quit.
func (c *Console) execute(ctx context.Context, line string) (quit bool) {
	start := len(line) - len(strings.TrimLeft(line, " \t"))
	if start == len(line) {
		return false
	}
	end := start
	for end < len(line) && line[end] != ' ' && line[end] != '\t' {
		end++
	}
	name := line[start:end]
	cmd := findCommand(strings.ToLower(name))
	if cmd == nil {
		c.printf("unknown command %q; commands: %s (help <command> explains one)\n",
			name, strings.Join(commandNames(), ", "))
		return false
	}
	in := input{line: line, args: line[end:], off: end}
	switch cmd.name {
	case "quit":
		return true
	case "help":
		c.helpCmd(in)
	default:
		cmd.run(c, ctx, in)
	}
	return false
}

func (c *Console) helpCmd(in input) {
	args := in.fields()
	if len(args) > 0 {
		cmd := findCommand(strings.ToLower(args[0]))
		if cmd == nil {
			c.printf("unknown command %q; commands: %s\n", args[0], strings.Join(commandNames(), ", "))
			return
		}
		c.printf("%s %s\n  %s\n", cmd.name, cmd.usage, cmd.summary)
		if cmd.help != "" {
			c.print("\n" + indent(cmd.help, "  ") + "\n")
		}
		return
	}
	c.printf("Commands:\n")
	for _, cmd := range commands {
		c.printf("  %-28s %s\n", strings.TrimSpace(cmd.name+" "+cmd.usage), cmd.summary)
	}
	c.printf("Tab completes commands, filter fields and pids; Ctrl-C stops a view; Ctrl-D leaves.\n")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// parseFilter parses the filter at byte offset off of the line. A syntax
// error is shown with a caret under the offending column and reported as
// ok false. An empty expression yields a nil filter.
func (c *Console) parseFilter(line string, off int) (f *pipeline.Filter, ok bool) {
	expr := line[off:]
	if strings.TrimSpace(expr) == "" {
		return nil, true
	}
	f, err := pipeline.ParseFilter(expr)
	if err == nil {
		return f, true
	}
	var fe *pipeline.FilterError
	if !errors.As(err, &fe) {
		c.printf("%v\n", err)
		return nil, false
	}
	c.caret(line, utf8.RuneCountInString(line[:off])+fe.Col-1, fe.Msg)
	return nil, false
}

// caret prints msg under column col (0-based, in characters) of the line
// the user typed. At a terminal the line is on screen after the prompt;
// otherwise it is printed again first.
func (c *Console) caret(line string, col int, msg string) {
	if c.interactive {
		col += utf8.RuneCountInString(c.opts.Prompt)
		if w := width(c.out); w > 0 {
			col %= w
		}
	} else {
		c.printf("  %s\n", line)
		col += 2
	}
	c.printf("%s^ %s\n", strings.Repeat(" ", col), msg)
}

// pidArg parses a pid argument; it prints what is wrong and returns false.
func (c *Console) pidArg(cmd, s string) (int32, bool) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n <= 0 {
		c.printf("%s: %q is not a pid\n", cmd, s)
		return 0, false
	}
	return int32(n), true
}
