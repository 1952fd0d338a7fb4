package collector

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
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
		receiver.WithLogs(func(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
			r, err := instances.instance(set, cfg, backendFactories)
			if err != nil {
				return nil, err
			}
			r.setLogs(next)
			return r, nil
		}, metadata.LogsStability),
		receiver.WithTraces(func(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
			r, err := instances.instance(set, cfg, backendFactories)
			if err != nil {
				return nil, err
			}
			r.setTraces(next)
			return r, nil
		}, metadata.TracesStability),
	)
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
