package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Flags binds the command-line flags of the configuration to a FlagSet.
// After fs.Parse, Apply writes the flags the user set onto a Config.
type Flags struct {
	fs     *flag.FlagSet
	File   string
	values map[string]*string
}

// flagSpec describes one flag: its name, the YAML field it sets and its
// help. A flag with a join separator may be given more than once: its
// values are joined with it (every other flag keeps its last value).
type flagSpec struct {
	name, field, usage string
	boolean            bool
	join               string
}

var flagSpecs = []flagSpec{
	{"backend", "backend", "event source: auto, ebpf, dtrace, kqueue, replay:FILE", false, ""},
	{"output", "output", "terminal format when no OTLP endpoint is set: text or json", false, ""},
	{"color", "color", "colour the text output: auto, always, never", false, ""},
	{"filter", "filter", "only show events matching this expression, e.g. 'kind=exec,exit exe=*/curl';\ngiven more than once, an event must match every one (they are joined with AND);\nthe flag replaces the configuration file's filter", false, " "},
	{"argv-max", "capture.argv_max", "largest argv captured per exec, in bytes", false, ""},
	{"threads", "capture.threads", "also report thread start and exit", true, ""},
	{"start-events", "capture.start_events", "also report when a new process first runs", true, ""},
	{"signal-deliver", "capture.signal_deliver", "also report signal delivery, not only generation", true, ""},
	{"signals-all", "capture.signals_all", "include the signals left out by default: SIGCHLD (sent on every exit) and the runtime signals a process sends itself (SIGURG, SIGPROF, SIGVTALRM, glibc's 32/33)", true, ""},
	{"exec-failures", "capture.exec_failures", "report failed execs (default true); Linux: --exec-failures=false attaches no syscall tracepoint, which otherwise slows every syscall on the host", true, ""},
	{"buffer-size", "capture.buffer_size", "kernel ring buffer size in bytes, power of two (Linux divides it among one ring per online CPU, up to 16 rings of at least 512 KiB)", false, ""},
	{"jail", "capture.jails", "FreeBSD: only watch these jails (comma-separated ids or names)", false, ""},
	{"capture-env", "capture.env", "environment variables reported on each exec (comma-separated names, NAME* for a prefix; empty for none; default LD_PRELOAD,LD_LIBRARY_PATH,LD_AUDIT)", false, ""},
	{"exec-sha256", "capture.exec_sha256", "also report the full SHA-256 of each executable (up to capture.exec_sha256_max bytes)", true, ""},
	{"exec-rate-limit", "capture.exec_rate_limit", "Linux: execs per cgroup per second reported one by one; past it they are counted and reported as a throttle start and stop (0, the default: off)", false, ""},
	{"window", "pipeline.window", "reordering window, e.g. 20ms", false, ""},
	{"max-processes", "pipeline.max_processes", "bound on the process table", false, ""},
	{"redact", "pipeline.redact", "redact secrets in command lines", true, ""},
	{"root-policy", "traces.root_policy", "which process starts a trace: process_group, session, container, none", false, ""},
	{"traceparent", "traces.traceparent", "processes with TRACEPARENT in their environment join that trace", true, ""},
	{"flush-incomplete", "traces.flush_incomplete", "at exit, emit spans of processes still alive, marked incomplete", true, ""},
	{"otlp-endpoint", "otlp.endpoint", "OTLP destination (host:port or URL); empty prints to the terminal", false, ""},
	{"otlp-protocol", "otlp.protocol", "grpc or http/protobuf", false, ""},
	{"otlp-insecure", "otlp.insecure", "send without TLS", true, ""},
	{"otlp-header", "otlp.headers", "extra header, key=value (comma-separated for several, or give the flag again)", false, ","},
	{"service-name", "service_name", "service.name on the resource", false, ""},
}

// NewFlags registers the configuration flags on fs, plus --config FILE.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, values: map[string]*string{}}
	fs.StringVar(&f.File, "config", "", "YAML configuration file")
	for _, s := range flagSpecs {
		v := new(string)
		f.values[s.name] = v
		if s.boolean {
			fs.Var(boolFlag{v}, s.name, s.usage)
		} else {
			fs.Var(stringFlag{v, s.join}, s.name, s.usage)
		}
	}
	return f
}

