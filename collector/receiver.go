package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/collector/internal/metadata"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// obsFormat is the format attribute of the receiver's observability.
const obsFormat = "procotel"

// procotelReceiver is one receiver instance: one backend, one pipeline,
// one sink, serving the logs and the traces pipeline that use its
// configuration. Start and Shutdown run once each, whichever pipeline
// calls them first; both are safe to call concurrently and repeatedly.
type procotelReceiver struct {
	cfg       *Config
	set       receiver.Settings
	factories []backends.Factory
	registry  *registry

	mu       sync.Mutex
	logs     consumer.Logs
	traces   consumer.Traces
	started  bool
	startErr error
	stopped  bool
	run      *run // nil until Start succeeded
}

// run is what a started receiver owns.
type run struct {
	agent     *agent.Agent
	pipe      *pipeline.Pipeline
	sink      *pdataSink
	logs      *deliverer[plog.Logs]
	traces    *deliverer[ptrace.Traces]
	telemetry *metadata.TelemetryBuilder
}

var (
	_ receiver.Logs   = (*procotelReceiver)(nil)
	_ receiver.Traces = (*procotelReceiver)(nil)
)

func newReceiver(cfg *Config, set receiver.Settings, factories []backends.Factory, g *registry) *procotelReceiver {
	return &procotelReceiver{cfg: cfg, set: set, factories: factories, registry: g}
}

// attachLogs makes next the consumer of r's log records and returns r as
// the logs receiver.
func (r *procotelReceiver) attachLogs(next consumer.Logs) receiver.Logs {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = next
	return r
}

// attachTraces makes next the consumer of r's spans and returns r as the
// traces receiver.
func (r *procotelReceiver) attachTraces(next consumer.Traces) receiver.Traces {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.traces = next
	return r
}

// Start attaches the backend and starts the pipeline. Only the first call
// does so; later calls (from the receiver's other pipeline) return its
// result.
func (r *procotelReceiver) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return errors.New("start procotel receiver: already shut down")
	}
	if !r.started {
		r.started = true
		r.startErr = r.start(ctx, host)
	}
	return r.startErr
}

func (r *procotelReceiver) start(ctx context.Context, host component.Host) error {
	cfg := r.cfg
	plan, err := agent.NewPlan(cfg.Receiver)
	if err != nil {
		return fmt.Errorf("start procotel receiver: %w", err)
	}
	a, err := agent.Open(ctx, plan, r.factories)
	if err != nil {
		return fmt.Errorf("start procotel receiver: %w", err)
	}
	caps := a.Capabilities()
	for _, w := range caps.Warnings {
		r.set.Logger.Warn("procotel backend: "+w, zap.String("backend", a.BackendName()))
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: r.set.ID, Transport: a.BackendName(), ReceiverCreateSettings: r.set,
	})
	if err != nil {
		_ = a.Stop(ctx)
		return fmt.Errorf("start procotel receiver: observability: %w", err)
	}

	run := &run{agent: a}
	d := cfg.Delivery
	if r.logs != nil {
		run.logs = newObservedDeliverer(d, plog.Logs.LogRecordCount, r.logs.ConsumeLogs, obs.StartLogsOp, obs.EndLogsOp)
	}
	if r.traces != nil {
		run.traces = newObservedDeliverer(d, ptrace.Traces.SpanCount, r.traces.ConsumeTraces, obs.StartTracesOp, obs.EndTracesOp)
	}
	res := semconv.ResourceAttributes(observer(caps.OS), nil)
	run.sink = newPdataSink(caps.Boot, res, procotelVersion(), d, run.logs, run.traces)
	run.pipe = a.Run(run.sink)

	if run.telemetry, err = r.registerTelemetry(run); err != nil {
		r.set.Logger.Warn("procotel receiver metrics are not available", zap.Error(err))
	}
	go func() {
		<-a.Ended()
		switch {
		case !a.EndedByItself():
		case a.Err() != nil:
			err := fmt.Errorf("procotel receiver: %w", a.Err())
			r.set.Logger.Error("procotel backend failed", zap.Error(err))
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		default:
			r.set.Logger.Info("procotel backend has no more events", zap.String("backend", cfg.Backend))
		}
	}()
	r.run = run
	r.set.Logger.Info("procotel receiver started", zap.String("backend", a.BackendName()),
		zap.Strings("notes", caps.Notes), zap.Bool("logs", run.logs != nil), zap.Bool("traces", run.traces != nil))
	return nil
}

