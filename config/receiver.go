package config

// Receiver is the part of the configuration that the OpenTelemetry
// Collector receiver takes: the event source, what it captures, the
// filter, and how the pipeline and the trace forest are built. Where the
// data goes (OTLP), the terminal output and the resource belong to the
// Collector's own configuration and are not part of it. Field names in
// errors are the same YAML paths as in Config ("capture.argv_max").
type Receiver struct {
	// Backend selects the event source: auto, ebpf, dtrace, kqueue, or
	// replay:FILE.
	Backend string `yaml:"backend" mapstructure:"backend"`
	// Filter is an expression in the filter language (see README).
	Filter string `yaml:"filter" mapstructure:"filter"`

	Capture  Capture  `yaml:"capture" mapstructure:"capture"`
	Pipeline Pipeline `yaml:"pipeline" mapstructure:"pipeline"`
	Traces   Traces   `yaml:"traces" mapstructure:"traces"`
}

// DefaultReceiver returns the receiver part of Default.
func DefaultReceiver() Receiver { return Default().Receiver() }

// Receiver returns the receiver part of c.
func (c Config) Receiver() Receiver { return c.receiverPart }

// Config returns a whole configuration: Default with r's fields over it.
func (r Receiver) Config() Config {
	c := Default()
	c.receiverPart = r
	return c
}

// Check validates r's fields with the rules of Config.Validate and
// returns the first problem as a *FieldError. It is not named Validate so
// that a Collector configuration embedding a Receiver does not run it
// twice (the Collector calls every nested Validate it finds).
func (r *Receiver) Check() error {
	c := r.Config()
	return c.Validate()
}
