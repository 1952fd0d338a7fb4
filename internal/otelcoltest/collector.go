// Package otelcoltest is the real OpenTelemetry Collector that procotel's
// end-to-end tests and the storm harness export to: one builder manifest
// (manifest.yaml: the OTLP receiver, the otlp_http and debug exporters),
// one cached build, one way to run a Collector binary with a configuration
// and wait until it listens, and Forwarded, an in-process OTLP/HTTP server
// that decodes exactly what a Collector forwarded.
package otelcoltest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// builderModule is the Collector builder Build runs; its version matches
// the components in manifest.yaml.
const builderModule = "go.opentelemetry.io/collector/cmd/builder@v0.160.0"

// collectorBinary is dist.name in the manifest.
const collectorBinary = "otelcol-procotel-e2e"

var buildMu sync.Mutex

// ErrNoGo says the go tool, which Build needs, is not on PATH.
var ErrNoGo = errors.New("building the test Collector needs the go tool on PATH")

// Cached returns the path of the Collector built from the current
// manifest, and whether it has been built.
func Cached() (string, bool) {
	bin, err := cachedPath()
	if err != nil {
		return "", false
	}
	_, err = os.Stat(bin)
	return bin, err == nil
}

func cachedPath() (string, error) {
	manifest, err := os.ReadFile(manifestPath())
	if err != nil {
		return "", fmt.Errorf("read collector manifest: %w", err)
	}
	sum := sha256.Sum256(append([]byte(builderModule+"\n"), manifest...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "procotel-e2e", hex.EncodeToString(sum[:8]), collectorBinary), nil
}

// Build returns the path of a Collector built from manifest.yaml. The
// binary is cached under the user cache directory (procotel-e2e/<manifest
// hash>), so only the first call pays for the build (a few minutes: it
// downloads the Collector's modules). logf, if not nil, is told how long a
// build took.
func Build(logf func(format string, args ...any)) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	bin, err := cachedPath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoGo, err)
	}
	manifest, err := os.ReadFile(manifestPath())
	if err != nil {
		return "", err
	}
	start := time.Now()
	dir := filepath.Dir(bin)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("create collector cache: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return "", fmt.Errorf("create collector build directory: %w", err)
	}
	defer os.RemoveAll(work)

	run := func(name string, args []string, env ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
		}
		return nil
	}
	// Install the builder, then build the distribution into work/dist.
	if err := run(goTool, []string{"install", builderModule}, "GOBIN="+filepath.Join(work, "bin")); err != nil {
		return "", err
	}
	m := bytes.Replace(manifest, []byte("output_path: ./_build"), []byte("output_path: "+filepath.Join(work, "dist")), 1)
	if bytes.Equal(m, manifest) {
		return "", errors.New("collector manifest has no 'output_path: ./_build' line to redirect")
	}
	if err := os.WriteFile(filepath.Join(work, "manifest.yaml"), m, 0o644); err != nil {
		return "", err
	}
	if err := run(filepath.Join(work, "bin", "builder"), []string{"--config", filepath.Join(work, "manifest.yaml")}); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create collector cache: %w", err)
	}
	if err := os.Rename(filepath.Join(work, "dist", collectorBinary), bin); err != nil {
		return "", fmt.Errorf("cache collector binary: %w", err)
	}
	if logf != nil {
		logf("built the test Collector in %v (cached at %s)", time.Since(start).Round(time.Second), bin)
	}
	return bin, nil
}

