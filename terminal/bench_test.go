package terminal

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// benchEvents are the lines of a busy exec storm: forks, execs with a few
// arguments, exits.
func benchEvents() []semconv.Event {
	fork := ev(semconv.KindFork, 4242, 4200, "bash")
	exec := ev(semconv.KindExec, 4242, 4200, "curl")
	exec.Process.Exe = "/usr/bin/curl"
	exec.Process.Argv = []string{"curl", "-s", "--max-time", "5", "https://example.com/api/v1/items?page=2"}
	exit := ev(semconv.KindExit, 4242, 4200, "curl")
	exit.Exit.Code = 7
	failed := ev(semconv.KindExecFailed, 4243, 4200, "bash")
	failed.Exec = semconv.ExecInfo{Filename: "/usr/local/bin/missing-tool", Errno: 2}
	return []semconv.Event{fork, exec, exit, failed}
}

// BenchmarkTextFormat measures the text sink's formatting of one line, the
// part that runs for every event.
func BenchmarkTextFormat(b *testing.B) {
	t := &Text{opts: Options{Location: time.UTC}}
	evs := benchEvents()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = t.format(buf[:0], &evs[i%len(evs)])
	}
}

// BenchmarkJSONEvent measures the JSON sink's Event: encoding one line
// into the output buffer, which a writer empties into io.Discard.
func BenchmarkJSONEvent(b *testing.B) {
	j := NewJSON(io.Discard, Options{BufferLimit: 1 << 30})
	defer j.Close(context.Background())
	evs := benchEvents()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j.Event(&evs[i%len(evs)])
	}
}
