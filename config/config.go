// Package config owns procotel's one configuration model: the YAML file,
// the command-line flags and the standard OTEL_* environment variables,
// merged with the precedence flag > environment > file > default, and
// validated with errors that name the offending field. The binary and the
// Collector receiver both use it.
package config

import (
	"fmt"
	"strings"
	"time"
)

// Config is procotel's whole configuration. Field names in errors are the
// YAML paths ("otlp.protocol").
type Config struct {
	// The event source, what it captures, the filter, the pipeline and
	// the trace forest: the part the Collector receiver takes too (see
	// Receiver), its fields promoted (c.Backend, c.Capture, ...).
	receiverPart `yaml:",inline" mapstructure:",squash"`

	// Output is the terminal format when no OTLP endpoint is set: text or json.
	Output string `yaml:"output" mapstructure:"output"`
	// Color: auto (when stdout is a terminal), always or never.
	Color string `yaml:"color" mapstructure:"color"`

	OTLP OTLP `yaml:"otlp" mapstructure:"otlp"`
	// Resource holds extra resource attributes (also OTEL_RESOURCE_ATTRIBUTES).
	Resource map[string]string `yaml:"resource" mapstructure:"resource"`
	// ServiceName is service.name on the resource (OTEL_SERVICE_NAME).
	ServiceName string `yaml:"service_name" mapstructure:"service_name"`
}

// receiverPart is Receiver under the name Config embeds it by, since
// Config's method Receiver returns it.
type receiverPart = Receiver

// Capture is what the backend records in the kernel.
type Capture struct {
	// ArgvMax is the largest argv captured per exec, in bytes.
	ArgvMax int `yaml:"argv_max" mapstructure:"argv_max"`
	// Threads turns on thread start/exit events.
	Threads bool `yaml:"threads" mapstructure:"threads"`
	// StartEvents turns on the start event (a new process first runs).
	StartEvents bool `yaml:"start_events" mapstructure:"start_events"`
	// SignalDeliver adds signal delivery events to generation events.
	SignalDeliver bool `yaml:"signal_deliver" mapstructure:"signal_deliver"`
	// SignalsAll includes SIGCHLD, which every exit generates.
	SignalsAll bool `yaml:"signals_all" mapstructure:"signals_all"`
	// ExecFailures reports failed execs (the default). Linux: the syscall
	// tracepoints this takes slow every syscall on the host a little;
	// false attaches none.
	ExecFailures bool `yaml:"exec_failures" mapstructure:"exec_failures"`
	// BufferSize is the kernel ring buffer size in bytes (power of two).
	BufferSize int `yaml:"buffer_size" mapstructure:"buffer_size"`
	// Jails limits a FreeBSD backend to these jails (ids or names).
	Jails []string `yaml:"jails" mapstructure:"jails"`
	// Env lists the environment variables reported on each exec: names,
	// or prefixes ending in "*"; empty reports none.
	Env []string `yaml:"env" mapstructure:"env"`
	// ExecSHA256 adds the full SHA-256 of each executable, for files up
	// to ExecSHA256Max bytes.
	ExecSHA256    bool  `yaml:"exec_sha256" mapstructure:"exec_sha256"`
	ExecSHA256Max int64 `yaml:"exec_sha256_max" mapstructure:"exec_sha256_max"`
	// ExecRateLimit is the number of execs per cgroup per second
	// reported one by one; past it they are counted and reported as a
	// throttle start and stop. 0 (the default) turns it off.
	ExecRateLimit int `yaml:"exec_rate_limit" mapstructure:"exec_rate_limit"`
}

// DefaultEnv is capture.env's default: the variables that change what a
// program loads.
var DefaultEnv = []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"}

