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
	var st backends.Stats
	st.Lost[semconv.KindSignal] = 3
	st.Lost[semconv.KindInvalid] = 2
	return writeRecording(t, events, st)
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

// writeRecording writes events as a recording of the ebpf backend that
// counted st.
func writeRecording(t *testing.T, events []semconv.Event, st backends.Stats) string {
	t.Helper()
	clock := semconv.Clock{BootWall: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := replay.WriteFile(path, "ebpf", backends.Capabilities{OS: semconv.OSLinux, Boot: "b", Clock: clock}, events, st); err != nil {
		t.Fatal(err)
	}
	return path
}

// A recording is an output like the others: command lines are redacted
// (unless --redact=false), the file is its owner's only, and an existing
// file or a symlink is never written through.
func TestRecordRedactsAndProtectsTheFile(t *testing.T) {
	p := semconv.Process{PID: 200, TID: 200, PPID: 1, Start: 5e9, Comm: "mysql",
		Argv: []string{"mysql", "--password", "hunter2", "-e", "select 1"}}
	exec := semconv.Event{Kind: semconv.KindExec, Time: time.Unix(1, 0), BootNS: 5e9, OS: semconv.OSLinux, Process: p}
	exec.Exec = semconv.ExecInfo{Filename: "/usr/bin/mysql", Argv: p.Argv}
	in := writeRecording(t, []semconv.Event{{Kind: semconv.KindFork, Time: time.Unix(1, 0), BootNS: 5e9, OS: semconv.OSLinux, Process: p}, exec}, backends.Stats{})
	dir := t.TempDir()

	record := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"record", "--backend", "replay:" + in}, args...), &out, &errb)
		return code, errb.String()
	}
	out := filepath.Join(dir, "out.jsonl")
	if code, msg := record(out); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, msg)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("recording mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(out)
	if strings.Contains(string(b), "hunter2") || strings.Count(string(b), `"[REDACTED]"`) != 3 {
		t.Errorf("recording is not redacted (want process argv of both events and the exec argv):\n%s", b)
	}
	// The redacted recording plays back: two events, the secret gone.
	var outb, errb bytes.Buffer
	if code := Main([]string{"--backend", "replay:" + out, "--output", "json"}, &outb, &errb); code != exitOK ||
		strings.Count(strings.TrimSpace(outb.String()), "\n") != 1 || strings.Contains(outb.String(), "hunter2") {
		t.Errorf("replay of the recording: exit %d, %s\n%s", code, outb.String(), errb.String())
	}

	// An existing file is not overwritten.
	if code, msg := record(out); code != exitUsage || !strings.Contains(msg, "already exists") {
		t.Errorf("record over an existing file: exit %d: %s", code, msg)
	}
	if b2, _ := os.ReadFile(out); !bytes.Equal(b, b2) {
		t.Error("the existing recording was changed")
	}
	// A symlink is not followed, even to a file that does not exist yet.
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if code, msg := record(link); code != exitUsage || !strings.Contains(msg, "symlink") {
		t.Errorf("record to a symlink: exit %d: %s", code, msg)
	}
	if _, err := os.Lstat(target); err == nil {
		t.Error("the symlink was followed")
	}

	// --redact=false keeps the command line raw.
	raw := filepath.Join(dir, "raw.jsonl")
	if code, msg := record("--redact=false", raw); code != exitOK {
		t.Fatalf("record --redact=false: exit %d: %s", code, msg)
	}
	if b, _ := os.ReadFile(raw); strings.Count(string(b), "hunter2") != 3 {
		t.Errorf("--redact=false recording:\n%s", b)
	}
}

func TestDurationFlag(t *testing.T) {
	var out, errb bytes.Buffer
	Main([]string{"--help"}, &out, &errb)
	if !strings.Contains(out.String(), "--duration duration") {
		t.Errorf("--help does not list --duration:\n%s", out.String())
	}
	for _, arg := range []string{"-1s", "5", "soon"} {
		errb.Reset()
		if code := Main([]string{"--duration", arg, "--backend", "replay:" + recording(t)}, &out, &errb); code != exitUsage ||
			!strings.Contains(errb.String(), "-duration") {
			t.Errorf("--duration %s: exit %d: %s", arg, code, errb.String())
		}
	}
	if code := Main([]string{"--duration", "0", "--backend", "replay:" + recording(t)}, &out, &errb); code != exitOK {
		t.Errorf("--duration 0: exit %d: %s", code, errb.String())
	}
}

// Input the user named that cannot be used exits 2, whatever part of
// procotel reads it, and an error never shows a password.
func TestUnusableInputExits2(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	badLine := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(badLine, []byte("{\"procotel_recording\":1,\"os\":\"linux\"}\n{\"kind\":\"exxit\"}\n"), 0o600)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o600)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "replay:" + filepath.Join(dir, "none")}, "no such file"},
		{[]string{"--backend", "replay:" + empty}, "not a procotel recording"},
		{[]string{"--backend", "replay:" + badLine}, "line 2"},
		{[]string{"--backend", "replay:" + recording(t), "--otlp-endpoint", "https://localhost:4318", "--otlp-protocol", "http/protobuf"}, ""},
		{[]string{"--backend", "replay:" + recording(t), "--otlp-endpoint", "https://u:s3cret@localhost:4318"}, "[REDACTED]@localhost"},
	}
	t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", notPEM)
	cases[3].want = "no PEM certificates"
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Main(c.args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) || strings.Contains(errb.String(), "s3cret") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

func TestFilterGivenTwiceIsAnd(t *testing.T) {
	path := recording(t)
	var out, errb bytes.Buffer
	code := Main([]string{"--backend", "replay:" + path, "--output", "json", "--filter", "kind=exit", "--filter", "pid=102"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var e semconv.Event
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &e) != nil || e.Kind != semconv.KindExit || e.Process.PID != 102 {
		t.Errorf("want only the exit of 102, got:\n%s", out.String())
	}
}
