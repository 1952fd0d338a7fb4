package packaging

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"gopkg.in/yaml.v3"

	"github.com/procotel/procotel/collector"
	"github.com/procotel/procotel/config"
)

// manifest is one Kubernetes YAML file: its documents by kind and name.
type manifest map[string]map[string]any

func loadManifest(t *testing.T, path string) manifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := manifest{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc == nil {
			continue
		}
		kind, _ := doc["kind"].(string)
		name, _ := dig(doc, "metadata", "name").(string)
		if kind == "" || name == "" {
			t.Fatalf("%s: a document without kind or metadata.name", path)
		}
		m[kind+"/"+name] = doc
	}
	return m
}

func (m manifest) get(t *testing.T, kindName string) map[string]any {
	t.Helper()
	d, ok := m[kindName]
	if !ok {
		t.Fatalf("no %s", kindName)
	}
	return d
}

// dig walks maps by key and lists by int index; nil where the path ends.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// checkNodeAgent checks what any pod running procotel on a node needs:
// the host's pid namespace, the unit's capabilities, /sys/kernel and the
// cgroup tree from the host, and resource requests and limits. It returns
// the container.
func checkNodeAgent(t *testing.T, ds map[string]any) map[string]any {
	t.Helper()
	pod := dig(ds, "spec", "template", "spec")
	if dig(pod, "hostPID") != true {
		t.Error("hostPID is not true: procotel would see only its own pod's processes")
	}
	c, _ := dig(pod, "containers", 0).(map[string]any)
	if c == nil {
		t.Fatal("no container")
	}
	sc := dig(c, "securityContext")
	if dig(sc, "privileged") != true {
		var want []string
		for _, cp := range unitCaps(t) {
			want = append(want, strings.ToUpper(cp))
		}
		got := strs(dig(sc, "capabilities", "add"))
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("capabilities.add %v, want the systemd unit's %v", got, want)
		}
		if !slices.Contains(strs(dig(sc, "capabilities", "drop")), "ALL") {
			t.Error("capabilities.drop lacks ALL")
		}
	}
	hostPaths := map[string]string{}
	vols, _ := dig(pod, "volumes").([]any)
	for _, v := range vols {
		if p, ok := dig(v, "hostPath", "path").(string); ok {
			hostPaths[dig(v, "name").(string)] = p
		}
	}
	mounts := map[string]string{}
	ms, _ := dig(c, "volumeMounts").([]any)
	for _, m := range ms {
		mounts[dig(m, "mountPath").(string)] = dig(m, "name").(string)
	}
	for _, path := range []string{"/sys/kernel", "/sys/fs/cgroup"} {
		if hostPaths[mounts[path]] != path {
			t.Errorf("%s is not the host's %s (mount %q, hostPath %q)", path, path, mounts[path], hostPaths[mounts[path]])
		}
	}
	for _, kind := range []string{"requests", "limits"} {
		for _, res := range []string{"cpu", "memory"} {
			if dig(c, "resources", kind, res) == nil {
				t.Errorf("resources.%s.%s is not set", kind, res)
			}
		}
	}
	return c
}

func envOf(c map[string]any) map[string]map[string]any {
	env := map[string]map[string]any{}
	l, _ := dig(c, "env").([]any)
	for _, e := range l {
		m, _ := e.(map[string]any)
		env[m["name"].(string)] = m
	}
	return env
}