type stringFlag struct {
	p    *string
	join string // separator of repeated values; "" keeps the last
}

func (s stringFlag) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}
func (s stringFlag) Set(v string) error {
	if s.join != "" && *s.p != "" {
		v = *s.p + s.join + v
	}
	*s.p = v
	return nil
}

type boolFlag struct{ p *string }

func (b boolFlag) String() string {
	if b.p == nil {
		return ""
	}
	return *b.p
}
func (b boolFlag) Set(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("want true or false")
	}
	*b.p = v
	return nil
}
func (b boolFlag) IsBoolFlag() bool { return true }

// Load builds the configuration: defaults, then the file named by
// --config (if any), then the environment, then the flags the user set.
// getenv is os.Getenv in the binary; tests pass their own.
func (f *Flags) Load(getenv func(string) string) (Config, error) {
	c := Default()
	if f.File != "" {
		if err := LoadFile(&c, f.File); err != nil {
			return c, err
		}
	}
	if err := ApplyEnv(&c, getenv); err != nil {
		return c, err
	}
	var err error
	f.fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		for _, s := range flagSpecs {
			if s.name == fl.Name {
				if e := setField(&c, s.field, *f.values[s.name]); e != nil {
					err = fmt.Errorf("flag --%s: %w", s.name, e)
				}
			}
		}
	})
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// pathAtLine returns the dotted path of the mapping key whose value is on
// the given line, for error messages.
func pathAtLine(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := pathAtLine(c, line, prefix); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			if v.Kind == yaml.ScalarNode && v.Line == line {
				return path
			}
			if p := pathAtLine(v, line, path); p != "" {
				return p
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if c.Line == line && c.Kind == yaml.ScalarNode {
				return fmt.Sprintf("%s[%d]", prefix, i)
			}
		}
	}
	return ""
}

