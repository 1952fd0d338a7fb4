//go:build linux

package collector

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/semconv"
)

// repoRoot is the root of the work tree the distribution is built from.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// buildDistribution builds otelcol-procotel with build.sh and returns its
// path. The binary is cached under the user cache directory, keyed by a
// hash of the manifest, build.sh and every Go source, object, go.mod and
// go.sum file of the work tree (the distribution compiles the receiver
// from it), so only a change pays for a build.
func buildDistribution(t *testing.T) string {
	t.Helper()
	root := repoRoot()
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "_build" || name == "bin" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		keep := name == "go.mod" || name == "go.sum" || name == "manifest.yaml" || name == "build.sh" ||
			((strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".o")) && !strings.HasSuffix(name, "_test.go"))
		if !keep {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", strings.TrimPrefix(path, root), len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatalf("hash the work tree: %v", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "procotel-otelcol", hex.EncodeToString(h.Sum(nil)[:8]), "otelcol-procotel")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("SKIP LOUDLY: building otelcol-procotel needs the go tool on PATH: %v", err)
	}
	start := time.Now()
	cmd := exec.Command("sh", filepath.Join(root, "collector", "build.sh"), bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("collector/build.sh: %v\n%s", err, out)
	}
	t.Logf("built otelcol-procotel in %v (cached at %s)", time.Since(start).Round(time.Second), bin)
	return bin
}

// The distribution's configuration: the procotel receiver, limited to the
// test's descendants, feeding the otlp_http exporter. The exporter has no
// queue, so what the test server acknowledged is what arrived.
const distributionConfig = `
receivers:
  procotel:
    backend: ebpf
    filter: "pid=%[1]d+ pid!=%[1]d"
    delivery:
      flush_interval: 100ms
exporters:
  otlp_http:
    endpoint: %[2]s
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    logs:
      level: info
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [procotel]
      exporters: [otlp_http]
    traces:
      receivers: [procotel]
      exporters: [otlp_http]
`

// workloadScripts is the ground-truth workload, one sh script per
// process. Every process reports "proc NAME PID PPID STARTTIME" (start
// time in clock ticks since boot from /proc/PID/stat, which is what the
// process identity truncates to), and each parent reports the status its
// child ended with ("status NAME CODE"):
//
//	top ─┬─ child1 (exit 0) ── grand1 (exit 4)
//	     ├─ child2 (exit 5) ── grand2 (exec of a missing file, then exits)
//	     └─ child3 (execs sleep; killed by SIGTERM from top)
var workloadScripts = map[string]string{
	"top": `sh "$D/child1"; echo "status child1 $?"
sh "$D/child2"; echo "status child2 $?"
sh "$D/child3" & c3=$!
sleep 0.3; kill -TERM $c3; wait $c3; echo "status child3 $?"
exit 0`,
	"child1": `sh "$D/grand1"; echo "status grand1 $?"; exit 0`,
	"grand1": `exit 4`,
	"child2": `sh "$D/grand2"; echo "status grand2 $?"; exit 5`,
	"grand2": `exec /nonexistent/procotel-e2e-missing`,
	"child3": `exec /usr/bin/sleep 30`,
}

// workloadParent names each process's parent ("" is the test itself).
var workloadParent = map[string]string{
	"top": "", "child1": "top", "grand1": "child1", "child2": "top", "grand2": "child2", "child3": "top",
}

// missingFile is what grand2 tries to execute.
const missingFile = "/nonexistent/procotel-e2e-missing"

// workloadProc is one process of the workload as it reported itself.
type workloadProc struct {
	name      string
	pid, ppid int32
	ticks     uint64 // start time in clock ticks since boot
	status    int    // exit status its parent saw (128+N for signal N)
}

// start is the process's start time in nanoseconds since boot, at the
// resolution of a process Key (USER_HZ = 100).
func (p workloadProc) start() uint64 { return p.ticks * uint64(semconv.StartGranularity) }