// Pipeline configures the process table.
type Pipeline struct {
	// Window is how long events wait to be put in kernel-time order.
	Window time.Duration `yaml:"window" mapstructure:"window"`
	// MaxProcesses bounds the process table.
	MaxProcesses int `yaml:"max_processes" mapstructure:"max_processes"`
	// KeepReaped is how many ended processes the table remembers after
	// their reap (for the console's show and ps); 0 remembers none.
	KeepReaped int `yaml:"keep_reaped" mapstructure:"keep_reaped"`
	// Redact turns default command-line redaction on (the default) or off.
	Redact *bool `yaml:"redact" mapstructure:"redact"`
	// RedactPatterns are extra regular expressions whose matches in argv
	// are replaced by [REDACTED].
	RedactPatterns []string `yaml:"redact_patterns" mapstructure:"redact_patterns"`
}

// Traces configures how lifetimes become spans.
type Traces struct {
	// RootPolicy: process_group (default), session, container or none.
	RootPolicy string `yaml:"root_policy" mapstructure:"root_policy"`
	// Traceparent joins processes whose environment has TRACEPARENT to that trace.
	Traceparent bool `yaml:"traceparent" mapstructure:"traceparent"`
	// FlushIncomplete emits spans for processes still alive at shutdown.
	FlushIncomplete bool `yaml:"flush_incomplete" mapstructure:"flush_incomplete"`
}

// OTLP is the exporter's destination.
type OTLP struct {
	// Endpoint is where to send OTLP ("localhost:4317", "https://host:4318").
	// Empty prints to the terminal instead.
	Endpoint string `yaml:"endpoint" mapstructure:"endpoint"`
	// Protocol is grpc or http/protobuf.
	Protocol string            `yaml:"protocol" mapstructure:"protocol"`
	Headers  map[string]string `yaml:"headers" mapstructure:"headers"`
	Insecure bool              `yaml:"insecure" mapstructure:"insecure"`
	TLS      TLS               `yaml:"tls" mapstructure:"tls"`
	Timeout  time.Duration     `yaml:"timeout" mapstructure:"timeout"`
	// Compression is none (or empty) or gzip.
	Compression string `yaml:"compression" mapstructure:"compression"`
	// Logs, Traces and Metrics select the signals to send (all by default;
	// OTEL_{LOGS,TRACES,METRICS}_EXPORTER=none turns one off).
	Logs    *bool `yaml:"logs" mapstructure:"logs"`
	Traces  *bool `yaml:"traces" mapstructure:"traces"`
	Metrics *bool `yaml:"metrics" mapstructure:"metrics"`
	// MetricsInterval is how often procotel's own metrics are exported
	// (OTEL_METRIC_EXPORT_INTERVAL); 0 means the exporter's default, 60s.
	MetricsInterval time.Duration `yaml:"metrics_interval" mapstructure:"metrics_interval"`
	// Signals override the settings above for one signal
	// (OTEL_EXPORTER_OTLP_LOGS_*, _TRACES_*, _METRICS_*).
	Signals Signals `yaml:"signals" mapstructure:"signals"`
}

// Signals holds the per-signal OTLP settings.
type Signals struct {
	Logs    Signal `yaml:"logs" mapstructure:"logs"`
	Traces  Signal `yaml:"traces" mapstructure:"traces"`
	Metrics Signal `yaml:"metrics" mapstructure:"metrics"`
}

// Signal overrides the general OTLP settings for one signal; a zero field
// overrides nothing. Its Endpoint, for http/protobuf, is the whole URL:
// no /v1/… is appended.
type Signal struct {
	Endpoint    string            `yaml:"endpoint" mapstructure:"endpoint"`
	Protocol    string            `yaml:"protocol" mapstructure:"protocol"`
	Headers     map[string]string `yaml:"headers" mapstructure:"headers"`
	Insecure    *bool             `yaml:"insecure" mapstructure:"insecure"`
	TLS         TLS               `yaml:"tls" mapstructure:"tls"`
	Timeout     time.Duration     `yaml:"timeout" mapstructure:"timeout"`
	Compression string            `yaml:"compression" mapstructure:"compression"`
}

// Exporting says whether procotel exports OTLP: an endpoint is set,
// general or for one signal. Otherwise it prints to the terminal.
func (o OTLP) Exporting() bool {
	return o.Endpoint != "" || o.Signals.Logs.Endpoint != "" || o.Signals.Traces.Endpoint != "" || o.Signals.Metrics.Endpoint != ""
}

