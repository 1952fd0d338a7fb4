package collector

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/procotel/procotel/collector/internal/metadata"
	"github.com/procotel/procotel/config"

	"github.com/procotel/procotel/agent"
)

// loadConfig unmarshals the receiver section id of testdata/config.yaml
// over the factory's default configuration.
func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	id := component.NewID(metadata.Type)
	if name != "" {
		id = component.NewIDWithName(metadata.Type, name)
	}
	sub, err := cm.Sub(id.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func TestConfigStruct(t *testing.T) {
	if err := componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfig(t *testing.T) {
	def, err := loadConfig(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := createDefaultConfig(); !reflect.DeepEqual(def, want) {
		t.Errorf("procotel: got %+v, want the default %+v", def, want)
	}
	if err := confmap.Validate(def); err != nil {
		t.Errorf("default configuration: %v", err)
	}

	got, err := loadConfig(t, "custom")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := &Config{
		Receiver: config.Receiver{
			Backend: "replay:/var/lib/procotel/events.jsonl",
			Filter:  "kind=exec,exit",
			Capture: config.Capture{ArgvMax: 4096, Threads: true, StartEvents: true, SignalDeliver: true,
				SignalsAll: true, BufferSize: 32 << 20, Jails: []string{"3", "7"},
				Env: config.Default().Capture.Env, ExecSHA256Max: config.Default().Capture.ExecSHA256Max},
			Pipeline: config.Pipeline{Window: 50 * time.Millisecond, MaxProcesses: 4096, KeepReaped: 100, Redact: &no,
				RedactPatterns: []string{`--token=\S+`}},
			Traces: config.Traces{RootPolicy: "session", Traceparent: true, FlushIncomplete: true},
		},
		Delivery: Delivery{FlushInterval: time.Second, MaxBatch: 100, QueueSize: 8, RetryFor: 5 * time.Second},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("procotel/custom:\n got %+v\nwant %+v", got, want)
	}
	if err := confmap.Validate(got); err != nil {
		t.Errorf("procotel/custom: %v", err)
	}
	// The agent translates the receiver's settings (jails aside: they
	// resolve on FreeBSD only).
	rc := got.Receiver
	rc.Capture.Jails = nil
	plan, err := agent.NewPlan(rc)
	if err != nil {
		t.Fatal(err)
	}
	if opts := plan.BackendOptions; opts.ArgvMax != 4096 || !opts.Threads || !opts.StartEvents || !opts.SignalDeliver || !opts.SignalsAll ||
		opts.BufferSize != 32<<20 {
		t.Errorf("backend options: %+v", opts)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct{ name, field string }{
		{"bad_argv_max", "capture.argv_max"},
		{"bad_root_policy", "traces.root_policy"},
		{"bad_filter", "filter"},
		{"bad_jail", "capture.jails[0]"},
		{"bad_max_batch", "delivery.max_batch"},
		{"bad_backend", "backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(t, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Validate() = %v, want a field error for %s", err, tc.field)
			}
			// The Collector validates the same way.
			if err := confmap.Validate(cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("confmap.Validate() = %v, want it to name %s", err, tc.field)
			}
		})
	}
	if _, err := loadConfig(t, "unknown_key"); err == nil || !strings.Contains(err.Error(), "argv_maximum") {
		t.Errorf("unknown key: got %v, want an error naming argv_maximum", err)
	}
	for _, tc := range []struct {
		field string
		set   func(*Config)
	}{
		{"delivery.flush_interval", func(c *Config) { c.Delivery.FlushInterval = 0 }},
		{"delivery.queue_size", func(c *Config) { c.Delivery.QueueSize = 0 }},
		{"delivery.retry_for", func(c *Config) { c.Delivery.RetryFor = -time.Second }},
	} {
		c := createDefaultConfig()
		tc.set(c)
		var fe *config.FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: Validate() = %v", tc.field, err)
		}
	}
}
