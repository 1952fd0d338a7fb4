package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// play replays the recording in b and returns its events and Run's error.
func play(t *testing.T, b []byte) (backends.Capabilities, []semconv.Event, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	be, err := New(path, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := be.Start(context.Background()); err != nil {
		return backends.Capabilities{}, nil, err
	}
	out := semconv.NewQueue(64, 0)
	done := make(chan error, 1)
	go func() { done <- be.Run(context.Background(), out); out.Close() }()
	var evs []semconv.Event
	out.Consume(func(e *semconv.Event) { evs = append(evs, *e) })
	return be.Capabilities(), evs, <-done
}

// FuzzReplay: any file replays or fails with a *RecordingError, never a
// panic; the events a file replays, written again as a recording, replay
// as the same events.
func FuzzReplay(f *testing.F) {
	f.Add([]byte("{\"procotel_recording\":1,\"backend\":\"ebpf\",\"os\":\"linux\",\"boot\":\"b\",\"boot_wall\":\"2026-01-01T00:00:00Z\",\"kinds\":[\"fork\"]}\n" +
		"{\"kind\":\"fork\",\"time\":\"2026-01-01T00:00:01Z\",\"boot_ns\":1000000000,\"os\":\"linux\",\"process\":{\"pid\":5,\"ppid\":1,\"argv\":[\"sh\",\"-c\",\"x\"]}}\n" +
		"{\"kind\":\"exit\",\"time\":\"2026-01-01T00:00:02+02:00\",\"process\":{\"pid\":5},\"exit\":{\"code\":3}}\n" +
		"{\"trailer\":{\"received\":{\"fork\":1},\"lost\":{\"exit\":2,\"nosuch\":1},\"decode_errors\":0}}\n"))
	f.Add([]byte("{\"procotel_recording\":1}\n\n{\"kind\":\"reap\"}\n"))
	f.Add([]byte("{\"procotel_recording\":2}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		caps, evs, err := play(t, b)
		if err != nil && !errors.As(err, new(*RecordingError)) {
			t.Fatalf("error is not a *RecordingError: %#v", err)
		}
		if err != nil && len(evs) == 0 {
			return
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, "ebpf", caps)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			if err := w.Write(&evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(backends.Stats{}); err != nil {
			t.Fatal(err)
		}
		_, again, err := play(t, buf.Bytes())
		if err != nil {
			t.Fatalf("a written recording does not replay: %v\n%s", err, buf.Bytes())
		}
		want, _ := json.Marshal(evs)
		got, _ := json.Marshal(again)
		if !bytes.Equal(want, got) {
			t.Fatalf("replay of the written recording differs:\n%s\n%s", want, got)
		}
	})
}
