//go:build linux

package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/procotel/procotel/internal/otelcoltest"
)

// TestDurableDelivery runs otelcol-procotel with collector/otelcol-procotel/
// durable.yaml through a back-end outage and a crash of the Collector, and
// checks what arrived against the processes the test ran:
//
//  1. workload A while the back end is up (it must arrive before step 2);
//  2. the back end stops: an outage;
//  3. workload B, whose records and spans wait in the exporter's queue;
//  4. the distribution is killed with SIGKILL and started again on the
//     same storage directory;
//  5. workload C, queued behind B;
//  6. the back end starts again on the same port.
//
// With the queue on file_storage every process of A, B and C must arrive
// (at least once: requests in flight at the SIGKILL are sent again, and
// the duplicates are counted and logged). With the same configuration but
// a memory queue, B must be lost, which shows the first run can fail.
//
// The test copy of durable.yaml retries every 100 ms up to 1 s, so the
// queue drains within seconds of the back end's return. With durable.yaml's
// own settings a real drain after a long outage takes about two minutes:
// besides the exporter's retry backoff (up to 30 s), the gRPC connection's
// reconnect backoff grows while the back end is away, to 120 s plus
// jitter, about 144 s, and the first export waits for the next reconnect.
func TestDurableDelivery(t *testing.T) {
	requireRoot(t)
	bin := buildDistribution(t)
	backEnd := otelcoltest.BuildCollector(t)
	durable, err := os.ReadFile(filepath.Join(repoRoot(), "collector", "otelcol-procotel", "durable.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("file_storage", func(t *testing.T) {
		got := runOutage(t, bin, backEnd, durable, true)
		for _, w := range []string{"A", "B", "C"} {
			got.requireArrived(t, w)
		}
		got.checkIDs(t, "A", "B", "C")
		got.logDuplicates(t)
	})
	t.Run("memory_queue", func(t *testing.T) {
		got := runOutage(t, bin, backEnd, durable, false)
		got.requireArrived(t, "A")
		got.requireArrived(t, "C")
		got.checkIDs(t, "A", "C")
		if n := got.arrivedOf("B"); n != 0 {
			t.Errorf("memory queue: %d of workload B's log records and spans arrived, want 0: what was queued in memory at the SIGKILL must be lost", n)
		}
		got.logDuplicates(t)
	})
}

// outageRun is what one run of the scenario ran and what arrived.
type outageRun struct {
	want    map[string]map[int64]*expected // workload (A, B, C) → pid → process
	logs    []otelcoltest.Log
	spans   []otelcoltest.Span
	drained time.Duration // back end's restart to the last awaited arrival
}

// Settling times: records and spans of a workload reach the exporter's
// queue within the receiver's flush interval (100 ms in the test copy)
// after the last reap; these leave ten times that.
const (
	queueSettle = time.Second
	drainWait   = 60 * time.Second
)

// runOutage runs the scenario once, with the exporter's queue on
// file_storage (persistent) or in memory, and returns what the back end
// forwarded.
func runOutage(t *testing.T, bin, backEndBin string, durable []byte, persistent bool) *outageRun {
	fwd := otelcoltest.StartForwarded(t)
	back := otelcoltest.StartCollector(t, backEndBin, fwd.URL)
	cfg := durableTestConfig(t, durable, back.GRPCAddr, filepath.Join(t.TempDir(), "queue"), persistent)
	dist, err := otelcoltest.NewProcess(bin, t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dist.Stop)
	startDistribution(t, dist)

	boot := bootID(t)
	run := &outageRun{want: map[string]map[int64]*expected{}}
	workload := func(name string) {
		run.want[name] = expectations(t, runWorkload(t), boot)
	}

	workload("A")
	if !fwd.WaitFor(20*time.Second, func(int, int) bool { return run.complete(fwd, "A") }) {
		t.Fatalf("workload A did not arrive while the back end was up:\n%s", dist.Output())
	}

	back.Stop()
	workload("B")
	time.Sleep(queueSettle)
	dist.Kill()

	startDistribution(t, dist)
	workload("C")
	time.Sleep(queueSettle)

	back.Start()
	start := time.Now()
	awaited := []string{"A", "B", "C"}
	if !persistent {
		awaited = []string{"A", "C"}
	}
	ok := fwd.WaitFor(drainWait, func(int, int) bool {
		for _, w := range awaited {
			if !run.complete(fwd, w) {
				return false
			}
		}
		return true
	})
	run.drained = time.Since(start)
	if ok && !persistent {
		// B, had it survived, was queued before C: give it as long again
		// as C took, at least a second, before calling it lost.
		time.Sleep(max(run.drained, time.Second))
	}
	run.logs, run.spans = fwd.Logs(), fwd.Spans()
	t.Logf("awaited workloads %v arrived %v %v after the back end's return (%d log records, %d spans forwarded)",
		awaited, ok, run.drained.Round(10*time.Millisecond), len(run.logs), len(run.spans))
	if !ok {
		t.Logf("otelcol-procotel since its restart:\n%s", dist.Output())
	}
	return run
}