// runWorkload runs the workload as its own process group (so top roots
// its trace under the default root policy) and returns what every
// process reported.
func runWorkload(t *testing.T) map[string]*workloadProc {
	t.Helper()
	dir := t.TempDir()
	const header = `read -r s < /proc/$$/stat; set -- $s; echo "proc $NAME $1 $4 ${22}"` + "\n"
	for name, body := range workloadScripts {
		script := "NAME=" + name + "\n" + header + body + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/bin/sh", filepath.Join(dir, "top"))
	cmd.Env = append(os.Environ(), "D="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("workload: %v\n%s", err, out)
	}
	procs := map[string]*workloadProc{}
	statuses := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 5 && f[0] == "proc":
			pid, _ := strconv.Atoi(f[2])
			ppid, _ := strconv.Atoi(f[3])
			ticks, _ := strconv.ParseUint(f[4], 10, 64)
			procs[f[1]] = &workloadProc{name: f[1], pid: int32(pid), ppid: int32(ppid), ticks: ticks}
		case len(f) == 3 && f[0] == "status":
			statuses[f[1]], _ = strconv.Atoi(f[2])
		}
	}
	for name := range workloadScripts {
		p, ok := procs[name]
		if !ok || p.pid == 0 || p.ticks == 0 {
			t.Fatalf("workload: %s did not report itself:\n%s", name, out)
		}
		p.status = statuses[name]
		if par := workloadParent[name]; par != "" && procs[par] != nil && p.ppid != procs[par].pid {
			t.Fatalf("workload: %s has parent %d, want %s (%d)", name, p.ppid, par, procs[par].pid)
		}
	}
	for name, want := range map[string]int{"child1": 0, "grand1": 4, "child2": 5, "child3": 128 + int(syscall.SIGTERM)} {
		if procs[name].status != want {
			t.Fatalf("workload: %s ended with %d, want %d:\n%s", name, procs[name].status, want, out)
		}
	}
	if procs["grand2"].status == 0 {
		t.Fatalf("workload: grand2 exec of a missing file succeeded")
	}
	t.Logf("workload:\n%s", out)
	return procs
}

// expected is what the receiver must send for one workload process.
type expected struct {
	proc    *workloadProc
	ids     semconv.SpanIDs
	parent  string // parent's name, "" for top
	exeName string // span name
}

// bootID is this boot's id, which the eBPF backend salts every id with.
func bootID(t *testing.T) semconv.BootID {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return semconv.BootID(strings.TrimSpace(string(b)))
}

// selfStart returns the test process's start time in ns since boot, at
// Key resolution.
func selfStart(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ticks, err := strconv.ParseUint(f[19], 10, 64) // field 22
	if err != nil {
		t.Fatal(err)
	}
	return ticks * uint64(semconv.StartGranularity)
}

// expectations computes, with semconv.SpanContextIDs as the standalone
// exporter does, the ids of every workload process: all are in top's
// trace, each span's parent is its creator's span, and top (its own
// process group) roots the trace.
func expectations(t *testing.T, procs map[string]*workloadProc, boot semconv.BootID) map[int64]*expected {
	top := procs["top"]
	rootKey := semconv.KeyOf(top.pid, top.start())
	self := semconv.KeyOf(int32(os.Getpid()), selfStart(t))
	want := map[int64]*expected{}
	for name, p := range procs {
		sp := semconv.Process{PID: p.pid, PPID: p.ppid, Start: p.start()}
		lin := semconv.Lineage{Root: rootKey}
		if par := workloadParent[name]; par != "" {
			sp.ParentStart = procs[par].start()
			lin.Creator = semconv.KeyOf(procs[par].pid, procs[par].start())
		} else {
			sp.ParentStart = self.Start
			lin.Creator = self
		}
		exe := "dash"
		if name == "child3" {
			exe = "sleep"
		}
		if real, err := filepath.EvalSymlinks("/bin/sh"); err == nil && name != "child3" {
			exe = filepath.Base(real)
		}
		want[int64(p.pid)] = &expected{proc: p, ids: semconv.SpanContextIDs(boot, &sp, lin), parent: workloadParent[name], exeName: exe}
	}
	return want
}

