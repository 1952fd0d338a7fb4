package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
	"github.com/procotel/procotel/terminal"
)

type runner struct {
	cfg        config.Config
	stdout     io.Writer
	stderr     io.Writer
	command    []string
	duration   time.Duration
	recordFile string
}

// statsSink is a sink that can report what it wrote and dropped.
type statsSink interface {
	pipeline.Sink
	Stats() terminal.Stats
}

func backendOptions(c config.Config) (backends.Options, error) {
	o := backends.Options{
		ArgvMax:        c.Capture.ArgvMax,
		Threads:        c.Capture.Threads,
		StartEvents:    c.Capture.StartEvents,
		SignalDeliver:  c.Capture.SignalDeliver,
		SignalsAll:     c.Capture.SignalsAll,
		NoExecFailures: !c.Capture.ExecFailures,
		TraceParent:    c.Traces.Traceparent,
		BufferSize:     c.Capture.BufferSize,
	}
	if len(c.Capture.Jails) > 0 {
		ids, err := resolveJails(c.Capture.Jails)
		if err != nil {
			return o, fmt.Errorf("capture.jails: %w", err)
		}
		o.Jails = ids
	}
	return o, nil
}

func (r *runner) run(ctx context.Context) (int, error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts, pcfg, err := r.prepare()
	if err != nil {
		return exitUsage, err
	}
	b, code, err := r.openBackend(ctx, opts)
	if err != nil {
		return code, err
	}
	defer b.Close()
	caps := b.Capabilities()

	if r.recordFile != "" {
		return r.record(ctx, b, caps)
	}

	sinks, closers, err := r.sinks(ctx, caps)
	if err != nil {
		return exitError, err
	}
	pcfg.Clock, pcfg.CredsComplete = caps.Clock, caps.Creds
	pipe := pipeline.New(pcfg, sinks...)
	var exp *export.Exporter
	if len(sinks) > 0 {
		exp, _ = sinks[0].(*export.Exporter) // nil unless exporting OTLP
	}
	stopMetrics, err := startSelfMetrics(ctx, r.cfg, caps, b, pipe, exp)
	if err != nil {
		return exitError, err
	}

	events := make(chan semconv.Event, eventQueue)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	backendErr := runBackend(runCtx, b, events, nil)
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- pipe.Run(context.Background(), events) }()

	code = exitOK
	cmdDone := r.startCommand(runCtx, &code)
	var timeout <-chan time.Time
	if r.duration > 0 {
		timeout = time.After(r.duration)
	}
	select {
	case <-ctx.Done():
	case <-timeout:
	case <-cmdDone:
		// Let the command's last events (exit, reap) through the kernel
		// buffer and the ordering window before stopping.
		time.Sleep(r.cfg.Pipeline.Window + 200*time.Millisecond)
	case err := <-backendErr:
		backendErr <- err // the backend stopped by itself; waitRun reports it
	}
	runErr := waitRun(cancel, b, backendErr, pipeDone)
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer closeCancel()
	if err := pipe.Close(closeCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("flush output: %w", err)
	}
	for _, c := range closers {
		c()
	}
	if err := stopMetrics(closeCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("self-metrics: %w", err)
	}
	r.summary(b.Stats(), pipe.Stats(), sinks)
	if runErr != nil {
		return exitError, runErr
	}
	return code, nil
}

// settleRuntime makes the Go runtime do, before the backend attaches, the
// one-time check it otherwise does at the first process it starts: on
// Linux it forks a child with clone(CLONE_PIDFD) that exits at once, which
// would show up as an event of procotel's own.
func settleRuntime() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Release()
	}
}

// prepare checks everything the user typed before the kernel is touched,
// and returns the backend options and the pipeline configuration (its
// clock and credential fields are the backend's to fill once it started).
func (r *runner) prepare() (backends.Options, pipeline.Config, error) {
	opts, err := backendOptions(r.cfg)
	if err != nil {
		return opts, pipeline.Config{}, err
	}
	filter, err := r.filter()
	if err != nil {
		return opts, pipeline.Config{}, err
	}
	redactor, err := r.redactor()
	if err != nil {
		return opts, pipeline.Config{}, err
	}
	policy, _ := semconv.ParseRootPolicy(r.cfg.Traces.RootPolicy) // validated by config
	return opts, pipeline.Config{
		Window:          r.cfg.Pipeline.Window,
		RootPolicy:      policy,
		Filter:          filter,
		Redact:          redactor,
		MaxProcesses:    r.cfg.Pipeline.MaxProcesses,
		KeepReaped:      cmp.Or(r.cfg.Pipeline.KeepReaped, -1), // the pipeline reads 0 as its default
		FlushIncomplete: r.cfg.Traces.FlushIncomplete,
	}, nil
}

