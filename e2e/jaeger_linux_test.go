//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/internal/testenv"
)

// jaegerModule is the Jaeger all-in-one TestJaeger builds: v1.76's
// cmd/jaeger is the Collector-based "Jaeger v2" binary, run with a
// configuration file.
const jaegerModule = "github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0"

// jaegerConfig runs Jaeger with in-memory storage, the OTLP/gRPC receiver
// on otlp and the query API on query, all on loopback.
func jaegerConfig(otlp, query, queryGRPC string) string {
	return fmt.Sprintf(`extensions:
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 1000
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: %s
    grpc:
      endpoint: %s
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
`, query, queryGRPC, otlp)
}

var jaegerBuildMu sync.Mutex

// buildJaeger returns Jaeger's binary, built with the go tool from a
// scratch module into the user cache directory (procotel-e2e/jaeger-…),
// so only the first run pays for the build (about 4 to 8 minutes, most of
// it downloading modules). It skips, loudly, without the go tool.
func buildJaeger(t *testing.T) string {
	t.Helper()
	jaegerBuildMu.Lock()
	defer jaegerBuildMu.Unlock()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	_, version, _ := strings.Cut(jaegerModule, "@")
	dir := filepath.Join(cache, "procotel-e2e", "jaeger-"+version+"-"+runtime.GOOS+"-"+runtime.GOARCH)
	bin := filepath.Join(dir, "jaeger")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if os.Getenv("PROCOTEL_JAEGER") != "1" {
		t.Skipf("SKIP LOUDLY: Jaeger is not built yet (%s); building it takes minutes: run with PROCOTEL_JAEGER=1", bin)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("SKIP LOUDLY: building Jaeger needs the go tool on PATH: %v", err)
	}
	start := time.Now()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "jaeger-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	pkg, _, _ := strings.Cut(jaegerModule, "@")
	for _, args := range [][]string{
		{"mod", "init", "jaegerbuild"},
		{"get", "-tool", jaegerModule},
		{"build", "-o", filepath.Join(work, "jaeger"), pkg},
	} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(work, "jaeger"), bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built Jaeger in %v (cached at %s)", time.Since(start).Round(time.Second), bin)
	return bin
}

// buildProcotel builds the procotel binary from this tree.
func buildProcotel(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("SKIP LOUDLY: building procotel needs the go tool on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "procotel")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/procotel/procotel/cmd/procotel")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build procotel: %v\n%s", err, out)
	}
	return bin
}

// jaegerTrace is the part of the query API's (/api/traces) answer the
// test reads.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		TraceID       string `json:"traceID"`
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
}

// tag returns a span tag's value as text.
func (t jaegerTrace) tag(span int, key string) string {
	for _, kv := range t.Spans[span].Tags {
		if kv.Key == key {
			return fmt.Sprint(kv.Value)
		}
	}
	return ""
}

// TestJaeger exports, with procotel's command mode under the real
// backend, a command's process tree to a real Jaeger all-in-one (traces
// only), and checks through its query API that the trace arrived with
// one span per process and the right parent links; that procotel says
// once that the endpoint does not take logs and how to stop sending them
// (OTEL_LOGS_EXPORTER=none), and says nothing of the kind when they are
// off; and that it exits with the command's code, without a deadline
// error. Building Jaeger takes minutes the first time: the test runs
// when PROCOTEL_JAEGER=1 or Jaeger is already built.
func TestJaeger(t *testing.T) {
	testenv.RequireKernel(t, "procotel -- CMD under the eBPF backend")
	jaeger := buildJaeger(t)
	procotel := buildProcotel(t)
	truePath := lookPaths(t, "true")["true"]

	for _, logsOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("OTEL_LOGS_EXPORTER=none:%v", logsOff), func(t *testing.T) {
			otlp, query, queryGRPC := otelcoltest.FreeAddr(t), otelcoltest.FreeAddr(t), otelcoltest.FreeAddr(t)
			p, err := otelcoltest.NewProcess(jaeger, t.TempDir(), jaegerConfig(otlp, query, queryGRPC), otlp, query)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Stop)

			// The shell runs true (a child process, by its path: the
			// builtin would not fork) and exits 3.
			cmd := exec.Command(procotel, "--otlp-endpoint", otlp, "--otlp-insecure", "--", "sh", "-c", truePath+"; exit 3")
			cmd.Env = withoutOTEL(os.Environ())
			if logsOff {
				cmd.Env = append(cmd.Env, "OTEL_LOGS_EXPORTER=none")
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err = cmd.Run()
			took := time.Since(start)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Errorf("procotel exit: %v; want the command's code 3", err)
			}
			msg := stderr.String()
			t.Logf("procotel ran %s:\n%s", took.Round(time.Millisecond), msg)
			if strings.Contains(msg, "deadline exceeded") {
				t.Errorf("procotel reports a deadline:\n%s", msg)
			}
			const notLogs = "does not accept logs; dropping them; set OTEL_LOGS_EXPORTER=none to stop sending logs"
			if n := strings.Count(msg, notLogs); logsOff && n != 0 || !logsOff && n != 1 {
				t.Errorf("%d lines say %q; want %d", n, notLogs, map[bool]int{false: 1, true: 0}[logsOff])
			}

			tr := waitForJaegerTrace(t, query, 2)
			checkJaegerTree(t, tr, truePath)
		})
	}
}