// ApplyEnv applies the standard OpenTelemetry environment variables:
// OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _HEADERS, _INSECURE, _TIMEOUT,
// _CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY, OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES; the batch processors' OTEL_BLRP_* (logs) and
// OTEL_BSP_* (traces) MAX_QUEUE_SIZE, MAX_EXPORT_BATCH_SIZE,
// SCHEDULE_DELAY and EXPORT_TIMEOUT.
func ApplyEnv(c *Config, getenv func(string) string) error {
	env := func(name, field string) error {
		if v := getenv(name); v != "" {
			if err := setField(c, field, v); err != nil {
				return fmt.Errorf("environment %s: %w", name, err)
			}
		}
		return nil
	}
	for _, e := range [][2]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "otlp.endpoint"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "otlp.protocol"},
		{"OTEL_EXPORTER_OTLP_HEADERS", "otlp.headers"},
		{"OTEL_EXPORTER_OTLP_INSECURE", "otlp.insecure"},
		{"OTEL_EXPORTER_OTLP_CERTIFICATE", "otlp.tls.ca_file"},
		{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "otlp.tls.cert_file"},
		{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "otlp.tls.key_file"},
		{"OTEL_SERVICE_NAME", "service_name"},
		{"OTEL_RESOURCE_ATTRIBUTES", "resource"},
	} {
		if err := env(e[0], e[1]); err != nil {
			return err
		}
	}
	if err := envMillis(getenv, "OTEL_EXPORTER_OTLP_TIMEOUT", &c.OTLP.Timeout); err != nil {
		return err
	}
	if err := env("OTEL_EXPORTER_OTLP_COMPRESSION", "otlp.compression"); err != nil {
		return err
	}
	// The batch processors' variables of the SDK specification, per
	// signal. EXPORT_TIMEOUT is the signal's export timeout, as
	// OTEL_EXPORTER_OTLP_{LOGS,TRACES}_TIMEOUT is: that one, the
	// exporter's own, is applied after it and wins when both are set.
	for _, p := range []struct {
		env       string
		queueSize *int
		dst       *Signal
	}{{"OTEL_BLRP_", &c.OTLP.Queue.Logs, &c.OTLP.Signals.Logs}, {"OTEL_BSP_", &c.OTLP.Queue.Traces, &c.OTLP.Signals.Traces}} {
		for _, err := range []error{
			envCount(getenv, p.env+"MAX_QUEUE_SIZE", p.queueSize),
			envCount(getenv, p.env+"MAX_EXPORT_BATCH_SIZE", &p.dst.Batch.Size),
			envMillis(getenv, p.env+"SCHEDULE_DELAY", &p.dst.Batch.Interval),
			envMillis(getenv, p.env+"EXPORT_TIMEOUT", &p.dst.Timeout),
		} {
			if err != nil {
				return err
			}
		}
	}
	// Per signal, as the OTLP exporter specification names them; each
	// beats its general variable.
	for _, sig := range []struct {
		env, path string
		dst       *Signal
	}{{"LOGS", "logs", &c.OTLP.Signals.Logs}, {"TRACES", "traces", &c.OTLP.Signals.Traces}, {"METRICS", "metrics", &c.OTLP.Signals.Metrics}} {
		prefix, path := "OTEL_EXPORTER_OTLP_"+sig.env+"_", "otlp.signals."+sig.path+"."
		for _, e := range [][2]string{
			{"ENDPOINT", "endpoint"}, {"PROTOCOL", "protocol"}, {"HEADERS", "headers"}, {"INSECURE", "insecure"},
			{"COMPRESSION", "compression"}, {"CERTIFICATE", "tls.ca_file"}, {"CLIENT_CERTIFICATE", "tls.cert_file"},
			{"CLIENT_KEY", "tls.key_file"},
		} {
			if err := env(prefix+e[0], path+e[1]); err != nil {
				return err
			}
		}
		if err := envMillis(getenv, prefix+"TIMEOUT", &sig.dst.Timeout); err != nil {
			return err
		}
	}
	for _, e := range [][2]string{{"OTEL_LOGS_EXPORTER", "otlp.logs"}, {"OTEL_TRACES_EXPORTER", "otlp.traces"}, {"OTEL_METRICS_EXPORTER", "otlp.metrics"}} {
		v := getenv(e[0])
		if v == "" {
			continue
		}
		var on bool
		switch strings.TrimSpace(v) {
		case "otlp":
			on = true
		case "none":
		default:
			return fmt.Errorf("environment %s: procotel exports otlp or none, got %q", e[0], v)
		}
		*c.boolField(e[1]) = &on
	}
	if err := envMillis(getenv, "OTEL_METRIC_EXPORT_INTERVAL", &c.OTLP.MetricsInterval); err != nil {
		return err
	}
	if v := getenv("OTEL_SDK_DISABLED"); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("environment OTEL_SDK_DISABLED: want true or false, got %q", v)
		}
		if off {
			// No telemetry at all over OTLP; procotel prints instead.
			c.OTLP.Endpoint, c.OTLP.Signals = "", Signals{}
		}
	}
	return nil
}

// envMillis reads a duration in milliseconds, as OTEL_* timeouts and
// intervals give it.
func envMillis(getenv func(string) string, name string, dst *time.Duration) error {
	ms, ok, err := envPositive(getenv, name, "number of milliseconds")
	if ok {
		*dst = msDuration(ms)
	}
	return err
}

// envCount reads a positive whole number, as the OTEL_BLRP_* and
// OTEL_BSP_* sizes give it; Validate checks its range.
func envCount(getenv func(string) string, name string, dst *int) error {
	n, ok, err := envPositive(getenv, name, "whole number")
	if ok {
		*dst = n
	}
	return err
}

// envPositive reads the positive whole number in variable name; ok is
// false when it is unset or wrong (err says which: what it must be).
func envPositive(getenv func(string) string, name, what string) (n int, ok bool, err error) {
	v := getenv(name)
	if v == "" {
		return 0, false, nil
	}
	n, err = strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, false, fmt.Errorf("environment %s: want a positive %s, got %q", name, what, v)
	}
	return n, true, nil
}