// openBackend selects and starts the configured backend. On error it also
// returns the exit code: usage for a backend that does not exist, error
// for one that cannot start.
func (r *runner) openBackend(ctx context.Context, opts backends.Options) (backends.Backend, int, error) {
	b, err := backends.New(r.cfg.Backend, opts, append(platformBackends(), replay.Factory))
	if err != nil {
		return nil, exitUsage, err
	}
	settleRuntime()
	if err := b.Start(ctx); err != nil {
		b.Close()
		var mf *backends.MissingFeatureError
		if !errors.As(err, &mf) {
			err = fmt.Errorf("start %s backend: %w", b.Name(), err)
		}
		return nil, exitError, err
	}
	return b, exitOK, nil
}

// waitRun stops a running backend (cancel), waits for it and for the
// pipeline draining its events, and returns the first error of the two.
func waitRun(cancel func(), b backends.Backend, backendErr, pipeDone <-chan error) error {
	cancel()
	var err error
	if e := <-backendErr; e != nil {
		err = fmt.Errorf("%s backend: %w", b.Name(), e)
	}
	if e := <-pipeDone; e != nil && err == nil {
		err = e
	}
	return err
}

// eventQueue is how many events wait between the backend and the
// pipeline (or the recorder); beyond it the kernel buffer absorbs bursts.
const eventQueue = 8192

// runBackend runs b into events until ctx ends, then closes events, calls
// after (if any) with Run's result, and sends that result on the returned
// channel.
func runBackend(ctx context.Context, b backends.Backend, events chan<- semconv.Event, after func(error)) chan error {
	errc := make(chan error, 1)
	go func() {
		err := b.Run(ctx, events)
		close(events)
		if after != nil {
			after(err)
		}
		errc <- err
	}()
	return errc
}

// filter combines --filter with, when a command is given, the subtree of
// this process (so only the command and its descendants show).
func (r *runner) filter() (*pipeline.Filter, error) {
	expr := r.cfg.Filter
	if len(r.command) > 0 {
		self := strconv.Itoa(os.Getpid())
		expr = strings.TrimSpace(expr + " pid=" + self + "+ pid!=" + self)
	}
	if expr == "" {
		return nil, nil
	}
	f, err := pipeline.ParseFilter(expr)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (r *runner) redactor() (*pipeline.Redactor, error) {
	red, err := pipeline.NewRedactor(r.cfg.Pipeline.RedactPatterns...)
	if err != nil {
		return nil, fmt.Errorf("pipeline.redact_patterns: %w", err)
	}
	red.Disabled = !r.cfg.Pipeline.RedactEnabled()
	return red, nil
}

// sinks returns the output sinks: OTLP when an endpoint is configured,
// else the terminal.
func (r *runner) sinks(ctx context.Context, caps backends.Capabilities) ([]pipeline.Sink, []func(), error) {
	if r.cfg.OTLP.Endpoint != "" {
		return otlpSinks(ctx, r.cfg, caps, r.stderr)
	}
	topts := terminal.Options{Color: r.color(), Header: r.cfg.Output == "text" && isTerminal(r.stdout)}
	if r.cfg.Output == "json" {
		return []pipeline.Sink{terminal.NewJSON(r.stdout, topts)}, nil, nil
	}
	return []pipeline.Sink{terminal.NewText(r.stdout, topts)}, nil, nil
}

func (r *runner) color() bool {
	switch r.cfg.Color {
	case "always":
		return true
	case "never":
		return false
	}
	return isTerminal(r.stdout) && os.Getenv("NO_COLOR") == ""
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startCommand runs the command given after --, once the backend is
// attached. The returned channel is closed when it exits; *code is its
// exit code. With no command it returns nil (never ready).
func (r *runner) startCommand(ctx context.Context, code *int) <-chan struct{} {
	if len(r.command) == 0 {
		return nil
	}
	done := make(chan struct{})
	cmd := exec.Command(r.command[0], r.command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, r.stderr, r.stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(r.stderr, "procotel: start command: %v\n", err)
		*code = 127
		close(done)
		return done
	}
	go func() {
		defer close(done)
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			*code = 0
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				*code = 128 + int(ws.Signal())
			} else {
				*code = ee.ExitCode()
			}
		default:
			*code = exitError
		}
	}()
	return done
}

