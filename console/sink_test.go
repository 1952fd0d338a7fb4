package console

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

func TestSinkRingAndDrops(t *testing.T) {
	s := NewSink(SinkOptions{RingSize: 4, ViewBuffer: 2})
	_, sub := s.subscribe()
	argv := []string{"a", "b"}
	for i := int32(1); i <= 10; i++ {
		s.Event(&semconv.Event{Kind: semconv.KindExec, Process: semconv.Process{PID: i, Argv: argv}})
	}
	argv[0] = "changed" // the pipeline reuses its memory after the call
	st := s.Stats()
	if st.Ring != 4 || st.RingSize != 4 || st.Events[semconv.KindExec] != 10 {
		t.Errorf("stats = %+v, want a full ring of 4 and 10 exec events", st)
	}
	if st.ViewDropped != 8 || sub.dropped.Load() != 8 {
		t.Errorf("view dropped %d (subscription %d), want 8: the view held 2 and never read", st.ViewDropped, sub.dropped.Load())
	}
	var pids []int32
	for _, x := range s.recent() {
		pids = append(pids, x.ev.Process.PID)
		if x.ev.Process.Argv[0] != "a" {
			t.Errorf("ring shares argv with the caller: %q", x.ev.Process.Argv)
		}
	}
	if len(pids) != 4 || pids[0] != 7 || pids[3] != 10 {
		t.Errorf("ring holds pids %v, want 7..10 oldest first", pids)
	}
	if got := (<-sub.ch).ev.Process.PID; got != 1 {
		t.Errorf("view got pid %d first, want 1", got)
	}
	sub.cancel()
	sub.cancel() // idempotent
	s.Event(&semconv.Event{Kind: semconv.KindFork})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	s.Lifetime(&semconv.Lifetime{Process: semconv.Process{ContainerID: "c1", ContainerName: "n"}})
	if c, _ := s.ended(); c["c1"].ended != 1 || c["c1"].name != "n" {
		t.Errorf("ended containers = %+v", c)
	}
}

// TestConsoleInterrupt stops tail with Interrupt, as the binary does on
// SIGINT when its input is not a terminal.
func TestConsoleInterrupt(t *testing.T) {
	r := replayRig(t)
	pr, pw := io.Pipe()
	var out strings.Builder
	w := &lockedWriter{w: &out}
	con, err := New(Options{Backend: r.b, Pipeline: r.pipe, Sink: r.sink, Stdin: pr, Stdout: w})
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	done := make(chan error, 1)
	go func() { done <- con.Run(context.Background()) }()
	wait := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			w.mu.Lock()
			got := out.String()
			w.mu.Unlock()
			if strings.Contains(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited for %q; output:\n%s", want, got)
			}
		}
	}
	pw.Write([]byte("tail kind=fork\n"))
	wait("then live")
	con.Interrupt()
	wait("-- tail stopped: 5 recent and 0 live events shown")
	pw.Write([]byte("show 203\nquit\n"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wait("jail:        7 (www)")
}
