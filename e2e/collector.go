// Package e2e holds procotel's end-to-end tests and their harness: a real
// OpenTelemetry Collector built from otelcol/manifest.yaml, which receives
// OTLP from procotel and forwards it to an in-process OTLP/HTTP server
// (Forwarded) that decodes exactly what the Collector sent.
package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// builderModule is the Collector builder BuildCollector runs; its version
// matches the components in otelcol/manifest.yaml.
const builderModule = "go.opentelemetry.io/collector/cmd/builder@v0.160.0"

// collectorBinary is dist.name in the manifest.
const collectorBinary = "otelcol-procotel-e2e"

var buildMu sync.Mutex

// BuildCollector returns the path of a Collector built from
// otelcol/manifest.yaml. The binary is cached under the user cache
// directory (procotel-e2e/<manifest hash>), so only the first run pays
// for the build (a few minutes: it downloads the Collector's modules).
// It fails the test when the build fails and skips it, loudly, when no Go
// toolchain is on PATH.
func BuildCollector(t testing.TB) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()

	manifest, err := os.ReadFile(manifestPath())
	if err != nil {
		t.Fatalf("read collector manifest: %v", err)
	}
	sum := sha256.Sum256(append([]byte(builderModule+"\n"), manifest...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "procotel-e2e", hex.EncodeToString(sum[:8]))
	bin := filepath.Join(dir, collectorBinary)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("SKIP LOUDLY: building the test Collector needs the go tool on PATH: %v", err)
	}

	start := time.Now()
	work, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatalf("create collector cache: %v", err)
		}
		if work, err = os.MkdirTemp(filepath.Dir(dir), "build-"); err != nil {
			t.Fatalf("create collector build directory: %v", err)
		}
	}
	defer os.RemoveAll(work)

	run := func(name string, args []string, env ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	// Install the builder, then build the distribution into work/dist.
	run(goTool, []string{"install", builderModule}, "GOBIN="+filepath.Join(work, "bin"))
	m := bytes.Replace(manifest, []byte("output_path: ./_build"), []byte("output_path: "+filepath.Join(work, "dist")), 1)
	if bytes.Equal(m, manifest) {
		t.Fatal("collector manifest has no 'output_path: ./_build' line to redirect")
	}
	if err := os.WriteFile(filepath.Join(work, "manifest.yaml"), m, 0o644); err != nil {
		t.Fatal(err)
	}
	run(filepath.Join(work, "bin", "builder"), []string{"--config", filepath.Join(work, "manifest.yaml")})

	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create collector cache: %v", err)
	}
	if err := os.Rename(filepath.Join(work, "dist", collectorBinary), bin); err != nil {
		t.Fatalf("cache collector binary: %v", err)
	}
	t.Logf("built the test Collector in %v (cached at %s)", time.Since(start).Round(time.Second), bin)
	return bin
}

func manifestPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "otelcol", "manifest.yaml")
}

// Collector is a running test Collector: OTLP in on loopback ports,
// everything forwarded with otlp_http to a Forwarded server.
type Collector struct {
	t        testing.TB
	bin, cfg string
	// GRPCAddr and HTTPAddr are the receiver's host:port endpoints.
	GRPCAddr, HTTPAddr string

	cmd  *exec.Cmd
	done chan struct{}
	logs lockedBuffer
}

// StartCollector starts the Collector binary bin with its OTLP receiver
// on free loopback ports, forwarding to forwardURL (an http:// base URL),
// and waits until it listens. The Collector is stopped at test cleanup.
func StartCollector(t testing.TB, bin, forwardURL string) *Collector {
	t.Helper()
	c := &Collector{t: t, bin: bin, GRPCAddr: freeAddr(t), HTTPAddr: freeAddr(t)}
	cfg := fmt.Sprintf(collectorConfig, c.GRPCAddr, c.HTTPAddr, forwardURL)
	c.cfg = filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(c.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(c.Stop)
	return c
}

// The forwarding Collector. The exporter has no sending queue, so the
// Collector answers procotel only once the data reached the test server:
// nothing acknowledged can be lost inside the Collector when it stops.
const collectorConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  otlp_http:
    endpoint: %s
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
  debug:
    verbosity: basic
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlp_http, debug]
    traces:
      receivers: [otlp]
      exporters: [otlp_http, debug]
    metrics:
      receivers: [otlp]
      exporters: [otlp_http, debug]
`

// Start runs the Collector (again, after Stop) on the same ports and
// waits until both receiver ports accept connections.
func (c *Collector) Start() {
	c.t.Helper()
	if c.cmd != nil {
		c.t.Fatal("collector already running")
	}
	c.logs.Reset()
	cmd := exec.Command(c.bin, "--config", "file:"+c.cfg)
	cmd.Stdout = &c.logs
	cmd.Stderr = &c.logs
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start collector: %v", err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(c.done)

	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range []string{c.GRPCAddr, c.HTTPAddr} {
		for {
			conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-c.done:
				c.cmd = nil
				c.t.Fatalf("collector exited at start-up:\n%s", c.logs.String())
			default:
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("collector does not listen on %s: %v\n%s", addr, err, c.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Stop shuts the Collector down (SIGTERM, then SIGKILL after 10 s) and
// waits for it to exit. It does nothing when it is not running.
func (c *Collector) Stop() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
}

// Output returns what the Collector logged since its last start.
func (c *Collector) Output() string { return c.logs.String() }

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// lockedBuffer is a bytes.Buffer safe for the Collector's output copier
// and the test to use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
