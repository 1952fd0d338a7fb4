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
	// BufferSize is the kernel ring buffer size in bytes (power of two). On
	// Linux it is divided among one ring per online CPU, up to 16 rings of at
	// least 512 KiB each.
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
	// Queue bounds what waits for export while the endpoint is slow or
	// down; beyond it records are dropped and counted (queue_full).
	Queue Queue `yaml:"queue" mapstructure:"queue"`
	// Batch shapes the export requests of logs and traces;
	// signals.logs.batch and signals.traces.batch override it.
	Batch Batch `yaml:"batch" mapstructure:"batch"`
	// Signals override the settings above for one signal
	// (OTEL_EXPORTER_OTLP_LOGS_*, _TRACES_*, _METRICS_*; OTEL_BLRP_* and
	// OTEL_BSP_* for the logs' and the traces' batches).
	Signals Signals `yaml:"signals" mapstructure:"signals"`
}

// Queue bounds each signal's export queue.
type Queue struct {
	// Logs is how many log records may wait (OTEL_BLRP_MAX_QUEUE_SIZE),
	// 16384 by default, and Traces how many spans
	// (OTEL_BSP_MAX_QUEUE_SIZE), 16384: 1 to 16777216.
	Logs   int `yaml:"logs" mapstructure:"logs"`
	Traces int `yaml:"traces" mapstructure:"traces"`
	// Bytes bounds the encoded records of each signal's queue, 16 MiB
	// (16777216) by default: 1 MiB to 1 GiB. With the endpoint down each
	// signal holds up to this much plus about 2.5 MiB of batch buffers.
	Bytes int `yaml:"bytes" mapstructure:"bytes"`
}

// Batch shapes export requests. In otlp.signals.logs or .traces a zero
// field overrides nothing.
type Batch struct {
	// Size is the most log records or spans in one request; a request
	// also stops at 512 KiB of encoded records. It must not exceed the
	// signal's queue (otlp.queue.logs, otlp.queue.traces). In otlp.batch
	// 0 means 2048, or the queue size when that is smaller
	// (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE).
	Size int `yaml:"size" mapstructure:"size"`
	// Interval is how long records wait for a batch to fill before it is
	// sent anyway, 1s by default: 1ms to 5m (OTEL_BLRP_SCHEDULE_DELAY,
	// OTEL_BSP_SCHEDULE_DELAY).
	Interval time.Duration `yaml:"interval" mapstructure:"interval"`
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
	// Batch overrides otlp.batch for logs or traces; metrics are not
	// batched (their interval is otlp.metrics_interval).
	Batch Batch `yaml:"batch" mapstructure:"batch"`
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
		Output: "text",
		Color:  "auto",
		OTLP: OTLP{Protocol: "grpc", Timeout: 10 * time.Second,
			Queue: Queue{Logs: DefaultQueueSize, Traces: DefaultQueueSize, Bytes: DefaultQueueBytes},
			Batch: Batch{Interval: DefaultBatchInterval}},
		ServiceName: "procotel",
	}
}

// The defaults of otlp.queue and otlp.batch, the exporter's own
// (export.DefaultQueueSize, DefaultQueueBytes, DefaultBatchSize,
// DefaultExportInterval).
const (
	DefaultQueueSize     = 16384
	DefaultQueueBytes    = 16 << 20
	DefaultBatchSize     = 2048
	DefaultBatchInterval = time.Second
)

// The bounds of otlp.queue and otlp.batch.
const (
	maxQueueSize     = 1 << 24
	minQueueBytes    = 1 << 20
	maxQueueBytes    = 1 << 30
	minBatchInterval = time.Millisecond
	maxBatchInterval = 5 * time.Minute
)

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
	if err := c.OTLP.checkBatching(); err != nil {
		return err
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

// checkBatching validates otlp.queue, otlp.batch and the per-signal
// batches: sizes in range, and each signal's batch no larger than its
// queue, as the OpenTelemetry SDK specification requires.
func (o OTLP) checkBatching() error {
	for _, q := range []struct {
		field, env string
		n          int
	}{{"otlp.queue.logs", "OTEL_BLRP_MAX_QUEUE_SIZE", o.Queue.Logs}, {"otlp.queue.traces", "OTEL_BSP_MAX_QUEUE_SIZE", o.Queue.Traces}} {
		if q.n < 1 || q.n > maxQueueSize {
			return fieldErr(q.field, "must be between 1 and %d records (%s), got %d", maxQueueSize, q.env, q.n)
		}
	}
	if b := o.Queue.Bytes; b < minQueueBytes || b > maxQueueBytes {
		return fieldErr("otlp.queue.bytes", "must be between %d (1 MiB) and %d (1 GiB) bytes, got %d", minQueueBytes, maxQueueBytes, b)
	}
	if err := o.Batch.check("otlp.batch", true); err != nil {
		return err
	}
	for _, s := range []struct {
		name, unit, env string
		batch           Batch
		queue           int
	}{{"logs", "log records", "OTEL_BLRP", o.Signals.Logs.Batch, o.Queue.Logs}, {"traces", "spans", "OTEL_BSP", o.Signals.Traces.Batch, o.Queue.Traces}} {
		field := "otlp.signals." + s.name + ".batch"
		if err := s.batch.check(field, false); err != nil {
			return err
		}
		size := s.batch.Size
		if size == 0 {
			size, field = o.Batch.Size, "otlp.batch"
		}
		if size > s.queue {
			return fieldErr(field+".size", "a batch of %d %s does not fit in otlp.queue.%s (%d); a batch must not exceed its queue (%s_MAX_EXPORT_BATCH_SIZE ≤ %s_MAX_QUEUE_SIZE): lower the batch size or raise the queue",
				size, s.unit, s.name, s.queue, s.env, s.env)
		}
	}
	if o.Signals.Metrics.Batch != (Batch{}) {
		return fieldErr("otlp.signals.metrics.batch", "metrics are not batched; set how often they are sent with otlp.metrics_interval")
	}
	return nil
}

// check validates one batch section; in general (otlp.batch) the
// interval is required, in a signal's a zero field overrides nothing.
func (b Batch) check(field string, general bool) error {
	if b.Size < 0 {
		return fieldErr(field+".size", "must not be negative (0: the default), got %d", b.Size)
	}
	if b.Interval == 0 && !general {
		return nil
	}
	if b.Interval < minBatchInterval || b.Interval > maxBatchInterval {
		return fieldErr(field+".interval", "must be between %s and %s, got %s", minBatchInterval, maxBatchInterval, b.Interval)
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

// LogsBatch is the batch log records are sent in: otlp.signals.logs.batch
// over otlp.batch, a size of 0 made DefaultBatchSize or otlp.queue.logs
// when that is smaller.
func (o OTLP) LogsBatch() Batch { return o.Batch.over(o.Signals.Logs.Batch, o.Queue.Logs) }

// TracesBatch is the batch spans are sent in, as LogsBatch.
func (o OTLP) TracesBatch() Batch { return o.Batch.over(o.Signals.Traces.Batch, o.Queue.Traces) }

// over returns the general batch b with a signal's fields over it, for a
// signal whose queue holds queue records.
func (b Batch) over(sig Batch, queue int) Batch {
	if sig.Size > 0 {
		b.Size = sig.Size
	}
	if sig.Interval > 0 {
		b.Interval = sig.Interval
	}
	if b.Size == 0 {
		b.Size = min(DefaultBatchSize, queue)
	}
	return b
}

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
