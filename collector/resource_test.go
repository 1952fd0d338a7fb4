package collector

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/procotel/procotel/semconv"
)

// TestOneResourcePerContainer feeds the sink a host process and two
// processes in one Kubernetes container, and checks each batch carries
// them under their own Resource: the container's with container.id and
// k8s.pod.uid on top of the observer's attributes, the host's without.
func TestOneResourcePerContainer(t *testing.T) {
	const podUID = "0f5a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b"
	const cid = "4c3f5e6d7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"
	var mu sync.Mutex
	var logBatches []plog.Logs
	var spanBatches []ptrace.Traces
	logs := newDeliverer(8, time.Second, func(ld plog.Logs) int { return ld.LogRecordCount() },
		func(_ context.Context, ld plog.Logs) error {
			mu.Lock()
			logBatches = append(logBatches, ld)
			mu.Unlock()
			return nil
		})
	traces := newDeliverer(8, time.Second, func(td ptrace.Traces) int { return td.SpanCount() },
		func(_ context.Context, td ptrace.Traces) error {
			mu.Lock()
			spanBatches = append(spanBatches, td)
			mu.Unlock()
			return nil
		})
	res := semconv.ResourceAttributes(semconv.Observer{OS: semconv.OSLinux, HostName: "node-1"}, nil)
	s := newPdataSink("resource-test", res, "test", Delivery{FlushInterval: time.Hour, MaxBatch: 100, QueueSize: 8, RetryFor: time.Second}, logs, traces)

	now := time.Now()
	host := semconv.Process{PID: 10, TID: 10, PPID: 1, Start: 1e9, PGID: 10, Comm: "bash"}
	inPod := func(pid int32) semconv.Process {
		return semconv.Process{PID: pid, TID: pid, PPID: 10, Start: uint64(pid) * 1e9, PGID: 20, Comm: "nginx",
			ContainerID: cid, ContainerName: "web", ContainerRuntime: "containerd",
			CgroupPath: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f5a6b1c_2d3e_4f50_8a9b_0c1d2e3f4a5b.slice/cri-containerd-" + cid + ".scope"}
	}
	for _, p := range []semconv.Process{host, inPod(20), inPod(21)} {
		e := semconv.Event{Kind: semconv.KindExit, Time: now, BootNS: p.Start + 1e9, OS: semconv.OSLinux, Process: p}
		s.Event(&e)
		l := semconv.Lifetime{Process: p, Start: now.Add(-time.Second), End: now, Exited: true}
		s.Lifetime(&l)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := logs.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := traces.close(context.Background()); err != nil {
		t.Fatal(err)
	}

	check := func(signal string, resources map[string][]int64, host string) {
		t.Helper()
		if len(resources) != 2 {
			t.Fatalf("%s: %d resources, want 2 (host and container): %v", signal, len(resources), resources)
		}
		if got := resources[host]; len(got) != 1 || got[0] != 10 {
			t.Errorf("%s: host resource holds %v, want [10]", signal, got)
		}
		if got := resources[cid+"/"+podUID]; len(got) != 2 {
			t.Errorf("%s: container resource holds %v, want [20 21]", signal, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	byRes := map[string][]int64{}
	for _, ld := range logBatches {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			key := resourceKey(t, rl.Resource().Attributes().AsRaw())
			recs := rl.ScopeLogs().At(0).LogRecords()
			for j := 0; j < recs.Len(); j++ {
				pid, _ := recs.At(j).Attributes().Get("process.pid")
				byRes[key] = append(byRes[key], pid.Int())
			}
		}
	}
	check("logs", byRes, "host")
	byRes = map[string][]int64{}
	for _, td := range spanBatches {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			key := resourceKey(t, rs.Resource().Attributes().AsRaw())
			spans := rs.ScopeSpans().At(0).Spans()
			for j := 0; j < spans.Len(); j++ {
				pid, _ := spans.At(j).Attributes().Get("process.pid")
				byRes[key] = append(byRes[key], pid.Int())
			}
		}
	}
	check("traces", byRes, "host")
}

// resourceKey names a resource "host" or "<container.id>/<k8s.pod.uid>",
// checking the observer's attributes are on every one.
func resourceKey(t *testing.T, attrs map[string]any) string {
	t.Helper()
	if attrs["host.name"] != "node-1" || attrs["service.name"] != "procotel" {
		t.Errorf("resource lacks the observer's attributes: %v", attrs)
	}
	cid, _ := attrs["container.id"].(string)
	if cid == "" {
		if _, ok := attrs["k8s.pod.uid"]; ok {
			t.Errorf("host resource with a pod uid: %v", attrs)
		}
		return "host"
	}
	uid, _ := attrs["k8s.pod.uid"].(string)
	return cid + "/" + uid
}
