package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/semconv"
)

func TestBadInputIsOneLineAndExit2(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("otlp:\n  protocl: grpc\n"), 0o600)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--window", "soon"}, "pipeline.window"},
		{[]string{"--otlp-protocol", "udp"}, "otlp.protocol"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--config", bad}, `unknown field "protocl" in otlp`},
		{[]string{"--filter", "kind=exit cdoe!=0"}, `column 11: unknown field "cdoe"`},
		{[]string{"--backend", "nosuch"}, `backend "nosuch": unknown`},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"record"}, "missing FILE"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Main(c.args, &out, &errb)
		msg := errb.String()
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitUsage, msg)
		}
		if !strings.Contains(msg, c.want) {
			t.Errorf("%v: stderr %q, want it to contain %q", c.args, msg, c.want)
		}
		if strings.Count(strings.TrimRight(msg, "\n"), "\n") != 0 {
			t.Errorf("%v: error is not one line: %q", c.args, msg)
		}
	}
}

func TestHelpExplains(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--help"}, &out, &errb); code != exitOK {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"procotel record", "procotel console", "--otlp-endpoint", "--filter", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
}

// recording writes a small recording: a shell (existing) forks a child
// that fails an exec, exits 127 and is reaped; a second child is killed.
func recording(t *testing.T) string {
	t.Helper()
	boot := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	clock := semconv.Clock{BootWall: boot}
	ev := func(k semconv.Kind, ns uint64, p semconv.Process) semconv.Event {
		return semconv.Event{Kind: k, Time: clock.Wall(ns), BootNS: ns, OS: semconv.OSLinux, Process: p}
	}
	sh := semconv.Process{PID: 100, TID: 100, PPID: 1, Start: 1e9, PGID: 100, SID: 100, Comm: "bash", Exe: "/usr/bin/bash", Argv: []string{"bash"}}
	c1 := semconv.Process{PID: 101, TID: 101, PPID: 100, Start: 2e9, ParentStart: 1e9, PGID: 100, SID: 100, Comm: "bash"}
	c2 := semconv.Process{PID: 102, TID: 102, PPID: 100, Start: 3e9, ParentStart: 1e9, PGID: 100, SID: 100, Comm: "bash"}
	failed := ev(semconv.KindExecFailed, 2.1e9, c1)
	failed.Exec = semconv.ExecInfo{Filename: "/no/such/file", Errno: 2, Argv: []string{"/no/such/file"}}
	exit127 := ev(semconv.KindExit, 2.2e9, c1)
	exit127.Exit.Code = 127
	reap := ev(semconv.KindReap, 2.3e9, c1)
	reap.Reap.ReaperPID = 100
	killed := ev(semconv.KindExit, 3.5e9, c2)
	killed.Exit.Signal = 15
	events := []semconv.Event{
		{Kind: semconv.KindExisting, Time: clock.Wall(1e9), OS: semconv.OSLinux, Process: sh},
		ev(semconv.KindFork, 2e9, c1), failed, exit127, reap,
		ev(semconv.KindFork, 3e9, c2), killed,
	}
	var buf bytes.Buffer
	w, err := replay.NewWriter(&buf, "ebpf", backends.Capabilities{OS: semconv.OSLinux, Boot: "b", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := w.Write(&events[i]); err != nil {
			t.Fatal(err)
		}
	}
	var st backends.Stats
	st.Lost[semconv.KindSignal] = 3
	st.Lost[semconv.KindInvalid] = 2
	w.Close(st)
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayThroughTheBinary(t *testing.T) {
	path := recording(t)
	var out, errb bytes.Buffer
	code := Main([]string{"--backend", "replay:" + path, "--color", "never", "--window", "1ms"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got []string
	for _, l := range lines {
		f := strings.Fields(l)
		got = append(got, strings.Join(f[1:], " ")) // drop the local-time column
	}
	want := []string{
		"fork 101 100 0 bash",
		"exec_failed 101 100 0 bash /no/such/file: ENOENT",
		"exit 101 100 0 bash code 127",
		"reap 101 100 0 bash reaped by 100",
		"fork 102 100 0 bash",
		"exit 102 100 0 bash killed by SIGTERM",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The recording's kernel losses are reported, never silent.
	if !strings.Contains(errb.String(), "LOST in the kernel: 5 (signal 3, kind unknown 2)") {
		t.Errorf("summary does not report the recorded losses:\n%s", errb.String())
	}

	// JSON lines with a filter: only the failed exit, enriched by the pipeline.
	out.Reset()
	errb.Reset()
	code = Main([]string{"--backend", "replay:" + path, "--output", "json", "--filter", "kind=exit code=127"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line, got %q", out.String())
	}
	var e semconv.Event
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Kind != semconv.KindExit || e.Process.PID != 101 || e.Exit.Code != 127 ||
		e.Creator != semconv.KeyOf(100, 1e9) || e.Process.PGID != 100 {
		t.Errorf("JSON event %+v", e)
	}
}