func TestDistributionEndToEnd(t *testing.T) {
	requireRoot(t)
	bin := buildDistribution(t)
	fwd := otelcoltest.StartForwarded(t)

	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, distributionConfig, os.Getpid(), fwd.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	var output otelcoltest.Output
	col := exec.Command(bin, "--config", "file:"+cfgPath)
	col.Stdout, col.Stderr = &output, &output
	if err := col.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = col.Wait(); close(exited) }()
	stop := func() {
		_ = col.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = col.Process.Kill()
			<-exited
		}
	}
	defer stop()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(output.String(), "procotel receiver started") {
		select {
		case <-exited:
			t.Fatalf("otelcol-procotel exited at start-up:\n%s", output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("otelcol-procotel did not start its receiver:\n%s", output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	procs := runWorkload(t)
	want := expectations(t, procs, bootID(t))

	// Wait until every process's span arrived (the last exits at the end).
	ok := fwd.WaitFor(20*time.Second, func(int, int) bool {
		have := spansByPID(fwd.Spans())
		for pid := range want {
			if _, ok := have[pid]; !ok {
				return false
			}
		}
		return true
	})
	if !ok {
		l, s := fwd.Counts()
		t.Fatalf("forwarded %d records and %d spans, missing some of the workload's %d processes\n%s", l, s, len(want), output.String())
	}
	// Let the last records (reaps) through the flush interval.
	time.Sleep(500 * time.Millisecond)
	checkDistributionSpans(t, want, fwd.Spans())
	checkDistributionLogs(t, want, fwd.Logs())
}

func spansByPID(spans []otelcoltest.Span) map[int64]*tracepb.Span {
	m := map[int64]*tracepb.Span{}
	for _, s := range spans {
		for _, kv := range s.Span.Attributes {
			if kv.Key == "process.pid" {
				m[kv.Value.GetIntValue()] = s.Span
			}
		}
	}
	return m
}

func attr(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func checkDistributionSpans(t *testing.T, want map[int64]*expected, spans []otelcoltest.Span) {
	t.Helper()
	have := spansByPID(spans)
	for _, s := range spans {
		if v := s.Resource["service.name"]; v.GetStringValue() != "procotel" {
			t.Errorf("span resource service.name = %v", v)
		}
	}
	for pid, w := range want {
		s := have[pid]
		name := w.proc.name
		if !bytes.Equal(s.TraceId, w.ids.TraceID[:]) || !bytes.Equal(s.SpanId, w.ids.SpanID[:]) {
			t.Errorf("%s (pid %d): trace %x span %x, want %x %x (semconv.SpanContextIDs)", name, pid, s.TraceId, s.SpanId, w.ids.TraceID, w.ids.SpanID)
		}
		wantParent := w.ids.ParentSpanID[:]
		if w.parent == "" {
			wantParent = nil
		}
		if !bytes.Equal(s.ParentSpanId, wantParent) {
			t.Errorf("%s (pid %d): parent span %x, want %x (%s)", name, pid, s.ParentSpanId, wantParent, w.parent)
		}
		if w.parent != "" {
			par := have[int64(w.proc.ppid)]
			if par == nil || !bytes.Equal(s.ParentSpanId, par.SpanId) || !bytes.Equal(s.TraceId, par.TraceId) {
				t.Errorf("%s: not a child of %s's span in the same trace", name, w.parent)
			}
		}
		if w.parent == "" && (len(s.Links) != 1 || !bytes.Equal(s.Links[0].SpanId, w.ids.LinkSpanID[:])) {
			t.Errorf("top: links %v, want one to the test process's span %x", s.Links, w.ids.LinkSpanID)
		}
		if s.Name != w.exeName || s.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
			t.Errorf("%s: span name %q kind %v, want %q", name, s.Name, s.Kind, w.exeName)
		}
		st := w.proc.status
		if name == "top" {
			st = 0
		}
		switch {
		case name == "child3":
			if v := attr(s.Attributes, "procotel.exit.signal_name"); v.GetStringValue() != "SIGTERM" ||
				s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || s.Status.GetMessage() != "killed by SIGTERM" {
				t.Errorf("child3: signal %v, status %v", v, s.Status)
			}
		default:
			if v := attr(s.Attributes, "process.exit.code"); v == nil || v.GetIntValue() != int64(st) {
				t.Errorf("%s: process.exit.code %v, want %d", name, v, st)
			}
			wantCode := tracepb.Status_STATUS_CODE_UNSET
			if st != 0 {
				wantCode = tracepb.Status_STATUS_CODE_ERROR
			}
			if s.Status.GetCode() != wantCode {
				t.Errorf("%s: status %v, want %v", name, s.Status, wantCode)
			}
		}
		if v := attr(s.Attributes, "process.parent_pid"); v.GetIntValue() != int64(w.proc.ppid) {
			t.Errorf("%s: process.parent_pid %v, want %d", name, v, w.proc.ppid)
		}
	}
}

func checkDistributionLogs(t *testing.T, want map[int64]*expected, logs []otelcoltest.Log) {
	t.Helper()
	seen := map[int64]map[string]int{}
	for _, l := range logs {
		r := l.Record
		pid := attr(r.Attributes, "process.pid").GetIntValue()
		w, ok := want[pid]
		if !ok {
			continue
		}
		if seen[pid] == nil {
			seen[pid] = map[string]int{}
		}
		seen[pid][r.EventName]++
		// top's fork happened before it made itself a process-group
		// leader, so its fork record is still in its creator's trace (the
		// pipeline decides a root at the first exec); its span id is
		// top's all the same.
		forkOfTop := w.proc.name == "top" && r.EventName == "process.fork"
		if (!forkOfTop && !bytes.Equal(r.TraceId, w.ids.TraceID[:])) || !bytes.Equal(r.SpanId, w.ids.SpanID[:]) {
			t.Errorf("%s record of %s: trace %x span %x, want %x %x", r.EventName, w.proc.name, r.TraceId, r.SpanId, w.ids.TraceID, w.ids.SpanID)
		}
		switch r.EventName {
		case "process.exec_failed":
			if w.proc.name != "grand2" || attr(r.Attributes, "procotel.exec.errno_name").GetStringValue() != "ENOENT" ||
				attr(r.Attributes, "procotel.exec.filename").GetStringValue() != missingFile {
				t.Errorf("exec_failed of %s: %s %s", w.proc.name, attr(r.Attributes, "procotel.exec.filename"), attr(r.Attributes, "procotel.exec.errno_name"))
			}
		case "process.signal":
			if w.proc.name == "child3" && attr(r.Attributes, "procotel.signal.name").GetStringValue() == "SIGTERM" &&
				attr(r.Attributes, "procotel.signal.sender.pid").GetIntValue() != int64(want[int64(w.proc.ppid)].proc.pid) {
				t.Errorf("SIGTERM to child3 not from top: %v", r.Attributes)
			}
		}
	}
	for pid, w := range want {
		for _, ev := range []string{"process.fork", "process.exec", "process.exit"} {
			if seen[pid][ev] == 0 {
				t.Errorf("no %s record for %s (pid %d); saw %v", ev, w.proc.name, pid, seen[pid])
			}
		}
		if w.proc.name == "grand2" && seen[pid]["process.exec_failed"] != 1 {
			t.Errorf("grand2: %d exec_failed records, want 1", seen[pid]["process.exec_failed"])
		}
		if w.proc.name == "child3" && seen[pid]["process.signal"] == 0 {
			t.Errorf("child3: no signal record")
		}
	}
}
