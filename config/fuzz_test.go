package config

import (
	"flag"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzDecodeYAML: any file decodes or fails with an error, never a
// panic; a file that yields a valid configuration round-trips: the
// configuration written back as YAML decodes to the same configuration.
func FuzzDecodeYAML(f *testing.F) {
	if b, err := os.ReadFile("testdata/config.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"", "pipeline:\n  window: 0\n", "resource: {a: 1, b: ~}\n", "otlp: {headers: &h {x: y}}\nresource: *h\n",
		"capture:\n  jails: [a, b]\n", "a: &a [*a]\n", "otlp:\n  timeout: 5\n", "pipeline: {redact: false}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if err := decodeYAML(&c, b); err != nil || c.Validate() != nil {
			return
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal a valid configuration: %v", err)
		}
		c2 := Default()
		if err := decodeYAML(&c2, out); err != nil {
			t.Fatalf("a valid configuration written back does not decode: %v\n%s", err, out)
		}
		if err := c2.Validate(); err != nil {
			t.Fatalf("a valid configuration written back is invalid: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normalized(c), normalized(c2)) {
			t.Fatalf("round trip changed the configuration:\n%+v\n%+v\n%s", c, c2, out)
		}
	})
}

// normalized makes empty maps and slices nil: YAML writes both as empty.
func normalized(c Config) Config {
	if len(c.Resource) == 0 {
		c.Resource = nil
	}
	if len(c.OTLP.Headers) == 0 {
		c.OTLP.Headers = nil
	}
	for _, sig := range []*Signal{&c.OTLP.Signals.Logs, &c.OTLP.Signals.Traces, &c.OTLP.Signals.Metrics} {
		if len(sig.Headers) == 0 {
			sig.Headers = nil
		}
	}
	if len(c.Capture.Jails) == 0 {
		c.Capture.Jails = nil
	}
	if len(c.Pipeline.RedactPatterns) == 0 {
		c.Pipeline.RedactPatterns = nil
	}
	return c
}

// FuzzFlags: any command line (arguments separated by NUL) parses or
// fails with an error, never a panic, and what loads is valid.
func FuzzFlags(f *testing.F) {
	for _, s := range []string{
		"--window\x000", "--filter\x00kind=exec\x00--filter\x00pid=1", "--otlp-header\x00a=1,b=%zz",
		"--otlp-endpoint\x00http://u:p@h:1", "--redact=false", "--argv-max\x00-1", "--jail\x00,,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fl := NewFlags(fs)
		if fs.Parse(strings.Split(s, "\x00")) != nil {
			return
		}
		fl.File = "" // never read files the input names
		c, err := fl.Load(func(string) string { return "" })
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned an invalid configuration: %v", err)
		}
		if strings.Contains(c.OTLP.Endpoint, "@") && RedactURL(c.OTLP.Endpoint) != c.OTLP.Endpoint {
			t.Fatalf("an endpoint with user info was accepted: %q", c.OTLP.Endpoint)
		}
	})
}