// boolField returns where the optional boolean at a YAML path
// (pipeline.redact, otlp.logs, otlp.traces, otlp.metrics) is kept.
func (c *Config) boolField(path string) **bool {
	switch path {
	case "pipeline.redact":
		return &c.Pipeline.Redact
	case "otlp.logs":
		return &c.OTLP.Logs
	case "otlp.traces":
		return &c.OTLP.Traces
	case "otlp.metrics":
		return &c.OTLP.Metrics
	}
	panic("config: no optional boolean at " + path)
}

// setField sets the field at a YAML path from its text form, the way a
// flag or environment variable gives it.
func setField(c *Config, field, v string) error {
	node := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	switch field {
	case "otlp.headers", "resource", "otlp.signals.logs.headers", "otlp.signals.traces.headers", "otlp.signals.metrics.headers":
		m, err := parseKeyValues(v)
		if err != nil {
			return err
		}
		dst := map[string]*map[string]string{
			"otlp.headers": &c.OTLP.Headers, "resource": &c.Resource,
			"otlp.signals.logs.headers":    &c.OTLP.Signals.Logs.Headers,
			"otlp.signals.traces.headers":  &c.OTLP.Signals.Traces.Headers,
			"otlp.signals.metrics.headers": &c.OTLP.Signals.Metrics.Headers,
		}[field]
		if *dst == nil {
			*dst = map[string]string{}
		}
		for k, x := range m {
			(*dst)[k] = x
		}
		return nil
	case "capture.jails":
		c.Capture.Jails = splitList(v)
		return nil
	case "capture.env":
		c.Capture.Env = splitList(v)
		return nil
	case "pipeline.redact", "otlp.logs", "otlp.traces":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s: want true or false, got %q", field, v)
		}
		*c.boolField(field) = &b
		return nil
	}
	// Build a one-field YAML document from the path and decode it, so
	// flags and environment parse exactly like the file does.
	parts := strings.Split(field, ".")
	doc := node
	for i := len(parts) - 1; i >= 0; i-- {
		doc = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: parts[i]}, doc}}
	}
	if err := decodeNode(c, doc); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return fmt.Errorf("%s: cannot use %q (%s)", field, v, typeHint(te.Errors[0]))
		}
		return err // the check names the field
	}
	return nil
}

func typeHint(msg string) string {
	switch {
	case strings.Contains(msg, "time.Duration"):
		return "want a duration such as 20ms or 5s"
	case strings.Contains(msg, "into int"):
		return "want a whole number"
	case strings.Contains(msg, "into bool"):
		return "want true or false"
	}
	return msg
}

// parseKeyValues parses "k1=v1,k2=v2" (the OTEL_*_HEADERS and
// OTEL_RESOURCE_ATTRIBUTES form; values are URL-decoded).
func parseKeyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("want key=value pairs separated by commas, got %q", kv)
		}
		if dv, err := url.QueryUnescape(strings.TrimSpace(v)); err == nil {
			v = dv
		}
		out[k] = v
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkEndpoint checks an OTLP endpoint. Its errors never repeat the
// user info of a URL (RedactURL).
func checkEndpoint(ep string) error {
	if strings.Contains(ep, "://") {
		shown := RedactURL(ep)
		if shown != ep {
			return fmt.Errorf("%q: user info (user:password@) is not allowed in the URL; send credentials in a header, e.g. --otlp-header authorization=Basic…", shown)
		}
		u, err := url.Parse(ep)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("%q is not a URL: %v", shown, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
		}
		if u.Host == "" {
			return fmt.Errorf("%q has no host", shown)
		}
		return nil
	}
	host, port, ok := strings.Cut(ep, ":")
	if !ok || host == "" {
		return fmt.Errorf("want host:port or a URL, got %q", ep)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("bad port in %q", ep)
	}
	return nil
}

// RedactURL returns s with the user info of a URL in it ("user:secret@"
// after "scheme://") replaced by [REDACTED]. Every error message that
// shows a configured URL shows it through RedactURL.
func RedactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	return s[:i+3] + "[REDACTED]" + rest[at:]
}

func checkRegexp(p string) error {
	if _, err := regexp.Compile(p); err != nil {
		return fmt.Errorf("invalid regular expression: %v", err)
	}
	return nil
}

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