// signalOn says whether a signal is switched on and has an endpoint
// (the general one or its own).
func (o OTLP) signalOn(on *bool, s Signal) bool {
	return (on == nil || *on) && (o.Endpoint != "" || s.Endpoint != "" || !o.Exporting())
}

// TLS holds client certificate settings.
type TLS struct {
	CAFile   string `yaml:"ca_file" mapstructure:"ca_file"`
	CertFile string `yaml:"cert_file" mapstructure:"cert_file"`
	KeyFile  string `yaml:"key_file" mapstructure:"key_file"`
}

// Default returns the configuration used where nothing else is said.
func Default() Config {
	return Config{
		receiverPart: Receiver{
			Backend: "auto",
			Capture: Capture{ArgvMax: 16 << 10, BufferSize: 4 << 20, ExecFailures: true,
				Env: DefaultEnv, ExecSHA256Max: 64 << 20},
			Pipeline: Pipeline{
				Window:       20 * time.Millisecond,
				MaxProcesses: 65536,
				KeepReaped:   4096,
			},
			Traces: Traces{RootPolicy: "process_group"},
		},
		Output:      "text",
		Color:       "auto",
		OTLP:        OTLP{Protocol: "grpc", Timeout: 10 * time.Second},
		ServiceName: "procotel",
	}
}