// record writes raw backend events to the recording file.
func (r *runner) record(ctx context.Context, b backends.Backend, caps backends.Capabilities) (int, error) {
	f, err := os.Create(r.recordFile)
	if err != nil {
		return exitError, fmt.Errorf("record: %w", err)
	}
	defer f.Close()
	w, err := replay.NewWriter(f, b.Name(), caps)
	if err != nil {
		return exitError, err
	}
	events := make(chan semconv.Event, eventQueue)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	backendErr := runBackend(runCtx, b, events, nil)
	code := exitOK
	cmdDone := r.startCommand(runCtx, &code)
	var timeout <-chan time.Time
	if r.duration > 0 {
		timeout = time.After(r.duration)
	}
	stopped := false
	var writeErr error
	for !stopped {
		select {
		case e, ok := <-events:
			if !ok {
				stopped = true
				break
			}
			if writeErr == nil {
				writeErr = w.Write(&e)
			}
		case <-ctx.Done():
			cancel()
		case <-timeout:
			cancel()
		case <-cmdDone:
			cmdDone = nil
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	}
	runErr := <-backendErr
	st := b.Stats()
	if err := w.Close(st); err != nil && writeErr == nil {
		writeErr = err
	}
	fmt.Fprintf(r.stderr, "procotel: recorded %d events to %s (lost in kernel: %d)\n", w.Count(), r.recordFile, st.TotalLost())
	if runErr != nil {
		return exitError, fmt.Errorf("%s backend: %w", b.Name(), runErr)
	}
	if writeErr != nil {
		return exitError, fmt.Errorf("record: %w", writeErr)
	}
	return code, nil
}

// summary prints, on stderr, what was seen, lost and dropped.
func (r *runner) summary(bs backends.Stats, ps pipeline.Stats, sinks []pipeline.Sink) {
	var parts []string
	for _, k := range semconv.Kinds() {
		if n := bs.Received[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	detail := ""
	if len(parts) > 0 {
		detail = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(r.stderr, "procotel: %d events from the kernel%s, %d existing processes\n",
		bs.TotalReceived()-bs.Received[semconv.KindExisting], detail, bs.Existing)
	var lost []string
	for _, k := range semconv.Kinds() {
		if n := bs.Lost[k]; n > 0 {
			lost = append(lost, fmt.Sprintf("%s %d", k, n))
		}
	}
	if n := bs.Lost[semconv.KindInvalid]; n > 0 {
		lost = append(lost, fmt.Sprintf("kind unknown %d", n)) // DTrace drops say no kind
	}
	if len(lost) > 0 {
		fmt.Fprintf(r.stderr, "procotel: LOST in the kernel: %d (%s)\n", bs.TotalLost(), strings.Join(lost, ", "))
	} else {
		fmt.Fprintf(r.stderr, "procotel: lost in the kernel: 0\n")
	}
	if bs.DecodeErrors > 0 {
		fmt.Fprintf(r.stderr, "procotel: undecodable records: %d\n", bs.DecodeErrors)
	}
	if bs.HashUnavailable > 0 {
		fmt.Fprintf(r.stderr, "procotel: executables gone before they were hashed: %d\n", bs.HashUnavailable)
	}
	fmt.Fprintf(r.stderr, "procotel: pipeline: %d lifetimes, %d events filtered out, %d unmatched, %d evicted\n",
		ps.Lifetimes, sum(ps.Filtered[:]), sum(ps.Unmatched[:]), ps.Evicted)
	for _, s := range sinks {
		if ss, ok := s.(statsSink); ok {
			if st := ss.Stats(); st.Dropped > 0 {
				fmt.Fprintf(r.stderr, "procotel: output dropped %d lines (terminal too slow)\n", st.Dropped)
			}
		}
		if sr, ok := s.(interface{ Summary() string }); ok {
			fmt.Fprintf(r.stderr, "procotel: %s\n", sr.Summary())
		}
	}
}

func sum(xs []uint64) uint64 {
	var t uint64
	for _, x := range xs {
		t += x
	}
	return t
}
