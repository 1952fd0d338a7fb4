// Code written by hand in the shape mdatagen v0.160.0 generates from
// ../../metadata.yaml: mdatagen is not reachable from this project's
// module proxy. Keep it in step with metadata.yaml.

// Package metadata holds the component type, stability levels and
// telemetry instruments of the procotel receiver.
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the receiver's component type, "procotel".
	Type = component.MustNewType("procotel")
	// ScopeName is the instrumentation scope of the receiver's own telemetry.
	ScopeName = "github.com/procotel/procotel/collector"
)

const (
	// LogsStability is the stability of the logs receiver.
	LogsStability = component.StabilityLevelAlpha
	// TracesStability is the stability of the traces receiver.
	TracesStability = component.StabilityLevelAlpha
)
