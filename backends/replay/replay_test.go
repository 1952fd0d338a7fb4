package replay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

func TestRoundTrip(t *testing.T) {
	boot := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	caps := backends.Capabilities{OS: semconv.OSLinux, Boot: "b-1", Clock: semconv.Clock{BootWall: boot},
		Kinds: []semconv.Kind{semconv.KindFork, semconv.KindExit}}
	events := []semconv.Event{
		{Kind: semconv.KindExisting, Time: boot.Add(time.Second), Process: semconv.Process{PID: 1, Comm: "init"}},
		{Kind: semconv.KindFork, Time: boot.Add(2 * time.Second), BootNS: 2e9, OS: semconv.OSLinux,
			Process: semconv.Process{PID: 50, PPID: 1, Start: 2e9, Argv: []string{"sh", "-c", "exit 3"}}},
		{Kind: semconv.KindExit, Time: boot.Add(3 * time.Second), BootNS: 3e9, OS: semconv.OSLinux,
			Process: semconv.Process{PID: 50, PPID: 1, Start: 2e9}, Exit: semconv.ExitInfo{Code: 3}},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "ebpf", caps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := w.Write(&events[i]); err != nil {
			t.Fatal(err)
		}
	}
	var st backends.Stats
	st.Received[semconv.KindFork] = 1
	st.Lost[semconv.KindExit] = 4
	st.Lost[semconv.KindInvalid] = 2 // lost without a kind (DTrace drops)
	st.Throttled, st.ReapsInferred, st.LateReapsDropped = 7, 3, 1
	if err := w.Close(st); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	b := startReplay(t, path)
	gotCaps := b.Capabilities()
	if gotCaps.OS != semconv.OSLinux || gotCaps.Boot != "b-1" || !gotCaps.Clock.BootWall.Equal(boot) ||
		!reflect.DeepEqual(gotCaps.Kinds, caps.Kinds) {
		t.Fatalf("capabilities from header: %+v", gotCaps)
	}
	out := semconv.NewQueue(10, 0)
	if err := b.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	got := testenv.Queued(out)
	if len(got) != len(events) {
		t.Fatalf("got %d events, want %d", len(got), len(events))
	}
	for i := range events {
		if !reflect.DeepEqual(got[i], events[i]) {
			t.Errorf("event %d:\n got  %+v\n want %+v", i, got[i], events[i])
		}
	}
	s := b.Stats()
	if s.Received[semconv.KindFork] != 1 || s.Received[semconv.KindExit] != 1 || s.Existing != 1 {
		t.Errorf("received counts: %+v", s.Received)
	}
	if s.Lost[semconv.KindExit] != 4 || s.Lost[semconv.KindInvalid] != 2 || s.TotalLost() != 6 {
		t.Errorf("lost from trailer: exit %d (want 4), unknown kind %d (want 2), total %d (want 6)",
			s.Lost[semconv.KindExit], s.Lost[semconv.KindInvalid], s.TotalLost())
	}
	if s.Throttled != 7 || s.ReapsInferred != 3 || s.LateReapsDropped != 1 {
		t.Errorf("from trailer: throttled %d (want 7), reaps inferred %d (want 3), late reaps %d (want 1)",
			s.Throttled, s.ReapsInferred, s.LateReapsDropped)
	}
}

func TestBadInput(t *testing.T) {
	cases := map[string]string{
		"":                             "empty file, not a procotel recording",
		"{\"x\":1}\n":                  "line 1: not a procotel recording header",
		"{\"procotel_recording\":9}\n": "recording format 9",
	}
	for content, want := range cases {
		path := filepath.Join(t.TempDir(), "bad.jsonl")
		os.WriteFile(path, []byte(content), 0o600)
		b, _ := New(path, backends.Options{})
		err := b.Start(context.Background())
		var re *RecordingError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), want) {
			t.Errorf("content %q: error %#v, want a *RecordingError saying %q", content, err, want)
		}
	}
	if b, _ := New(filepath.Join(t.TempDir(), "none"), backends.Options{}); !errors.As(b.Start(context.Background()), new(*RecordingError)) {
		t.Error("a missing recording is not a *RecordingError")
	}
	// A broken event line names its line number.
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(path, []byte("{\"procotel_recording\":1,\"os\":\"linux\"}\n{\"kind\":\"fork\",\"time\":\"2026-01-01T00:00:00Z\"}\n\n{\"kind\":\"exxit\"}\n"), 0o600)
	b, _ := New(path, backends.Options{})
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := semconv.NewQueue(10, 0)
	err := b.Run(context.Background(), out)
	if !errors.As(err, new(*RecordingError)) || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "exxit") {
		t.Fatalf("want an error naming line 4 and the bad kind, got %v", err)
	}
	if got := testenv.Queued(out); len(got) != 1 || got[0].Kind != semconv.KindFork {
		t.Fatalf("the good event before the bad line should have been sent; got %+v", got)
	}
	if _, err := New("", backends.Options{}); err == nil {
		t.Fatal("New accepted an empty path")
	}
}

// TestWriteFile: a recording written from a list replays as that list,
// with the trailer's losses in Stats, and an existing file is not
// overwritten.
func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.jsonl")
	boot := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	caps := backends.Capabilities{OS: semconv.OSLinux, Boot: "b", Clock: semconv.Clock{BootWall: boot}}
	events := []semconv.Event{
		{Kind: semconv.KindFork, BootNS: 1e9, Time: boot.Add(time.Second), OS: semconv.OSLinux, Process: semconv.Process{PID: 41, PPID: 1}},
		{Kind: semconv.KindExit, BootNS: 2e9, Time: boot.Add(2 * time.Second), OS: semconv.OSLinux, Process: semconv.Process{PID: 41, PPID: 1},
			Exit: semconv.ExitInfo{Code: 3}},
	}
	var st backends.Stats
	st.Lost[semconv.KindReap] = 2
	if err := WriteFile(path, "ebpf", caps, events, st); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, "ebpf", caps, events, st); err == nil {
		t.Error("WriteFile overwrote an existing recording")
	}
	b := startReplay(t, path)
	out := semconv.NewQueue(8, 0)
	if err := b.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	got := testenv.Queued(out)
	if len(got) != 2 || got[0].Process.PID != 41 || got[1].Kind != semconv.KindExit || got[1].Exit.Code != 3 {
		t.Fatalf("replayed %+v", got)
	}
	if lost := b.Stats().Lost[semconv.KindReap]; lost != 2 {
		t.Errorf("lost reaps %d, want the trailer's 2", lost)
	}
}

// startReplay opens and starts a replay of the recording at path, closed
// when the test ends.
func startReplay(t *testing.T, path string) backends.Backend {
	t.Helper()
	b, err := New(path, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}
