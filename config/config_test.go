package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return f.Load(func(k string) string { return env[k] })
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExecRateLimit(t *testing.T) {
	if c := Default(); c.Capture.ExecRateLimit != 0 {
		t.Errorf("default exec rate limit %d, want 0 (off)", c.Capture.ExecRateLimit)
	}
	c, err := load(t, []string{"--exec-rate-limit", "50"}, nil)
	if err != nil || c.Capture.ExecRateLimit != 50 {
		t.Errorf("--exec-rate-limit 50: %d, %v", c.Capture.ExecRateLimit, err)
	}
}

func TestFile(t *testing.T) {
	c, err := load(t, []string{"--config", "testdata/config.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "ebpf" || c.Output != "json" || c.Filter != "kind=exec,exit uid=0" {
		t.Errorf("top level: %+v", c)
	}
	if c.Capture.ArgvMax != 4096 || !c.Capture.Threads || c.Capture.BufferSize != 32<<20 {
		t.Errorf("capture: %+v", c.Capture)
	}
	if c.Pipeline.Window != 50*time.Millisecond || len(c.Pipeline.RedactPatterns) != 1 {
		t.Errorf("pipeline: %+v", c.Pipeline)
	}
	if c.Traces.RootPolicy != "session" || !c.Traces.FlushIncomplete {
		t.Errorf("traces: %+v", c.Traces)
	}
	if c.OTLP.Endpoint != "collector.example:4317" || c.OTLP.Headers["x-tenant"] != "blue" || c.OTLP.Timeout != 5*time.Second {
		t.Errorf("otlp: %+v", c.OTLP)
	}
	if c.Resource["deployment.environment.name"] != "prod" {
		t.Errorf("resource: %v", c.Resource)
	}
	// Untouched fields keep their defaults.
	if c.Pipeline.MaxProcesses != 65536 || c.ServiceName != "procotel" || !c.OTLP.LogsEnabled() || !c.Capture.ExecFailures {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_EXPORTER_OTLP_HEADERS":  "authorization=Bearer%20abc,x-b=2",
		"OTEL_RESOURCE_ATTRIBUTES":    "team=sre,region=eu",
		"OTEL_SERVICE_NAME":           "proc-env",
		"OTEL_EXPORTER_OTLP_TIMEOUT":  "1500",
	}
	// env beats file
	c, err := load(t, []string{"--config", "testdata/config.yaml"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.OTLP.Endpoint != "http://env:4318" || c.OTLP.Protocol != "http/protobuf" || c.ServiceName != "proc-env" {
		t.Errorf("env did not override file: %+v", c.OTLP)
	}
	if c.OTLP.Headers["authorization"] != "Bearer abc" || c.OTLP.Headers["x-tenant"] != "blue" {
		t.Errorf("headers merged wrong: %v", c.OTLP.Headers)
	}
	if c.Resource["team"] != "sre" || c.Resource["deployment.environment.name"] != "prod" {
		t.Errorf("resource merged wrong: %v", c.Resource)
	}
	if c.OTLP.Timeout != 1500*time.Millisecond {
		t.Errorf("timeout %v", c.OTLP.Timeout)
	}
	// flag beats env beats file
	c, err = load(t, []string{"--config", "testdata/config.yaml", "--otlp-endpoint", "flag:4317",
		"--otlp-protocol", "grpc", "--window", "5ms", "--redact=false", "--threads=false", "--exec-failures=false"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.OTLP.Endpoint != "flag:4317" || c.OTLP.Protocol != "grpc" || c.Pipeline.Window != 5*time.Millisecond {
		t.Errorf("flags did not win: %+v %+v", c.OTLP, c.Pipeline)
	}
	if c.Pipeline.RedactEnabled() || c.Capture.Threads || c.Capture.ExecFailures {
		t.Errorf("bool flags not applied: redact=%v threads=%v exec_failures=%v",
			c.Pipeline.RedactEnabled(), c.Capture.Threads, c.Capture.ExecFailures)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		file string
		want string
	}{
		{args: []string{"--otlp-protocol", "udp"}, want: "otlp.protocol: must be grpc or http/protobuf"},
		{args: []string{"--window", "soon"}, want: "flag --window: pipeline.window: cannot use \"soon\" (want a duration"},
		{args: []string{"--argv-max", "12"}, want: "capture.argv_max: must be between 64"},
		{args: []string{"--exec-rate-limit", "-1"}, want: "capture.exec_rate_limit: must be 0 (off) to 1073741824"},
		{args: []string{"--argv-max", "lots"}, want: "capture.argv_max: cannot use \"lots\" (want a whole number)"},
		{args: []string{"--buffer-size", "5000"}, want: "capture.buffer_size: must be a power of two"},
		{args: []string{"--root-policy", "group"}, want: "traces.root_policy: must be process_group"},
		{args: []string{"--output", "xml"}, want: "output: must be text or json"},
		{args: []string{"--backend", "ebpf:foo"}, want: "backend: \"ebpf:foo\": only replay takes a source"},
		{args: []string{"--otlp-endpoint", "localhost"}, want: "otlp.endpoint: want host:port or a URL"},
		{args: []string{"--otlp-endpoint", "ftp://x:1"}, want: "otlp.endpoint: scheme must be http or https"},
		{args: []string{"--otlp-header", "novalue"}, want: "flag --otlp-header: want key=value pairs"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "5s"}, want: "environment OTEL_EXPORTER_OTLP_TIMEOUT: want a positive number of milliseconds"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "maybe"}, want: "environment OTEL_EXPORTER_OTLP_INSECURE: otlp.insecure: cannot use \"maybe\""},
		{file: "capture:\n  argv_maxx: 10\n", want: "line 2: unknown field \"argv_maxx\" in capture"},
		{file: "pipeline:\n  window: forever\n", want: "pipeline.window"},
		{file: "pipeline:\n  redact_patterns: ['(']\n", want: "pipeline.redact_patterns[0]: invalid regular expression"},
		{file: "otlp:\n  tls:\n    cert_file: a.pem\n", want: "otlp.tls: cert_file and key_file go together"},
	}
	for _, c := range cases {
		args := c.args
		if c.file != "" {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append([]string{"--config", p}, args...)
		}
		_, err := load(t, args, c.env)
		if err == nil {
			t.Errorf("%v %v %q: no error, want %q", c.args, c.env, c.file, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v %q: error %q, want it to contain %q", c.args, c.env, c.file, err, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
	var fe *FieldError
	_, err := load(t, []string{"--otlp-protocol", "udp"}, nil)
	if !errors.As(err, &fe) || fe.Field != "otlp.protocol" {
		t.Errorf("want *FieldError for otlp.protocol, got %#v", err)
	}
}
