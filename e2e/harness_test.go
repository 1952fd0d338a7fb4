// Package e2e holds procotel's end-to-end tests: real workloads under the
// real backend, exported to a real OpenTelemetry Collector
// (internal/otelcoltest), checked against the ground truth the workload
// produced.
package e2e

import "github.com/procotel/procotel/internal/otelcoltest"

// The end-to-end tests' Collector and forwarding server live in
// internal/otelcoltest, which the storm harness shares.
type (
	Collector = otelcoltest.Collector
	Forwarded = otelcoltest.Forwarded
	Log       = otelcoltest.Log
	Span      = otelcoltest.Span
	Metric    = otelcoltest.Metric
)

var (
	BuildCollector = otelcoltest.BuildCollector
	StartCollector = otelcoltest.StartCollector
	StartForwarded = otelcoltest.StartForwarded
)