// newObservedDeliverer is the deliverer of one signal, its deliveries
// reported to the receiver's observability by start and end (an
// ObsReport's Start…Op and End…Op of that signal).
func newObservedDeliverer[T any](d Delivery, size func(T) int, consume func(context.Context, T) error,
	start func(context.Context) context.Context, end func(ctx context.Context, format string, n int, err error)) *deliverer[T] {
	dl := newDeliverer(d.QueueSize, d.RetryFor, size, consume)
	dl.observe = func(ctx context.Context) (context.Context, func(int, error)) {
		ctx = start(ctx)
		return ctx, func(n int, err error) { end(ctx, obsFormat, n, err) }
	}
	return dl
}

// Shutdown stops the backend, lets the pipeline drain and the sink flush
// within ctx, and detaches from the kernel. Only the first call does so;
// it may be called without Start. What could not be delivered before ctx
// ended is counted as dropped.
func (r *procotelReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	run := r.run
	r.mu.Unlock()
	r.registry.remove(r.cfg, r)
	if run == nil {
		return nil
	}
	defer func() {
		if run.telemetry != nil {
			run.telemetry.Shutdown()
		}
	}()

	// The backend drains the kernel buffer, the pipeline its window, the
	// sink flushes within ctx; what could not be delivered is counted.
	if err := run.agent.Stop(ctx); err != nil {
		return fmt.Errorf("stop procotel receiver: %w", err)
	}
	return nil
}

// registerTelemetry creates the receiver's metrics, which read the
// backend's, the pipeline's and the deliverers' counters when collected.
func (r *procotelReceiver) registerTelemetry(run *run) (*metadata.TelemetryBuilder, error) {
	tb, err := metadata.NewTelemetryBuilder(r.set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	// backendCounter observes one of the backend's counters.
	backendCounter := func(get func(backends.Stats) uint64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(clampInt64(get(run.agent.Stats())))
			return nil
		}
	}
	kindAttrs := make([]metric.ObserveOption, semconv.NumKinds)
	for k := range kindAttrs {
		kindAttrs[k] = metric.WithAttributes(attribute.String("kind", semconv.Kind(k).String()))
	}
	err = errors.Join(
		tb.RegisterReceiverProcotelBackendEventsLostCallback(func(_ context.Context, o metric.Int64Observer) error {
			for k, n := range run.agent.Stats().Lost {
				if n > 0 {
					o.Observe(clampInt64(n), kindAttrs[k])
				}
			}
			return nil
		}),
		tb.RegisterReceiverProcotelBackendDecodeErrorsCallback(backendCounter(func(s backends.Stats) uint64 { return s.DecodeErrors })),
		tb.RegisterReceiverProcotelBackendExecsThrottledCallback(backendCounter(func(s backends.Stats) uint64 { return s.Throttled })),
		tb.RegisterReceiverProcotelBackendReapsInferredCallback(backendCounter(func(s backends.Stats) uint64 { return s.ReapsInferred })),
		tb.RegisterReceiverProcotelBackendReapsLateCallback(backendCounter(func(s backends.Stats) uint64 { return s.LateReapsDropped })),
		tb.RegisterReceiverProcotelPipelineDroppedCallback(func(_ context.Context, o metric.Int64Observer) error {
			ps := run.pipe.Stats()
			for _, l := range ps.Losses() {
				o.Observe(clampInt64(l.N), metric.WithAttributes(attribute.String("reason", l.Reason)))
			}
			return nil
		}),
		tb.RegisterReceiverProcotelItemsDroppedCallback(func(_ context.Context, o metric.Int64Observer) error {
			observeDrops := func(signal string, d *dropCounts) {
				for _, reason := range dropReasons {
					o.Observe(clampInt64(d.get(reason)),
						metric.WithAttributes(attribute.String("signal", signal), attribute.String("reason", reason)))
				}
			}
			if run.logs != nil {
				observeDrops("logs", &run.logs.drops)
			}
			if run.traces != nil {
				observeDrops("traces", &run.traces.drops)
			}
			return nil
		}),
	)
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return tb, nil
}

func clampInt64(n uint64) int64 {
	if n > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(n)
}