// withoutOTEL drops the OTEL_* variables from env.
func withoutOTEL(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OTEL_") {
			out = append(out, kv)
		}
	}
	return out
}

// waitForJaegerTrace polls the query API for up to 15 s for procotel's
// one trace with spans spans.
func waitForJaegerTrace(t *testing.T, query string, spans int) jaegerTrace {
	t.Helper()
	url := "http://" + query + "/api/traces?service=procotel&limit=20"
	var last string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		var body struct {
			Data []jaegerTrace `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			last = err.Error()
			continue
		}
		last = fmt.Sprintf("%d traces", len(body.Data))
		if len(body.Data) == 1 && len(body.Data[0].Spans) >= spans {
			return body.Data[0]
		}
		if len(body.Data) > 1 {
			t.Fatalf("%s: %d traces, want the command's one", url, len(body.Data))
		}
	}
	t.Fatalf("%s: no trace with %d spans after 15 s (%s)", url, spans, last)
	return jaegerTrace{}
}

// checkJaegerTree checks the command's trace: the shell is the root
// span, with exit code 3, and true its one child, in the same trace.
func checkJaegerTree(t *testing.T, tr jaegerTrace, truePath string) {
	t.Helper()
	if len(tr.Spans) != 2 {
		t.Fatalf("trace %s has %d spans, want 2 (sh, true)", tr.TraceID, len(tr.Spans))
	}
	sh, child := 0, 1
	if tr.tag(0, "process.executable.path") == truePath {
		sh, child = 1, 0
	}
	defer func() {
		if t.Failed() {
			for i, s := range tr.Spans {
				t.Logf("span %s %s pid %s ppid %s refs %+v", s.OperationName, s.SpanID, tr.tag(i, "process.pid"), tr.tag(i, "process.parent_pid"), s.References)
			}
		}
	}()
	if refs := tr.Spans[sh].References; len(refs) != 0 {
		t.Errorf("the shell's span has references %+v; want it to root the trace", refs)
	}
	refs := tr.Spans[child].References
	if len(refs) != 1 || refs[0].RefType != "CHILD_OF" || refs[0].SpanID != tr.Spans[sh].SpanID || refs[0].TraceID != tr.TraceID {
		t.Errorf("true's span references %+v; want CHILD_OF the shell's span %s", refs, tr.Spans[sh].SpanID)
	}
	if code := tr.tag(sh, "process.exit.code"); code != "3" {
		t.Errorf("the shell's span: process.exit.code %q, want 3", code)
	}
	if exe := tr.tag(child, "process.executable.path"); exe != truePath {
		t.Errorf("the child's span: process.executable.path %q, want %s", exe, truePath)
	}
	if code := tr.tag(child, "process.exit.code"); code != "0" {
		t.Errorf("true's span: process.exit.code %q, want 0", code)
	}
	for i, s := range tr.Spans {
		if s.TraceID != tr.TraceID {
			t.Errorf("span %d (%s) in trace %s, want %s", i, s.OperationName, s.TraceID, tr.TraceID)
		}
	}
}
