package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// EventQueue is how many events wait between the backend and the pipeline;
// beyond it the kernel buffer behind the backend absorbs bursts.
const EventQueue = 8192

// SelectError says the configured backend does not exist or cannot be
// made (a usage error, not a failure of the kernel).
type SelectError struct{ Err error }

func (e *SelectError) Error() string { return e.Err.Error() }
func (e *SelectError) Unwrap() error { return e.Err }

// Agent is one running procotel: a started backend and, once Run or RunRaw
// was called, the goroutines that move its events into the pipeline (or to
// a raw consumer). Stop ends it. Capabilities, Stats and Pipeline are safe
// to call concurrently with everything else; Run, RunRaw and Stop are
// called by one owner.
type Agent struct {
	plan    Plan
	backend backends.Backend
	caps    backends.Capabilities

	pipe        *pipeline.Pipeline // nil until Run, and in raw mode
	cancel      context.CancelFunc
	backendDone chan struct{}
	backendErr  error // Run's result when the backend stopped by itself
	byItself    bool  // the backend stopped before Stop was called
	events      *semconv.Queue
	consumeDone chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// Open selects the planned backend from factories and starts it: when Open
// returns the backend is attached to the kernel (or its source is open),
// and nothing has been read yet. A backend that does not exist is a
// *SelectError; one that cannot start keeps its *MissingFeatureError, or
// says which backend failed.
func Open(ctx context.Context, plan Plan, factories []backends.Factory) (*Agent, error) {
	b, err := backends.New(plan.Backend, plan.BackendOptions, factories)
	if err != nil {
		return nil, &SelectError{Err: err}
	}
	settleRuntime()
	if err := b.Start(ctx); err != nil {
		_ = b.Close()
		var mf *backends.MissingFeatureError
		if !errors.As(err, &mf) {
			err = fmt.Errorf("start %s backend: %w", b.Name(), err)
		}
		return nil, err
	}
	return &Agent{plan: plan, backend: b, caps: b.Capabilities(), backendDone: make(chan struct{}), consumeDone: make(chan struct{})}, nil
}

// settleRuntime makes the Go runtime do, before the backend attaches, the
// one-time check it otherwise does at the first process it starts: on
// Linux it forks a child with clone(CLONE_PIDFD) that exits at once, which
// would show up as an event of procotel's own.
func settleRuntime() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
}

// Capabilities are what the started backend can report.
func (a *Agent) Capabilities() backends.Capabilities { return a.caps }

// Backend is the started backend, for views that read its name,
// capabilities and counters (the console). Its Start, Run and Close are
// the agent's to call.
func (a *Agent) Backend() backends.Backend { return a.backend }

// BackendName is the started backend's name ("ebpf", "replay", ...).
func (a *Agent) BackendName() string { return a.backend.Name() }

// Stats are the backend's counters so far.
func (a *Agent) Stats() backends.Stats { return a.backend.Stats() }

// Pipeline is the running pipeline, nil before Run and in raw mode.
func (a *Agent) Pipeline() *pipeline.Pipeline { return a.pipe }

// Run starts reading the backend into a pipeline built from the plan,
// which hands its output to sinks, and returns that pipeline.
func (a *Agent) Run(sinks ...pipeline.Sink) *pipeline.Pipeline {
	cfg := a.plan.Pipeline
	cfg.Clock, cfg.CredsComplete = a.caps.Clock, a.caps.Creds
	a.pipe = pipeline.New(cfg, sinks...)
	events := a.start()
	go func() {
		defer close(a.consumeDone)
		_ = a.pipe.Run(context.Background(), events) // returns nil once events is closed
	}()
	return a.pipe
}

// RunRaw starts reading the backend and hands every event, as the backend
// produced it, to consume, from one goroutine; no pipeline runs. The
// recorder and the storm harness's kernel-only monitor use it.
func (a *Agent) RunRaw(consume func(*semconv.Event)) {
	events := a.start()
	go func() {
		defer close(a.consumeDone)
		events.Consume(consume)
	}()
}

func (a *Agent) start() *semconv.Queue {
	events := semconv.NewQueue(EventQueue, 0)
	a.events = events
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go growUnderBacklog(events, a.backendDone)
	go func() {
		defer close(a.backendDone)
		err := a.backend.Run(ctx, events)
		events.Close()
		if ctx.Err() == nil {
			a.byItself = true
			if err != nil {
				a.backendErr = fmt.Errorf("%s backend: %w", a.backend.Name(), err)
			}
		}
	}()
	return events
}

// Ended is closed when the backend has stopped, by itself (a replay at its
// end, a failure: see Err) or because Stop was called.
func (a *Agent) Ended() <-chan struct{} { return a.backendDone }

// Err is why the backend stopped by itself, nil while it runs, after a
// clean end or after Stop. Call it after Ended is closed.
func (a *Agent) Err() error { return a.backendErr }

// EndedByItself says the backend stopped before Stop was called (a replay
// at its end, or a failure: see Err). Call it after Ended is closed.
func (a *Agent) EndedByItself() bool { return a.byItself }

// QueueDepth is how many events wait between the backend and their
// consumer, and how many can; zero before Run.
func (a *Agent) QueueDepth() (n, capacity int) {
	if a.events == nil {
		return 0, 0
	}
	return a.events.Len(), a.events.Cap()
}

// Stop ends the agent in order: the backend stops reading the kernel and
// hands on what the kernel had already produced; the pipeline takes all of
// it, releases its ordering window and closes the lifetimes it must; the
// sinks are closed (flushed) within ctx; the backend detaches. If ctx ends
// before the backend has drained, the backend is closed under it. Stop
// returns the backend's own failure, if it had one, and the sinks' close
// errors. It is idempotent, and may be called without Run.
func (a *Agent) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() { a.stopErr = a.stop(ctx) })
	return a.stopErr
}

func (a *Agent) stop(ctx context.Context) error {
	var errs []error
	if a.cancel == nil { // never ran
		return a.backend.Close()
	}
	a.cancel()
	select {
	case <-a.backendDone:
	case <-ctx.Done():
		// Close interrupts a backend stuck in the kernel.
		errs = append(errs, a.backend.Close())
		<-a.backendDone
	}
	<-a.consumeDone
	errs = append(errs, a.backendErr)
	if a.pipe != nil {
		if err := a.pipe.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush output: %w", err))
		}
	}
	errs = append(errs, a.backend.Close())
	return errors.Join(errs...)
}
