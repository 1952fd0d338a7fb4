package collector

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/receiver"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/collector/internal/metadata"
)

// NewFactory returns the factory of the procotel receiver (component type
// "procotel"), which makes logs and traces receivers. The logs and traces
// receivers created from one configuration share one receiver instance,
// so the kernel programs are attached once however many pipelines use it.
// Each factory keeps its own table of instances: there is no package-level
// state.
func NewFactory() receiver.Factory {
	return newFactory(agent.Factories())
}

// newFactory is NewFactory with the backends to choose from; tests pass
// instrumented factories.
func newFactory(backendFactories []backends.Factory) receiver.Factory {
	instances := newRegistry()
	return receiver.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		receiver.WithLogs(createSignal(instances, backendFactories, (*procotelReceiver).attachLogs), metadata.LogsStability),
		receiver.WithTraces(createSignal(instances, backendFactories, (*procotelReceiver).attachTraces), metadata.TracesStability),
	)
}

// createSignal returns the create function of one signal's receiver: the
// instance of the configuration, with the signal's next consumer attached
// by attach.
func createSignal[C, R any](g *registry, backendFactories []backends.Factory, attach func(*procotelReceiver, C) R) func(context.Context, receiver.Settings, component.Config, C) (R, error) {
	return func(_ context.Context, set receiver.Settings, cfg component.Config, next C) (R, error) {
		r, err := g.instance(set, cfg, backendFactories)
		if err != nil {
			var none R
			return none, err
		}
		return attach(r, next), nil
	}
}

// instance returns the receiver instance of cfg, creating it on first use.
func (g *registry) instance(set receiver.Settings, cfg component.Config, factories []backends.Factory) (*procotelReceiver, error) {
	if err := errUnsupported(); err != nil {
		return nil, err
	}
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("create procotel receiver: configuration is a %T, not a *collector.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("create procotel receiver: %w", err)
	}
	return g.loadOrStore(c, func() *procotelReceiver { return newReceiver(c, set, factories, g) }), nil
}
