// Code written by hand in the shape mdatagen v0.160.0 generates from
// ../../metadata.yaml: mdatagen is not reachable from this project's
// module proxy. Keep it in step with metadata.yaml.

package metadata

import (
	"errors"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Meter returns the meter of the receiver's own metrics.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// TelemetryBuilder holds the receiver's instruments. All of them are
// asynchronous: the receiver registers one callback per instrument that
// reads its counters when the metrics are collected.
type TelemetryBuilder struct {
	meter         metric.Meter
	mu            sync.Mutex
	registrations []metric.Registration

	// ReceiverProcotelBackendEventsLost counts events the kernel could not
	// hand to the backend, per kind.
	ReceiverProcotelBackendEventsLost metric.Int64ObservableCounter
	// ReceiverProcotelBackendDecodeErrors counts undecodable kernel records.
	ReceiverProcotelBackendDecodeErrors metric.Int64ObservableCounter
	// ReceiverProcotelPipelineDropped counts what the pipeline lost, per reason.
	ReceiverProcotelPipelineDropped metric.Int64ObservableCounter
	// ReceiverProcotelItemsDropped counts log records and spans not handed
	// to the next consumer, per signal and reason.
	ReceiverProcotelItemsDropped metric.Int64ObservableCounter
}

// NewTelemetryBuilder creates the instruments on the settings' meter provider.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	b := &TelemetryBuilder{meter: Meter(settings)}
	var err, errs error
	b.ReceiverProcotelBackendEventsLost, err = b.meter.Int64ObservableCounter(
		"otelcol_receiver_procotel_backend_events_lost",
		metric.WithDescription("Events the kernel could not hand to the backend (buffer full), per kind; kind \"invalid\" when the kernel did not say. [alpha]"),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	b.ReceiverProcotelBackendDecodeErrors, err = b.meter.Int64ObservableCounter(
		"otelcol_receiver_procotel_backend_decode_errors",
		metric.WithDescription("Kernel records the backend could not decode. [alpha]"),
		metric.WithUnit("{record}"))
	errs = errors.Join(errs, err)
	b.ReceiverProcotelPipelineDropped, err = b.meter.Int64ObservableCounter(
		"otelcol_receiver_procotel_pipeline_dropped",
		metric.WithDescription("Events and lifetimes the pipeline lost (reason invalid_event, lost_exit, evicted_live). [alpha]"),
		metric.WithUnit("{item}"))
	errs = errors.Join(errs, err)
	b.ReceiverProcotelItemsDropped, err = b.meter.Int64ObservableCounter(
		"otelcol_receiver_procotel_items_dropped",
		metric.WithDescription("Log records and spans the receiver built but could not hand to the next consumer (reason queue_full, refused, retries_exhausted, shutdown). [alpha]"),
		metric.WithUnit("{item}"))
	errs = errors.Join(errs, err)
	return b, errs
}

// RegisterCallback registers cb to observe the given instruments until
// Shutdown.
func (b *TelemetryBuilder) RegisterCallback(cb metric.Callback, instruments ...metric.Observable) error {
	reg, err := b.meter.RegisterCallback(cb, instruments...)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.registrations = append(b.registrations, reg)
	b.mu.Unlock()
	return nil
}

// Shutdown unregisters every callback. It is idempotent.
func (b *TelemetryBuilder) Shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, reg := range b.registrations {
		_ = reg.Unregister()
	}
	b.registrations = nil
}
