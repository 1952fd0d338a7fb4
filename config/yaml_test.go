package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every duration, from a flag, the environment's neighbours or a file,
// follows one rule: Go's syntax with a unit, a bare 0 allowed.
func TestDurationsFollowOneRule(t *testing.T) {
	for _, v := range []string{"0", "0s", "15ms"} {
		want, _ := time.ParseDuration(v)
		c, err := load(t, []string{"--window", v}, nil)
		if err != nil || c.Pipeline.Window != want {
			t.Errorf("--window %s: %v, window %s", v, err, c.Pipeline.Window)
		}
		c, err = load(t, []string{"--config", writeConfig(t, "pipeline:\n  window: "+v+"\n")}, nil)
		if err != nil || c.Pipeline.Window != want {
			t.Errorf("file window: %s: %v, window %s", v, err, c.Pipeline.Window)
		}
	}
	_, err := load(t, []string{"--window", "5"}, nil)
	if err == nil || !strings.Contains(err.Error(), `pipeline.window: cannot use "5" (a duration needs a unit, such as 5ms or 5s)`) {
		t.Errorf("--window 5: %v", err)
	}
	_, err = load(t, []string{"--config", writeConfig(t, "otlp:\n  timeout: 5\n")}, nil)
	if err == nil || !strings.Contains(err.Error(), `line 2: otlp.timeout: cannot use "5" (a duration needs a unit`) {
		t.Errorf("file timeout: 5: %v", err)
	}
	// A zero timeout parses and is then out of range.
	_, err = load(t, []string{"--config", writeConfig(t, "otlp:\n  timeout: 0\n")}, nil)
	if err == nil || !strings.Contains(err.Error(), "otlp.timeout: must be positive") {
		t.Errorf("file timeout: 0: %v", err)
	}
}

func TestRepeatedFilterAndHeaderFlagsCombine(t *testing.T) {
	file := writeConfig(t, "filter: uid=0\n")
	c, err := load(t, []string{"--config", file, "--filter", "kind=exec", "--filter", "exe=*/curl"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Filter != "kind=exec exe=*/curl" {
		t.Errorf("filter %q, want both flags joined (AND) and the file's replaced", c.Filter)
	}
	c, err = load(t, []string{"--otlp-header", "a=1", "--otlp-header", "b=2,c=3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.OTLP.Headers) != 3 || c.OTLP.Headers["a"] != "1" || c.OTLP.Headers["c"] != "3" {
		t.Errorf("headers %v, want a, b and c", c.OTLP.Headers)
	}
}

func TestFileChecks(t *testing.T) {
	cases := []struct{ file, want string }{
		{"otlp:\n  protocol: grpc\n  protocol: http/protobuf\n", "line 3: otlp.protocol is given twice (first on line 2)"},
		{"resource:\n  a: 1\n  b: 2\n  a: 3\n", "line 4: resource.a is given twice (first on line 2)"},
		{"resource:\n  a: [1, 2]\n", "line 2: resource.a: want a string value"},
		{"base: &b\n  window: 1s\n", `line 1: unknown field "base" in the top level`},
		{"pipeline:\n  <<: {window: 1s}\n", "line 2: merge keys (<<) are not supported in pipeline"},
		{"capture: 5\n", "capture"},
		{"pipeline:\n  max_processes: many\n", "line 2: pipeline.max_processes: want a whole number"},
		{"otlp: [\n", "did not find expected node content"},
	}
	for _, c := range cases {
		_, err := load(t, []string{"--config", writeConfig(t, c.file)}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.file, err, c.want)
		}
	}
	// Aliases of plain values still work.
	c, err := load(t, []string{"--config", writeConfig(t, "service_name: &n svc\nresource:\n  x: *n\n")}, nil)
	if err != nil || c.ServiceName != "svc" || c.Resource["x"] != "svc" {
		t.Errorf("aliases: %v, %+v", err, c)
	}
	// Empty and comment-only files are the defaults.
	for _, body := range []string{"", "# nothing\n"} {
		c, err := load(t, []string{"--config", writeConfig(t, body)}, nil)
		if err != nil || c.Backend != "auto" {
			t.Errorf("%q: %v, %+v", body, err, c)
		}
	}
}

func TestFileSizeIsCapped(t *testing.T) {
	big := "# " + strings.Repeat("x", MaxFileSize) + "\n"
	_, err := load(t, []string{"--config", writeConfig(t, big)}, nil)
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Errorf("%d-byte file: %v", len(big), err)
	}
}

// yaml.v3 compares every pair of keys of a mapping for repeats: 75,000
// keys took about 35 s. The checks here are one pass; the bound is more
// than ten times what one pass needs on a slow machine.
func TestLargeMappingsDecodeInLinearTime(t *testing.T) {
	var resource, top strings.Builder
	resource.WriteString("resource:\n")
	for i := range 75000 {
		fmt.Fprintf(&resource, "  k%d: v\n", i)
		fmt.Fprintf(&top, "k%d: v\n", i)
	}
	if resource.Len() > MaxFileSize {
		t.Fatalf("test file is %d bytes, over the cap", resource.Len())
	}
	start := time.Now()
	c, err := load(t, []string{"--config", writeConfig(t, resource.String())}, nil)
	if err != nil || len(c.Resource) != 75000 || c.Resource["k74999"] != "v" {
		t.Errorf("resource of 75000 keys: %v, %d keys", err, len(c.Resource))
	}
	_, err = load(t, []string{"--config", writeConfig(t, top.String())}, nil)
	if err == nil || !strings.Contains(err.Error(), `line 1: unknown field "k0" in the top level`) {
		t.Errorf("75000 unknown keys: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("decoding two files of 75000 keys took %s", d)
	}
}

// An endpoint with a password is a usage error that never repeats the
// password, whether it came from a flag, the environment or the file.
func TestEndpointCredentialsAreNeverEchoed(t *testing.T) {
	const ep = "https://alice:s3cret@collector.example:4318"
	for name, load := range map[string]func() (Config, error){
		"flag": func() (Config, error) { return load(t, []string{"--otlp-endpoint", ep}, nil) },
		"env": func() (Config, error) {
			return load(t, nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep})
		},
		"file": func() (Config, error) {
			return load(t, []string{"--config", writeConfig(t, "otlp:\n  endpoint: "+ep+"\n")}, nil)
		},
		"bad port": func() (Config, error) {
			return load(t, []string{"--otlp-endpoint", "http://alice:s3cret@host:bad"}, nil)
		},
	} {
		_, err := load()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "[REDACTED]@") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for in, want := range map[string]string{
		"http://u:p@h:1/x@y":   "http://[REDACTED]@h:1/x@y",
		"http://tok@h:1":       "http://[REDACTED]@h:1",
		"http://h:1/a@b":       "http://h:1/a@b",
		"host:4317":            "host:4317",
		"see http://a:b@c:1 x": "see http://[REDACTED]@c:1 x",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
