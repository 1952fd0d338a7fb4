package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/procotel/procotel/agent"
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

// stopSignals stop procotel, all the same way: the backend drains the
// kernel buffer, the pipeline its ordering window, the sinks flush, and
// the summary is printed. SIGHUP is among them because a closed terminal
// or an ssh session ending sends it, and that must not lose the output.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

func (r *runner) run(ctx context.Context) (int, error) {
	ctx, stop := signal.NotifyContext(ctx, stopSignals...)
	defer stop()

	plan, err := r.plan()
	if err != nil {
		return exitUsage, err
	}
	var rec *os.File
	if r.recordFile != "" {
		// Before the backend starts: a name that cannot be used is the
		// user's to fix, and the kernel need not be touched for it.
		if rec, err = createRecording(r.recordFile); err != nil {
			return exitUsage, err
		}
		defer rec.Close()
	}
	a, code, err := r.open(ctx, plan)
	if err != nil {
		if rec != nil {
			os.Remove(r.recordFile) // empty: nothing was recorded
		}
		return code, err
	}
	caps := a.Capabilities()
	if rec != nil {
		return r.record(ctx, a, rec, plan.Pipeline.Redact)
	}

	sinks, closers, err := r.sinks(ctx, caps)
	if err != nil {
		_ = a.Stop(ctx)
		return exitUsage, err // the sinks connect lazily: what fails here is configuration
	}
	var exp *export.Exporter
	if len(sinks) > 0 {
		if s, ok := sinks[0].(otlpSink); ok { // only when exporting OTLP
			exp = s.Exporter
		}
	}
	pipe := a.Run(sinks...)
	stopMetrics, err := startSelfMetrics(ctx, r.cfg, caps, a, exp, r.stderr)
	if err != nil {
		_ = a.Stop(ctx)
		return exitError, err
	}

	code = r.watch(ctx, a)
	closeCtx, closeCancel := context.WithTimeout(context.Background(), closeTimeout)
	defer closeCancel()
	runErr := a.Stop(closeCtx)
	for _, c := range closers {
		c()
	}
	err = stopMetrics(closeCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// As for the records: the endpoint's outage, said, not the run's failure.
		fmt.Fprintf(r.stderr, "procotel: self-metrics: the last export did not finish before the close deadline (%s)\n", closeTimeout)
		err = withoutDeadline(err)
	}
	if err != nil && runErr == nil {
		runErr = fmt.Errorf("self-metrics: %w", err)
	}
	r.summary(a.Stats(), pipe.Stats(), sinks)
	if runErr != nil {
		return exitCode(runErr), runErr
	}
	return code, nil
}

// closeTimeout bounds stopping: draining the backend, flushing the
// sinks (what the OTLP endpoint has not taken by then is counted as
// dropped, reason shutdown) and the last self-metrics export.
const closeTimeout = 10 * time.Second

// plan checks everything the user typed before the kernel is touched and
// translates it once (agent.NewPlan). With a command, only the command and
// its descendants are shown, and the command roots its own trace.
func (r *runner) plan() (agent.Plan, error) {
	rc := r.cfg.Receiver()
	if len(r.command) > 0 {
		self := strconv.Itoa(os.Getpid())
		rc.Filter = strings.TrimSpace(rc.Filter + " pid=" + self + "+ pid!=" + self)
	}
	p, err := agent.NewPlan(rc)
	if err != nil {
		return p, err
	}
	if len(r.command) > 0 {
		p.Pipeline.Launcher = int32(os.Getpid()) // the command startCommand starts roots its own trace
	}
	return p, nil
}

// open starts the planned backend and prints its warnings. On error it
// also returns the exit code: usage for a backend that does not exist or
// a recording that cannot be read, error for one that cannot start.
func (r *runner) open(ctx context.Context, plan agent.Plan) (*agent.Agent, int, error) {
	a, err := agent.Open(ctx, plan, agent.Factories())
	if err != nil {
		if errors.As(err, new(*agent.SelectError)) {
			return nil, exitUsage, err
		}
		return nil, exitCode(err), err
	}
	for _, w := range a.Capabilities().Warnings {
		fmt.Fprintf(r.stderr, "procotel: warning: %s\n", terminal.Escape(w))
	}
	return a, exitOK, nil
}

// exitCode is the exit code of a failed run: usage when the input the
// user named is at fault (a recording that cannot be read), else error.
func exitCode(err error) int {
	if errors.As(err, new(*replay.RecordingError)) {
		return exitUsage
	}
	return exitError
}

