package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/console"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

const consoleUsage = `Usage:
  procotel console [flags]

Runs the backend and the pipeline in-process and gives a prompt with live
views: tail [filter], ps, tree [pid], show <pid>, top [seconds], stats,
containers, jails, help, quit. History is kept in $XDG_STATE_HOME/procotel/history
(or ~/.procotel_history; --history '' keeps none).

Flags:
`

// runConsole runs `procotel console`: the backend, the pipeline feeding
// the console's sink, and the interactive console on the terminal.
func runConsole(args []string, stdout, stderr io.Writer) int {
	fs, flags := newFlagSet(stderr)
	history := fs.String("history", console.DefaultHistoryFile(), "file to keep command history in (empty: none)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, consoleUsage)
		printFlags(out, fs)
	}
	if code, done := parseFlags(fs, args, stdout, stderr, "procotel console"); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "procotel console: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := flags.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "procotel console: %v\n", err)
		return exitUsage
	}
	r := &runner{cfg: cfg, stdout: stdout, stderr: stderr}
	plan, err := r.plan()
	if err != nil {
		fmt.Fprintf(stderr, "procotel console: %v\n", err)
		return exitUsage
	}
	plan.Pipeline.FlushIncomplete = false // the console shows live processes; it exports no spans

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	a, code, err := r.open(ctx, plan)
	if err != nil {
		fmt.Fprintf(stderr, "procotel console: %v\n", err)
		return code
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer closeCancel()
	defer a.Stop(closeCtx)

	sink := console.NewSink(console.SinkOptions{})
	pipe := a.Run(sink)
	con, err := console.New(console.Options{
		Backend:     a.Backend(),
		Pipeline:    pipe,
		Sink:        sink,
		Stdin:       os.Stdin,
		Stdout:      stdout,
		HistoryFile: *history,
		Color:       r.color(),
		QueueDepth:  a.QueueDepth,
	})
	if err != nil {
		fmt.Fprintf(stderr, "procotel console: %v\n", err)
		return exitError
	}
	defer con.Close()
	go func() {
		<-a.Ended()
		switch {
		case !a.EndedByItself():
		case a.Err() != nil:
			con.Notify(fmt.Sprintf("procotel: %v", a.Err()))
		default:
			con.Notify(fmt.Sprintf("procotel: %s backend has no more events; the table stays for you to look at", a.BackendName()))
		}
	}()

	// With a terminal, Ctrl-C is a key the console reads; without one
	// (input from a pipe) it arrives as SIGINT and stops the view.
	intr := make(chan os.Signal, 1)
	signal.Notify(intr, os.Interrupt)
	defer signal.Stop(intr)
	go func() {
		for range intr {
			con.Interrupt()
		}
	}()

	waitSeeded(ctx, a, pipe)
	runErr := con.Run(ctx)
	if err := a.Stop(closeCtx); err != nil && runErr == nil {
		runErr = err
	}
	con.Close()
	r.summary(a.Stats(), pipe.Stats(), nil)
	if d := sink.Stats().ViewDropped; d > 0 {
		fmt.Fprintf(stderr, "procotel: console views dropped %d events (terminal too slow)\n", d)
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "procotel console: %v\n", runErr)
		return exitError
	}
	return exitOK
}

// waitSeeded waits (at most 3s) until the backend has sent the processes
// that existed at start and the pipeline has taken them, so the first
// command (from a script, say) sees the whole table. The backend sends
// them first; the count stops growing when they are all sent.
func waitSeeded(ctx context.Context, a *agent.Agent, pipe *pipeline.Pipeline) {
	const settle = 100 * time.Millisecond
	deadline := time.Now().Add(3 * time.Second)
	last, since := a.Stats().Existing, time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
		n := a.Stats().Existing
		if n != last {
			last, since = n, time.Now()
			continue
		}
		if time.Since(since) >= settle && pipe.Stats().In[semconv.KindExisting] >= n {
			return
		}
	}
}