// BuildCollector is Build for a test: it fails the test when the build
// fails and skips it, loudly, when no Go toolchain is on PATH.
func BuildCollector(t testing.TB) string {
	t.Helper()
	bin, err := Build(t.Logf)
	if errors.Is(err, ErrNoGo) {
		t.Skipf("SKIP LOUDLY: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func manifestPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "manifest.yaml")
}

// Config is the test Collector's configuration: OTLP in on grpcAddr and
// httpAddr (host:port; httpAddr may be empty), everything to the debug
// exporter and, when forwardURL (an http:// base URL) is set, forwarded
// with otlp_http. The forwarding exporter has no sending queue, so the
// Collector answers its sender only once the data reached forwardURL:
// nothing acknowledged can be lost inside the Collector when it stops.
func Config(grpcAddr, httpAddr, forwardURL string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: %s\n", grpcAddr)
	if httpAddr != "" {
		fmt.Fprintf(&b, "      http:\n        endpoint: %s\n", httpAddr)
	}
	exporters := "[debug]"
	b.WriteString("exporters:\n  debug:\n    verbosity: basic\n")
	if forwardURL != "" {
		exporters = "[otlp_http, debug]"
		fmt.Fprintf(&b, `  otlp_http:
    endpoint: %s
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
`, forwardURL)
	}
	fmt.Fprintf(&b, `service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      exporters: %[1]s
    traces:
      receivers: [otlp]
      exporters: %[1]s
    metrics:
      receivers: [otlp]
      exporters: %[1]s
`, exporters)
	return b.String()
}

// Process is a Collector binary running with one configuration file; it
// can be stopped and started again on the same configuration.
type Process struct {
	bin, cfg string
	// listen are the addresses Start waits for.
	listen []string

	cmd  *exec.Cmd
	done chan struct{}
	out  Output
}

// NewProcess writes config to dir/collector.yaml for bin; Start runs it
// and waits until every address in listen accepts connections.
func NewProcess(bin, dir, config string, listen ...string) (*Process, error) {
	cfg := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		return nil, err
	}
	return &Process{bin: bin, cfg: cfg, listen: listen}, nil
}

// Start runs the Collector (again, after Stop) and waits up to 30 s until
// it listens.
func (p *Process) Start() error {
	if p.cmd != nil {
		return errors.New("collector already running")
	}
	p.out.Reset()
	cmd := exec.Command(p.bin, "--config", "file:"+p.cfg)
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start collector: %w", err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)

	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range p.listen {
		for {
			conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-p.done:
				p.cmd = nil
				return fmt.Errorf("collector exited at start-up:\n%s", p.out.String())
			default:
			}
			if time.Now().After(deadline) {
				p.Stop()
				return fmt.Errorf("collector does not listen on %s: %v\n%s", addr, err, p.out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Stop shuts the Collector down (SIGTERM, then SIGKILL after 10 s) and
// waits for it to exit. It does nothing when it is not running.
func (p *Process) Stop() {
	if p.cmd == nil {
		return
	}
	StopProcess(p.cmd.Process, syscall.SIGTERM, p.done, 10*time.Second)
	p.cmd = nil
}

// StopProcess sends sig to proc and waits until done is closed (when
// whoever waits for proc has seen it end); if that takes longer than
// grace, it kills proc and waits again.
func StopProcess(proc *os.Process, sig os.Signal, done <-chan struct{}, grace time.Duration) {
	_ = proc.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = proc.Kill()
		<-done
	}
}

// Kill ends the Collector with SIGKILL, as a crash would, and waits.
func (p *Process) Kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// Pid is the running Collector's pid, 0 when it is not running.
func (p *Process) Pid() int {
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Output returns what the Collector logged since its last start.
func (p *Process) Output() string { return p.out.String() }

// Collector is a running test Collector: OTLP in on loopback ports,
// everything forwarded with otlp_http to a Forwarded server.
type Collector struct {
	*Process
	t testing.TB
	// GRPCAddr and HTTPAddr are the receiver's host:port endpoints.
	GRPCAddr, HTTPAddr string
}

// StartCollector starts the Collector binary bin with its OTLP receiver
// on free loopback ports, forwarding to forwardURL (an http:// base URL),
// and waits until it listens. The Collector is stopped at test cleanup.
//
// A port found free can be taken by another test before the Collector
// binds it (test packages run in parallel): a start that fails for that
// reason is tried again on new ports, up to three times.
func StartCollector(t testing.TB, bin, forwardURL string) *Collector {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		c := &Collector{t: t, GRPCAddr: FreeAddr(t), HTTPAddr: FreeAddr(t)}
		p, err := NewProcess(bin, dir, Config(c.GRPCAddr, c.HTTPAddr, forwardURL), c.GRPCAddr, c.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.Process = p
		err = p.Start()
		if err == nil {
			t.Cleanup(c.Stop)
			return c
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// Start runs the Collector again on the same ports, failing the test if
// it does not come up.
func (c *Collector) Start() {
	c.t.Helper()
	if err := c.Process.Start(); err != nil {
		c.t.Fatal(err)
	}
}

// FreeAddr returns a loopback host:port nobody listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return addr
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// FreeLoopbackAddr is FreeAddr for code that is not a test.
func FreeLoopbackAddr() (string, error) { return freeAddr() }

// Output is a bytes.Buffer safe for a process's output copier and a
// reader to use at once.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Output) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Output) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reset empties the buffer.
func (b *Output) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