// watch starts the command (if any) and waits until procotel is to stop:
// a stop signal (ctx), --duration, the command's exit, or the backend
// ending by itself (Stop then reports why). It keeps watching for settle
// after the first three. It returns the command's exit code, or exitOK.
func (r *runner) watch(ctx context.Context, a *agent.Agent) int {
	code := exitOK
	cmdDone := r.startCommand(&code)
	var timeout <-chan time.Time
	if r.duration > 0 {
		timeout = time.After(r.duration)
	}
	select {
	case <-ctx.Done():
	case <-timeout:
	case <-cmdDone:
	case <-a.Ended():
		return code
	}
	time.Sleep(settle)
	return code
}

// settle is how long procotel keeps watching after it was told to stop
// (signal, --duration, the command's exit) before it stops the backend,
// which then drains what the kernel buffer holds: the kernel reports a
// reap only after an RCU grace period, and a backend reads its buffer
// periodically, so the events of what had already happened are still on
// their way. The ordering window needs no wait: the pipeline releases it
// when its input ends.
const settle = 250 * time.Millisecond

// sinks returns the output sinks: OTLP when an endpoint is configured,
// else the terminal.
func (r *runner) sinks(ctx context.Context, caps backends.Capabilities) ([]pipeline.Sink, []func(), error) {
	if r.cfg.OTLP.Exporting() {
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
func (r *runner) startCommand(code *int) <-chan struct{} {
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

// createRecording creates the recording file, readable by its owner only
// (command lines are in it). It never overwrites a file nor follows a
// symlink: O_EXCL fails on both.
func createRecording(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("record: %s already exists (or is a symlink); remove it or choose another name", path)
	case err != nil:
		return nil, fmt.Errorf("record: %w", err)
	}
	return f, nil
}

// redactEvent scrubs the command lines of e the way the pipeline scrubs
// them before every other output.
func redactEvent(red *pipeline.Redactor, e *semconv.Event) {
	e.Process.Argv = red.Argv(e.Process.Argv)
	e.Exec.Argv = red.Argv(e.Exec.Argv)
}

// record writes the backend's events, redacted by red, to the recording
// file f.
func (r *runner) record(ctx context.Context, a *agent.Agent, f *os.File, red *pipeline.Redactor) (int, error) {
	w, err := replay.NewWriter(f, a.BackendName(), a.Capabilities())
	if err != nil {
		_ = a.Stop(ctx)
		return exitError, err
	}
	var writeErr error
	a.RunRaw(func(e *semconv.Event) {
		if writeErr == nil {
			redactEvent(red, e)
			writeErr = w.Write(e)
		}
	})
	code := r.watch(ctx, a)
	runErr := a.Stop(context.Background()) // every event was handed to the writer when it returns
	st := a.Stats()
	if err := w.Close(st); err != nil && writeErr == nil {
		writeErr = err
	}
	if err := f.Close(); err != nil && writeErr == nil {
		writeErr = err
	}
	fmt.Fprintf(r.stderr, "procotel: recorded %d events to %s (lost in kernel: %d)\n", w.Count(), r.recordFile, st.TotalLost())
	if runErr != nil {
		return exitCode(runErr), runErr
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
	if bs.ReapsInferred > 0 {
		fmt.Fprintf(r.stderr, "procotel: reaps inferred: %d (the kernel did not report them in time; the processes were gone; marked procotel.reap.inferred), %d late reports left out\n",
			bs.ReapsInferred, bs.LateReapsDropped)
	}
	if bs.DecodeErrors > 0 {
		fmt.Fprintf(r.stderr, "procotel: undecodable records: %d\n", bs.DecodeErrors)
	}
	if bs.Throttled > 0 {
		fmt.Fprintf(r.stderr, "procotel: execs counted instead of reported (capture.exec_rate_limit): %d, in the throttle records\n", bs.Throttled)
	}
	if bs.HashUnavailable > 0 {
		fmt.Fprintf(r.stderr, "procotel: executables gone before they were hashed: %d\n", bs.HashUnavailable)
	}
	if n, grown := agent.GrownProcs(); grown {
		fmt.Fprintf(r.stderr, "procotel: the queue from the kernel backed up: ran on %d processors from then on (set GOMAXPROCS to choose)\n", n)
	}
	fmt.Fprintf(r.stderr, "procotel: pipeline: %d lifetimes, %d events filtered out, %d unmatched, %d evicted\n",
		ps.Lifetimes, sum(ps.Filtered[:]), sum(ps.Unmatched[:]), ps.Evicted)
	for _, u := range ps.UnmatchedFirst {
		fmt.Fprintf(r.stderr, "procotel: unmatched: %v\n", u)
	}
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