// startDistribution starts (or restarts) the distribution and waits until
// its procotel receiver runs.
func startDistribution(t *testing.T, dist *otelcoltest.Process) {
	t.Helper()
	if err := dist.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(dist.Output(), "procotel receiver started") {
		if dist.Pid() == 0 || time.Now().After(deadline) {
			t.Fatalf("otelcol-procotel did not start its receiver:\n%s", dist.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// durableTestConfig is durable.yaml for the test: the eBPF backend limited
// to the test's descendants, a flush every 100 ms, the file_storage
// directory at storageDir, the exporter sending to the back end at
// grpcAddr and retrying every 100 ms up to 1 s, the Collector's own
// logs at info (startDistribution waits for one) and no metrics
// endpoint. Without persistent the sending queue is in memory. It fails
// the test when durable.yaml lost what makes it durable.
func durableTestConfig(t *testing.T, durable []byte, grpcAddr, storageDir string, persistent bool) string {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(durable, &cfg); err != nil {
		t.Fatalf("durable.yaml: %v", err)
	}
	section := func(path ...string) map[string]any {
		m := cfg
		for _, k := range path {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		return m
	}
	queue := section("exporters", "otlp_grpc", "sending_queue")
	retry := section("exporters", "otlp_grpc", "retry_on_failure")
	if queue["storage"] != "file_storage" || queue["enabled"] != true {
		t.Fatalf("durable.yaml: exporters.otlp_grpc.sending_queue is %v, want enabled with storage: file_storage", queue)
	}
	if retry["max_elapsed_time"] != 0 || retry["enabled"] != true {
		t.Fatalf("durable.yaml: exporters.otlp_grpc.retry_on_failure is %v, want enabled with max_elapsed_time: 0", retry)
	}

	storage := section("extensions", "file_storage")
	storage["directory"] = storageDir
	section("extensions", "file_storage", "compaction")["directory"] = storageDir
	receiver := section("receivers", "procotel")
	receiver["backend"] = "ebpf"
	receiver["filter"] = fmt.Sprintf("pid=%[1]d+ pid!=%[1]d", os.Getpid())
	section("receivers", "procotel", "delivery")["flush_interval"] = "100ms"
	section("exporters", "otlp_grpc")["endpoint"] = grpcAddr
	retry["initial_interval"] = "100ms"
	retry["max_interval"] = "1s"
	if !persistent {
		delete(queue, "storage")
	}
	section("service", "telemetry", "logs")["level"] = "info"
	section("service", "telemetry", "metrics")["level"] = "none"
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// complete reports whether every process of workload w has its span and
// its fork, exec and exit records at fwd.
func (r *outageRun) complete(fwd *otelcoltest.Forwarded, w string) bool {
	return len(missingOf(r.want[w], fwd.Logs(), fwd.Spans())) == 0
}

// missingOf lists what has not arrived of want's processes: "NAME (pid
// PID): span" or "…: process.exec record".
func missingOf(want map[int64]*expected, logs []otelcoltest.Log, spans []otelcoltest.Span) []string {
	spanOf := map[int64]bool{}
	for _, s := range spans {
		pid := attr(s.Span.Attributes, "process.pid").GetIntValue()
		if w, ok := want[pid]; ok && string(s.Span.SpanId) == string(w.ids.SpanID[:]) {
			spanOf[pid] = true
		}
	}
	events := map[int64]map[string]bool{}
	for _, l := range logs {
		pid := attr(l.Record.Attributes, "process.pid").GetIntValue()
		if w, ok := want[pid]; ok && string(l.Record.SpanId) == string(w.ids.SpanID[:]) {
			if events[pid] == nil {
				events[pid] = map[string]bool{}
			}
			events[pid][l.Record.EventName] = true
		}
	}
	var missing []string
	for pid, w := range want {
		if !spanOf[pid] {
			missing = append(missing, fmt.Sprintf("%s (pid %d): span", w.proc.name, pid))
		}
		for _, ev := range []string{"process.fork", "process.exec", "process.exit"} {
			if !events[pid][ev] {
				missing = append(missing, fmt.Sprintf("%s (pid %d): %s record", w.proc.name, pid, ev))
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// requireArrived fails the test unless every process of workload w
// arrived.
func (r *outageRun) requireArrived(t *testing.T, w string) {
	t.Helper()
	if m := missingOf(r.want[w], r.logs, r.spans); len(m) > 0 {
		t.Fatalf("workload %s: %d missing after %v: %s", w, len(m), r.drained.Round(time.Millisecond), strings.Join(m, ", "))
	}
}

// arrivedOf counts workload w's log records and spans that arrived.
func (r *outageRun) arrivedOf(w string) int {
	n := 0
	for _, l := range r.logs {
		if _, ok := r.want[w][attr(l.Record.Attributes, "process.pid").GetIntValue()]; ok {
			n++
		}
	}
	for _, s := range r.spans {
		if _, ok := r.want[w][attr(s.Span.Attributes, "process.pid").GetIntValue()]; ok {
			n++
		}
	}
	return n
}

// checkIDs checks, once duplicates are set aside, every arrived span and
// record of the named workloads as TestDistributionEndToEnd does: ids,
// parents, exit codes, signals, failed exec.
func (r *outageRun) checkIDs(t *testing.T, workloads ...string) {
	t.Helper()
	logs, spans := r.unique()
	for _, w := range workloads {
		checkDistributionSpans(t, r.want[w], spans)
		checkDistributionLogs(t, r.want[w], logs)
	}
}

// unique returns the forwarded log records and spans with each duplicate
// (a span with the same span id, a record with the same span id, event
// name and time) dropped.
func (r *outageRun) unique() ([]otelcoltest.Log, []otelcoltest.Span) {
	var logs []otelcoltest.Log
	seen := map[string]bool{}
	for _, l := range r.logs {
		k := logKey(l)
		if !seen[k] {
			seen[k] = true
			logs = append(logs, l)
		}
	}
	var spans []otelcoltest.Span
	for _, s := range r.spans {
		k := string(s.Span.SpanId)
		if !seen[k] {
			seen[k] = true
			spans = append(spans, s)
		}
	}
	return logs, spans
}

func logKey(l otelcoltest.Log) string {
	return fmt.Sprintf("%x %s %d", l.Record.SpanId, l.Record.EventName, l.Record.TimeUnixNano)
}

// logDuplicates logs how many of the workloads' log records and spans
// arrived more than once (at-least-once delivery allows it; the count
// is the price of the restart).
func (r *outageRun) logDuplicates(t *testing.T) {
	t.Helper()
	for _, w := range []string{"A", "B", "C"} {
		recs, spans := map[string]int{}, map[string]int{}
		for _, l := range r.logs {
			if _, ok := r.want[w][attr(l.Record.Attributes, "process.pid").GetIntValue()]; ok {
				recs[logKey(l)]++
			}
		}
		for _, s := range r.spans {
			if _, ok := r.want[w][attr(s.Span.Attributes, "process.pid").GetIntValue()]; ok {
				spans[string(s.Span.SpanId)]++
			}
		}
		dupRecs, dupSpans := 0, 0
		for _, n := range recs {
			dupRecs += n - 1
		}
		for _, n := range spans {
			dupSpans += n - 1
		}
		t.Logf("workload %s: %d distinct log records (%d duplicates), %d distinct spans (%d duplicates)", w, len(recs), dupRecs, len(spans), dupSpans)
	}
}

// builderManifest is the part of a Collector builder manifest the tests
// read.
type builderManifest struct {
	Dist struct {
		Name string `yaml:"name"`
	} `yaml:"dist"`
	Receivers  []builderModule `yaml:"receivers"`
	Processors []builderModule `yaml:"processors"`
	Exporters  []builderModule `yaml:"exporters"`
	Extensions []builderModule `yaml:"extensions"`
	Providers  []builderModule `yaml:"providers"`
}

type builderModule struct {
	GoMod string `yaml:"gomod"`
}

// modules maps each component module of m (not the providers) to its
// version.
func (m *builderManifest) modules() map[string]string {
	mods := map[string]string{}
	for _, list := range [][]builderModule{m.Receivers, m.Processors, m.Exporters, m.Extensions} {
		for _, c := range list {
			path, version, _ := strings.Cut(c.GoMod, " ")
			mods[path] = version
		}
	}
	return mods
}

func (m *builderManifest) providers() map[string]string {
	mods := map[string]string{}
	for _, c := range m.Providers {
		path, version, _ := strings.Cut(c.GoMod, " ")
		mods[path] = version
	}
	return mods
}

func readManifest(t *testing.T, rel string) *builderManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	var m builderManifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return &m
}

const procotelModule = "github.com/procotel/procotel"

// componentModules names the module of each component type a
// configuration of this repository may use, per section. A type missing
// here fails TestKubernetesManifest: add it with its module.
var componentModules = map[string]map[string]string{
	"receivers": {
		"procotel": procotelModule,
		"otlp":     "go.opentelemetry.io/collector/receiver/otlpreceiver",
	},
	"processors": {
		"batch": "go.opentelemetry.io/collector/processor/batchprocessor",
		// k8s_attributes is v0.160's name; k8sattributes, which
		// collector-agent.yaml still uses, its deprecated alias.
		"k8s_attributes": "github.com/open-telemetry/opentelemetry-collector-contrib/processor/k8sattributesprocessor",
		"k8sattributes":  "github.com/open-telemetry/opentelemetry-collector-contrib/processor/k8sattributesprocessor",
		"groupbyattrs":   "github.com/open-telemetry/opentelemetry-collector-contrib/processor/groupbyattrsprocessor",
	},
	"exporters": {
		"otlp_grpc": "go.opentelemetry.io/collector/exporter/otlpexporter",
		"otlp_http": "go.opentelemetry.io/collector/exporter/otlphttpexporter",
		"debug":     "go.opentelemetry.io/collector/exporter/debugexporter",
	},
	"extensions": {
		"file_storage": "github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage",
	},
}

// deprecatedTypes are component names v0.160 still accepts but has
// renamed.
var deprecatedTypes = map[string]string{"exporters/otlp": "otlp_grpc", "exporters/otlphttp": "otlp_http"}

// checkConfigComponents fails the test for every component a Collector
// configuration (name, its YAML text) uses that the manifest m lacks.
func checkConfigComponents(t *testing.T, name, config string, m *builderManifest) {
	t.Helper()
	var cfg map[string]map[string]any
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	mods := m.modules()
	for _, section := range []string{"receivers", "processors", "exporters", "extensions"} {
		for id := range cfg[section] {
			typ, _, _ := strings.Cut(id, "/")
			if renamed, ok := deprecatedTypes[section+"/"+typ]; ok {
				t.Errorf("%s: %s.%s is a deprecated name in v0.160; use %s", name, section, id, renamed)
				continue
			}
			mod, ok := componentModules[section][typ]
			if !ok {
				t.Errorf("%s: %s.%s: no module known for %q (add it to componentModules)", name, section, id, typ)
				continue
			}
			if _, ok := mods[mod]; !ok {
				t.Errorf("%s: %s.%s needs %s, which manifest %s does not contain", name, section, id, mod, m.Dist.Name)
			}
		}
	}
}

// agentConfig returns the Collector configuration in collector-agent.yaml's
// ConfigMap.
func agentConfig(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "packaging", "kubernetes", "collector-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("collector-agent.yaml: no ConfigMap with data config.yaml (%v)", err)
		}
		if cfg, ok := doc.Data["config.yaml"]; doc.Kind == "ConfigMap" && ok {
			return cfg
		}
	}
}

// TestKubernetesManifest checks packaging/kubernetes/manifest.yaml, the
// agent distribution the tests do not build: it contains every component
// of otelcol-procotel and every component collector-agent.yaml's
// configuration uses, at otelcol-procotel's versions. It also checks
// otelcol-procotel's own example configurations against its manifest.
func TestKubernetesManifest(t *testing.T) {
	base := readManifest(t, "collector/otelcol-procotel/manifest.yaml")
	k8s := readManifest(t, "packaging/kubernetes/manifest.yaml")

	mainMods, k8sMods := base.modules(), k8s.modules()
	// otelcol-procotel's components (other than procotel) share one
	// version, the builder's; contrib releases in step with it.
	var version string
	for mod, v := range mainMods {
		if mod == procotelModule {
			continue
		}
		if version == "" {
			version = v
		}
		if v != version {
			t.Errorf("otelcol-procotel manifest: %s is at %s, the others at %s", mod, v, version)
		}
	}
	for mod, v := range mainMods {
		if k8sv, ok := k8sMods[mod]; !ok {
			t.Errorf("kubernetes manifest lacks %s, which otelcol-procotel has", mod)
		} else if k8sv != v {
			t.Errorf("kubernetes manifest: %s %s, otelcol-procotel has %s", mod, k8sv, v)
		}
	}
	for mod, v := range k8sMods {
		if _, ok := mainMods[mod]; !ok && v != version {
			t.Errorf("kubernetes manifest: %s %s, want otelcol-procotel's version %s", mod, v, version)
		}
	}
	mainProv, k8sProv := base.providers(), k8s.providers()
	for mod, v := range mainProv {
		if k8sProv[mod] != v {
			t.Errorf("kubernetes manifest: provider %s %q, otelcol-procotel has %s", mod, k8sProv[mod], v)
		}
	}

	checkConfigComponents(t, "collector-agent.yaml", agentConfig(t), k8s)
	for _, name := range []string{"config.yaml", "durable.yaml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(), "collector", "otelcol-procotel", name))
		if err != nil {
			t.Fatal(err)
		}
		checkConfigComponents(t, name, string(b), base)
	}
}