// FieldError is a configuration error tied to one field.
type FieldError struct {
	Field string // YAML path: "otlp.protocol"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every field and returns the first problem as a
// *FieldError.
func (c *Config) Validate() error {
	if c.Backend == "" {
		return fieldErr("backend", "must not be empty (auto, ebpf, dtrace, kqueue or replay:FILE)")
	}
	if name, src, ok := strings.Cut(c.Backend, ":"); ok && (name != "replay" || src == "") {
		return fieldErr("backend", "%q: only replay takes a source (replay:FILE)", c.Backend)
	}
	switch c.Output {
	case "text", "json":
	default:
		return fieldErr("output", "must be text or json, got %q", c.Output)
	}
	switch c.Color {
	case "auto", "always", "never":
	default:
		return fieldErr("color", "must be auto, always or never, got %q", c.Color)
	}
	if c.Capture.ExecSHA256Max < 0 {
		return fieldErr("capture.exec_sha256_max", "must not be negative, got %d", c.Capture.ExecSHA256Max)
	}
	if c.Capture.ExecRateLimit < 0 || c.Capture.ExecRateLimit > 1<<30 {
		return fieldErr("capture.exec_rate_limit", "must be 0 (off) to 1073741824 execs per cgroup per second, got %d", c.Capture.ExecRateLimit)
	}
	for _, p := range c.Capture.Env {
		name, _ := strings.CutSuffix(p, "*")
		if p == "" || strings.ContainsAny(name, "=*") {
			return fieldErr("capture.env", "%q is not a variable name or a prefix ending in *", p)
		}
	}
	if c.Capture.ArgvMax < 64 || c.Capture.ArgvMax > 1<<20 {
		return fieldErr("capture.argv_max", "must be between 64 and 1048576 bytes, got %d", c.Capture.ArgvMax)
	}
	if b := c.Capture.BufferSize; b < 4096 || b > 1<<30 || b&(b-1) != 0 {
		return fieldErr("capture.buffer_size", "must be a power of two between 4096 and 1073741824 bytes, got %d", b)
	}
	if c.Pipeline.Window < 0 || c.Pipeline.Window > 10*time.Second {
		return fieldErr("pipeline.window", "must be between 0 and 10s, got %s", c.Pipeline.Window)
	}
	if c.Pipeline.MaxProcesses < 1024 {
		return fieldErr("pipeline.max_processes", "must be at least 1024, got %d", c.Pipeline.MaxProcesses)
	}
	if k := c.Pipeline.KeepReaped; k < 0 || k > c.Pipeline.MaxProcesses {
		return fieldErr("pipeline.keep_reaped", "must be between 0 and pipeline.max_processes (%d), got %d", c.Pipeline.MaxProcesses, k)
	}
	for i, p := range c.Pipeline.RedactPatterns {
		if err := checkRegexp(p); err != nil {
			return fieldErr(fmt.Sprintf("pipeline.redact_patterns[%d]", i), "%v", err)
		}
	}
	switch c.Traces.RootPolicy {
	case "process_group", "session", "container", "none":
	default:
		return fieldErr("traces.root_policy", "must be process_group, session, container or none, got %q", c.Traces.RootPolicy)
	}
	switch c.OTLP.Protocol {
	case "grpc", "http/protobuf":
	default:
		return fieldErr("otlp.protocol", "must be grpc or http/protobuf, got %q", c.OTLP.Protocol)
	}
	if c.OTLP.Endpoint != "" {
		if err := checkEndpoint(c.OTLP.Endpoint); err != nil {
			return fieldErr("otlp.endpoint", "%v", err)
		}
	}
	if err := checkCompression("otlp.compression", c.OTLP.Compression); err != nil {
		return err
	}
	if c.OTLP.MetricsInterval < 0 {
		return fieldErr("otlp.metrics_interval", "must not be negative, got %s", c.OTLP.MetricsInterval)
	}
	for name, sig := range map[string]Signal{"logs": c.OTLP.Signals.Logs, "traces": c.OTLP.Signals.Traces, "metrics": c.OTLP.Signals.Metrics} {
		if err := sig.check("otlp.signals." + name); err != nil {
			return err
		}
	}
	if c.OTLP.Timeout <= 0 {
		return fieldErr("otlp.timeout", "must be positive, got %s", c.OTLP.Timeout)
	}
	if (c.OTLP.TLS.CertFile == "") != (c.OTLP.TLS.KeyFile == "") {
		return fieldErr("otlp.tls", "cert_file and key_file go together")
	}
	for k := range c.OTLP.Headers {
		if k == "" || strings.ContainsAny(k, " \t:\r\n") {
			return fieldErr("otlp.headers", "invalid header name %q", k)
		}
	}
	for k := range c.Resource {
		if k == "" {
			return fieldErr("resource", "empty attribute name")
		}
	}
	if c.ServiceName == "" {
		return fieldErr("service_name", "must not be empty")
	}
	return nil
}

// LogsEnabled reports whether OTLP logs are sent when exporting: switched
// on and, when only some signals have an endpoint, one of them.
func (o OTLP) LogsEnabled() bool { return o.signalOn(o.Logs, o.Signals.Logs) }

// TracesEnabled reports whether OTLP spans are sent.
func (o OTLP) TracesEnabled() bool { return o.signalOn(o.Traces, o.Signals.Traces) }

// MetricsEnabled reports whether procotel's own metrics are sent.
func (o OTLP) MetricsEnabled() bool { return o.signalOn(o.Metrics, o.Signals.Metrics) }

// RedactEnabled reports whether argv redaction is on.
func (p Pipeline) RedactEnabled() bool { return p.Redact == nil || *p.Redact }

func checkCompression(field, v string) error {
	switch v {
	case "", "none", "gzip":
		return nil
	}
	return fieldErr(field, "must be gzip or none, got %q", v)
}

// check validates one signal's overrides; field is its YAML path.
func (s Signal) check(field string) error {
	if s.Endpoint != "" {
		if err := checkEndpoint(s.Endpoint); err != nil {
			return fieldErr(field+".endpoint", "%v", err)
		}
	}
	switch s.Protocol {
	case "", "grpc", "http/protobuf":
	default:
		return fieldErr(field+".protocol", "must be grpc or http/protobuf, got %q", s.Protocol)
	}
	if s.Timeout < 0 {
		return fieldErr(field+".timeout", "must not be negative, got %s", s.Timeout)
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		return fieldErr(field+".tls", "cert_file and key_file go together")
	}
	for k := range s.Headers {
		if k == "" || strings.ContainsAny(k, " \t:\r\n") {
			return fieldErr(field+".headers", "invalid header name %q", k)
		}
	}
	return checkCompression(field+".compression", s.Compression)
}
