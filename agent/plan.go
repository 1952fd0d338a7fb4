package agent

import (
	"cmp"
	"fmt"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// Plan is a configuration translated, once, into what each part takes: the
// backend selection and options, and the pipeline configuration. Its
// pipeline Clock and CredsComplete are filled from the backend's
// capabilities when the agent starts.
type Plan struct {
	// Backend selects the event source ("auto", "ebpf", "replay:FILE", ...).
	Backend string
	// BackendOptions are what the backend captures.
	BackendOptions backends.Options
	// Pipeline is the pipeline's configuration.
	Pipeline pipeline.Config
}

// NewPlan translates r, which Check has validated, into a Plan. Errors
// name the configuration field ("capture.jails: ...").
func NewPlan(r config.Receiver) (Plan, error) {
	c := r.Capture
	p := Plan{
		Backend: r.Backend,
		BackendOptions: backends.Options{
			ArgvMax:        c.ArgvMax,
			Threads:        c.Threads,
			StartEvents:    c.StartEvents,
			SignalDeliver:  c.SignalDeliver,
			SignalsAll:     c.SignalsAll,
			NoExecFailures: !c.ExecFailures,
			TraceParent:    r.Traces.Traceparent,
			BufferSize:     c.BufferSize,
			Env:            c.Env,
			ExecSHA256:     c.ExecSHA256,
			ExecSHA256Max:  c.ExecSHA256Max,
			ExecRateLimit:  c.ExecRateLimit,
		},
	}
	if len(c.Jails) > 0 {
		ids, err := resolveJails(c.Jails)
		if err != nil {
			return Plan{}, fmt.Errorf("capture.jails: %w", err)
		}
		p.BackendOptions.Jails = ids
	}
	var filter *pipeline.Filter
	if r.Filter != "" {
		f, err := pipeline.ParseFilter(r.Filter)
		if err != nil {
			return Plan{}, fmt.Errorf("filter: %w", err)
		}
		filter = f
	}
	red, err := pipeline.NewRedactor(r.Pipeline.RedactPatterns...)
	if err != nil {
		return Plan{}, fmt.Errorf("pipeline.redact_patterns: %w", err)
	}
	red.Disabled = !r.Pipeline.RedactEnabled()
	policy, err := semconv.ParseRootPolicy(r.Traces.RootPolicy)
	if err != nil {
		return Plan{}, fmt.Errorf("traces.root_policy: %w", err)
	}
	p.Pipeline = pipeline.Config{
		Window:          r.Pipeline.Window,
		RootPolicy:      policy,
		Filter:          filter,
		Redact:          red,
		MaxProcesses:    r.Pipeline.MaxProcesses,
		KeepReaped:      cmp.Or(r.Pipeline.KeepReaped, -1), // the pipeline reads 0 as its default
		FlushIncomplete: r.Traces.FlushIncomplete,
	}
	return p, nil
}