// TestKubernetesDaemonSet checks daemonset.yaml: a node agent whose
// configuration procotel loads and whose OTLP goes to the node's Collector.
func TestKubernetesDaemonSet(t *testing.T) {
	m := loadManifest(t, "kubernetes/daemonset.yaml")
	c := checkNodeAgent(t, m.get(t, "DaemonSet/procotel"))

	env := envOf(c)
	if dig(env["NODE_IP"], "valueFrom", "fieldRef", "fieldPath") != "status.hostIP" {
		t.Error("NODE_IP is not the node's IP (fieldRef status.hostIP)")
	}
	endpoint, _ := env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].(string)
	if !strings.Contains(endpoint, "$(NODE_IP)") {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q does not point at the node", endpoint)
	}

	// The ConfigMap's file, as procotel loads it in the pod: --config,
	// then the environment, with Kubernetes' $(VAR) expansion done.
	args := strs(c["args"])
	i := slices.Index(args, "--config")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("args %v: no --config", args)
	}
	file := filepath.Base(args[i+1])
	text, _ := dig(m.get(t, "ConfigMap/procotel"), "data", file).(string)
	if text == "" {
		t.Fatalf("ConfigMap procotel has no %s (the --config file)", file)
	}
	path := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := config.LoadFile(&cfg, path); err != nil {
		t.Fatal(err)
	}
	podEnv := map[string]string{"NODE_IP": "10.0.0.7", "K8S_NODE_NAME": "node-a"}
	for name, e := range env {
		if v, ok := e["value"].(string); ok {
			podEnv[name] = os.Expand(strings.NewReplacer("$(", "${", ")", "}").Replace(v), func(k string) string { return podEnv[k] })
		}
	}
	if err := config.ApplyEnv(&cfg, func(k string) string { return podEnv[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("procotel.yaml with the pod's environment: %v", err)
	}
	if cfg.OTLP.Endpoint != "http://10.0.0.7:4317" {
		t.Errorf("otlp.endpoint %q, want the node's Collector (http://10.0.0.7:4317)", cfg.OTLP.Endpoint)
	}
	if cfg.Resource["k8s.node.name"] != "node-a" {
		t.Errorf("resource %v lacks k8s.node.name=node-a", cfg.Resource)
	}
}

// TestKubernetesCollectorAgent checks collector-agent.yaml: the Collector
// configuration names the procotel receiver as its factory does and
// validates with it, pods are found by container.id, and the DaemonSet
// gives the receiver what procotel needs.
func TestKubernetesCollectorAgent(t *testing.T) {
	m := loadManifest(t, "kubernetes/collector-agent.yaml")
	ds := m.get(t, "DaemonSet/otelcol-procotel")
	c := checkNodeAgent(t, ds)

	text, _ := dig(m.get(t, "ConfigMap/otelcol-procotel"), "data", "config.yaml").(string)
	var conf map[string]any
	if err := yaml.Unmarshal([]byte(text), &conf); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	factory := collector.NewFactory()
	receiver := factory.Type().String()
	section, ok := dig(conf, "receivers", receiver).(map[string]any)
	if !ok {
		t.Fatalf("receivers has no %q (the procotel factory's type)", receiver)
	}
	rc := factory.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(section).Unmarshal(rc); err != nil {
		t.Fatalf("receivers.%s: %v", receiver, err)
	}
	if err := confmap.Validate(rc); err != nil {
		t.Fatalf("receivers.%s: %v", receiver, err)
	}

	// Every component a pipeline names is defined, and procotel's records
	// are associated with their pods by the Resource the receiver gives them.
	for _, signal := range []string{"logs", "traces"} {
		p := dig(conf, "service", "pipelines", signal)
		if !slices.Contains(strs(dig(p, "receivers")), receiver) {
			t.Errorf("pipeline %s does not receive from %s", signal, receiver)
		}
		for _, kind := range []string{"receivers", "processors", "exporters"} {
			for _, id := range strs(dig(p, kind)) {
				if _, ok := dig(conf, kind).(map[string]any)[id]; !ok {
					t.Errorf("pipeline %s names %s %q, which is not defined", signal, kind, id)
				}
			}
		}
		// The receiver puts container.id on the Resource itself: the pod
		// association needs no grouping step before it.
		if procs := strs(dig(p, "processors")); !slices.Contains(procs, "k8s_attributes") {
			t.Errorf("pipeline %s processors %v: want k8s_attributes", signal, procs)
		}
	}
	var assoc []string
	rules, _ := dig(conf, "processors", "k8s_attributes", "pod_association").([]any)
	for _, r := range rules {
		srcs, _ := dig(r, "sources").([]any)
		for _, s := range srcs {
			if dig(s, "from") == "resource_attribute" {
				assoc = append(assoc, dig(s, "name").(string))
			}
		}
	}
	if len(assoc) == 0 || assoc[0] != "container.id" || !slices.Contains(assoc, "k8s.pod.uid") {
		t.Errorf("k8s_attributes associates by %v, want container.id first, then k8s.pod.uid", assoc)
	}
	node, _ := dig(conf, "processors", "k8s_attributes", "filter", "node_from_env_var").(string)
	if _, ok := envOf(c)[node]; node == "" || !ok {
		t.Errorf("k8s_attributes filters by node from $%s, which the container does not set", node)
	}
	// daemonset.yaml sends to the node's port 4317: the agent listens there.
	var hostPorts []int
	ports, _ := dig(c, "ports").([]any)
	for _, p := range ports {
		if hp, ok := dig(p, "hostPort").(int); ok {
			hostPorts = append(hostPorts, hp)
		}
	}
	if !slices.Contains(hostPorts, 4317) {
		t.Errorf("hostPorts %v lack 4317, where daemonset.yaml sends OTLP", hostPorts)
	}
	if sa := dig(ds, "spec", "template", "spec", "serviceAccountName"); sa != "otelcol-procotel" {
		t.Errorf("serviceAccountName %v: k8sattributes needs the account the ClusterRole is bound to", sa)
	}
}
