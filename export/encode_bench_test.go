package export

import (
	"context"
	"testing"

	"github.com/procotel/procotel/semconv"
)

// BenchmarkEncodeRecord measures the encoder alone: one exec record,
// the process attributes from the cache, no queue.
func BenchmarkEncodeRecord(b *testing.B) {
	x := mustExporter(b, testOptions(), discardLogs{}, nil)
	defer x.Close(context.Background())
	e := semconv.Event{Kind: semconv.KindExec, OS: semconv.OSLinux, Time: bootWall, BootNS: 20e9,
		Process: proc(4242, 100, 19, 10, "/usr/bin/ls")}
	e.Process.Argv = []string{"ls", "-la", "/tmp"}
	e.Process.Cwd = "/home/u"
	e.Exec.Filename = "/usr/bin/ls"
	name := semconv.EventName(e.Kind)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = x.logs.encode(buf[:0], &e, name)
	}
}
