package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// TestContainerResource runs a process that moves itself into a cgroup
// named the way the kubelet and containerd name a pod's container, then
// execs, under the real backend and exporter through a real Collector. Its
// fork (still in the host's cgroup) must arrive under the host's Resource,
// its exec and exit under the container's: the host's attributes plus
// container.id, container.runtime.name and k8s.pod.uid from the path.
func TestContainerResource(t *testing.T) {
	requireRoot(t)
	root := cgroup2Root(t)
	const podUID = "0f5a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b"
	cid := strings.Repeat("c0ffee", 10) + "beef"
	dir := filepath.Join(root, "kubepods.slice", "kubepods-besteffort.slice",
		"kubepods-besteffort-pod"+strings.ReplaceAll(podUID, "-", "_")+".slice", "cri-containerd-"+cid+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("SKIP LOUDLY: cannot create a cgroup under %s: %v", root, err)
	}
	t.Cleanup(func() {
		for d := dir; d != root; d = filepath.Dir(d) {
			_ = os.Remove(d)
		}
	})

	bin := BuildCollector(t)
	paths := lookPaths(t, "sh", "true")
	script := writeScript(t, `echo "proc box $$ $PPID"; echo $$ > "$CG/cgroup.procs" || exit 9; exec "$TRUE"`+"\n")
	fwd := StartForwarded(t)
	col := StartCollector(t, bin, fwd.URL)
	a := startAnchor(t, []string{"CG=" + dir, "TRUE=" + paths["true"]}, paths["sh"], script)
	l := startLive(t, a.PID, exporterOptions(col, "grpc", ""))
	a.Go()
	procs := parseReport(t, a.Wait(30*time.Second))
	var box *proc
	for _, p := range procs {
		if p.Role == "box" {
			box = p
		}
	}
	if box == nil {
		t.Fatalf("the workload did not report its process: %v", procs)
	}
	if !l.tee.waitEvent(10*time.Second, func(e *semconv.Event) bool {
		return e.Kind == semconv.KindExit && int64(e.Process.PID) == box.PID
	}) {
		t.Fatalf("no exit of %d; %s", box.PID, l.diag())
	}
	l.stop()
	if !fwd.WaitFor(10*time.Second, func(logs, _ int) bool { return logs >= 3 }) {
		t.Fatalf("the Collector forwarded too little")
	}

	seen := map[string]bool{}
	for _, r := range fwd.Logs() {
		pid, _ := attrInt(r.Record.Attributes, "process.pid")
		if pid != box.PID {
			continue
		}
		name := r.Record.EventName
		seen[name] = true
		cidGot := r.Resource["container.id"].GetStringValue()
		// Everything after its move: the exec of true, its exit and reap.
		inBox := name == semconv.EventNameExit || name == semconv.EventNameReap ||
			name == semconv.EventNameExec && filepath.Base(attrStr(r.Record.Attributes, "process.executable.path")) == "true"
		if inBox {
			seen[name+" in the container"] = true
		}
		switch {
		case !inBox: // its fork, and its exec of the script, were in the host's cgroup
			if cidGot != "" || r.Resource["k8s.pod.uid"] != nil {
				t.Errorf("%s (in the host's cgroup) under a container Resource: %v", name, r.Resource)
			}
		default:
			if cidGot != cid || r.Resource["k8s.pod.uid"].GetStringValue() != podUID ||
				r.Resource["container.runtime.name"].GetStringValue() != "containerd" {
				t.Errorf("%s: Resource %v, want container.id %s, k8s.pod.uid %s, runtime containerd", name, r.Resource, cid, podUID)
			}
		}
		if r.Resource["host.name"].GetStringValue() == "" || r.Resource["service.name"].GetStringValue() != "procotel" {
			t.Errorf("%s: Resource lacks the observer's attributes: %v", name, r.Resource)
		}
	}
	for _, name := range []string{semconv.EventNameFork, semconv.EventNameExec, semconv.EventNameExec + " in the container", semconv.EventNameExit} {
		if !seen[name] {
			t.Errorf("no %s record of pid %d forwarded", name, box.PID)
		}
	}
	var spanRes map[string]string
	for _, s := range fwd.Spans() {
		if pid, _ := attrInt(s.Span.Attributes, "process.pid"); pid == box.PID {
			spanRes = map[string]string{"container.id": s.Resource["container.id"].GetStringValue(), "k8s.pod.uid": s.Resource["k8s.pod.uid"].GetStringValue()}
		}
	}
	if spanRes["container.id"] != cid || spanRes["k8s.pod.uid"] != podUID {
		t.Errorf("span of %d under Resource %v, want the container's", box.PID, spanRes)
	}
}

// cgroup2Root is where the unified cgroup hierarchy is mounted.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	t.Skip("SKIP LOUDLY: no cgroup v2 hierarchy mounted; container ids come from cgroup v2 paths")
	return ""
}
