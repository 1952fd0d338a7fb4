package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/collector"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/semconv"
)

// TestOneShape plays one recording through the standalone exporter and
// through the Collector receiver and compares the decoded OTLP field by
// field, resource by resource: identical but for the observed time. The
// recording has a host shell job with an unsampled TRACEPARENT, a failed
// exec, a process killed by a signal, and a process in a Kubernetes
// container, so flags, links, statuses and Resources are all exercised.
func TestOneShape(t *testing.T) {
	path := shapeRecording(t)

	// The standalone exporter, over OTLP/HTTP to a capturing server.
	var mu sync.Mutex
	bodies := map[string][][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.URL.Path] = append(bodies[r.URL.Path], b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	rc := config.DefaultReceiver()
	rc.Backend = "replay:" + path
	rc.Traces.Traceparent = true
	plan, err := agent.NewPlan(rc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.Open(context.Background(), plan, agent.Factories())
	if err != nil {
		t.Fatal(err)
	}
	caps := a.Capabilities()
	exp, err := export.New(context.Background(), export.Options{
		Endpoint: srv.URL, Protocol: export.ProtocolHTTP, Logs: true, Traces: true,
		Observer: agent.Observer(caps.OS, ""), Boot: caps.Boot, Messages: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Run(exp)
	<-a.Ended()
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The receiver, into consumer sinks.
	f := collector.NewFactory()
	cfg := f.CreateDefaultConfig().(*collector.Config)
	cfg.Receiver = rc
	cfg.Delivery.FlushInterval = 10 * time.Millisecond
	set := receivertest.NewNopSettings(f.Type())
	logs, traces := new(consumertest.LogsSink), new(consumertest.TracesSink)
	lr, err := f.CreateLogs(context.Background(), set, cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := f.CreateTraces(context.Background(), set, cfg, traces)
	if err != nil {
		t.Fatal(err)
	}
	host := componenttest.NewNopHost()
	if err := lr.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	wantLogs := countRecords(otelcoltest.LogsByResource(t, bodies["/v1/logs"], true))
	wantSpans := countSpans(otelcoltest.SpansByResource(t, bodies["/v1/traces"]))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if logs.LogRecordCount() >= wantLogs && traces.SpanCount() >= wantSpans {
			break
		}
	}
	if err := lr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var recvLogs, recvSpans [][]byte
	for _, ld := range logs.AllLogs() {
		b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		recvLogs = append(recvLogs, b)
	}
	for _, td := range traces.AllTraces() {
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		recvSpans = append(recvSpans, b)
	}

	exported, received := otelcoltest.LogsByResource(t, bodies["/v1/logs"], true), otelcoltest.LogsByResource(t, recvLogs, true)
	if wantLogs < 10 || len(exported) != 2 {
		t.Fatalf("the exporter sent %d records under %d resources; the recording makes more, under 2", wantLogs, len(exported))
	}
	if len(received) != len(exported) {
		t.Fatalf("receiver: %d log resources, exporter %d", len(received), len(exported))
	}
	for key, want := range exported {
		if got := received[key]; !proto.Equal(want, got) {
			t.Errorf("log records differ:\nreceiver %v\nexporter %v", got, want)
		}
	}
	exportedSpans, receivedSpans := otelcoltest.SpansByResource(t, bodies["/v1/traces"]), otelcoltest.SpansByResource(t, recvSpans)
	if wantSpans < 4 || len(exportedSpans) != 2 {
		t.Fatalf("the exporter sent %d spans under %d resources", wantSpans, len(exportedSpans))
	}
	if len(receivedSpans) != len(exportedSpans) {
		t.Fatalf("receiver: %d span resources, exporter %d", len(receivedSpans), len(exportedSpans))
	}
	for key, want := range exportedSpans {
		if got := receivedSpans[key]; !proto.Equal(want, got) {
			t.Errorf("spans differ:\nreceiver %v\nexporter %v", got, want)
		}
	}
}

// shapeRecording writes the workload: bash (seeded) forks sh, which has an
// unsampled TRACEPARENT and runs make; make fails an exec and exits 2; cc
// is killed by SIGTERM; nginx runs in a Kubernetes container and exits 0.
func shapeRecording(t *testing.T) string {
	t.Helper()
	clock := semconv.Clock{BootWall: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "shape.jsonl")
	var events []semconv.Event
	creds := semconv.Creds{UID: 1000, EUID: 1000, GID: 1000, EGID: 1000}
	mk := func(pid, ppid int32, startS, parentS float64, pgid int32, exe string, argv ...string) semconv.Process {
		return semconv.Process{PID: pid, TID: pid, PPID: ppid, Start: uint64(startS * 1e9), ParentStart: uint64(parentS * 1e9),
			Creds: creds, PGID: pgid, SID: 900, Comm: filepath.Base(exe), Exe: exe, Argv: argv, Cwd: "/src"}
	}
	write := func(k semconv.Kind, atS float64, p semconv.Process, fill func(*semconv.Event)) {
		ns := uint64(atS * 1e9)
		e := semconv.Event{Kind: k, Time: clock.Wall(ns), BootNS: ns, CPU: 0, OS: semconv.OSLinux, Process: p}
		if fill != nil {
			fill(&e)
		}
		events = append(events, e)
	}
	bash := mk(900, 1, 100, 0.5, 900, "/usr/bin/bash", "-bash")
	sh := mk(1000, 900, 200, 100, 1000, "/bin/sh", "sh", "-c", "make")
	mkp := mk(1001, 1000, 201, 200, 1000, "/usr/bin/make", "make", "--password=hunter2")
	cc := mk(1002, 1001, 202, 201, 1000, "/usr/bin/cc", "cc", "-c", "x.c")
	ng := mk(1100, 900, 210, 100, 1100, "/usr/sbin/nginx", "nginx")
	ng.ContainerID, ng.ContainerName, ng.ContainerRuntime = strings.Repeat("ab", 32), "web", "containerd"
	ng.CgroupPath = "/kubepods/besteffort/pod0f5a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b/" + ng.ContainerID
	forked := func(child, parent semconv.Process) semconv.Process {
		child.Comm, child.Exe, child.Argv = parent.Comm, parent.Exe, parent.Argv
		return child
	}
	execOf := func(p semconv.Process) func(*semconv.Event) {
		return func(e *semconv.Event) { e.Exec.Filename, e.Exec.Argv = p.Exe, p.Argv }
	}
	write(semconv.KindExisting, 150, bash, nil)
	write(semconv.KindFork, 200, forked(sh, bash), nil)
	write(semconv.KindExec, 200.01, sh, func(e *semconv.Event) {
		e.Exec.Filename, e.Exec.Argv = sh.Exe, sh.Argv
		e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	})
	write(semconv.KindFork, 201, forked(mkp, sh), nil)
	write(semconv.KindExec, 201.01, mkp, execOf(mkp))
	write(semconv.KindExecFailed, 201.5, mkp, func(e *semconv.Event) {
		e.Exec = semconv.ExecInfo{Filename: "/no/such", Argv: []string{"/no/such"}, Errno: 2}
	})
	write(semconv.KindFork, 202, forked(cc, mkp), nil)
	write(semconv.KindExec, 202.01, cc, execOf(cc))
	write(semconv.KindSignal, 203, cc, func(e *semconv.Event) {
		e.Signal = semconv.SignalInfo{Signo: 15, SenderPID: 1001, SenderComm: "make", TargetTID: 1002}
	})
	write(semconv.KindExit, 203.1, cc, func(e *semconv.Event) { e.Exit.Signal = 15 })
	write(semconv.KindReap, 203.2, cc, func(e *semconv.Event) { e.Reap.ReaperPID = 1001 })
	write(semconv.KindExit, 204, mkp, func(e *semconv.Event) { e.Exit.Code = 2 })
	write(semconv.KindReap, 204.1, mkp, func(e *semconv.Event) { e.Reap.ReaperPID = 1000 })
	write(semconv.KindFork, 210, forked(ng, bash), nil)
	write(semconv.KindExec, 210.01, ng, execOf(ng))
	write(semconv.KindExit, 211, ng, nil)
	write(semconv.KindReap, 211.1, ng, func(e *semconv.Event) { e.Reap.ReaperPID = 900 })
	write(semconv.KindExit, 212, sh, nil)
	write(semconv.KindReap, 212.1, sh, func(e *semconv.Event) { e.Reap.ReaperPID = 900 })
	caps := backends.Capabilities{OS: semconv.OSLinux, Boot: "shape-boot", Clock: clock}
	if err := replay.WriteFile(path, "shape", caps, events, backends.Stats{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func countRecords(m map[string]*logspb.ResourceLogs) int {
	n := 0
	for _, rl := range m {
		n += len(rl.ScopeLogs[0].LogRecords)
	}
	return n
}

func countSpans(m map[string]*tracepb.ResourceSpans) int {
	n := 0
	for _, rs := range m {
		n += len(rs.ScopeSpans[0].Spans)
	}
	return n
}
