package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

var t0 = time.Date(2026, 11, 22, 10, 11, 12, 345678000, time.UTC)

func ev(kind semconv.Kind, pid, ppid int32, comm string) semconv.Event {
	return semconv.Event{Kind: kind, Time: t0, OS: semconv.OSLinux,
		Process: semconv.Process{PID: pid, PPID: ppid, Comm: comm}}
}

func TestTextLines(t *testing.T) {
	fork := ev(semconv.KindFork, 101, 100, "bash")
	failed := ev(semconv.KindExecFailed, 101, 100, "bash")
	failed.Exec = semconv.ExecInfo{Filename: "/no/such/file", Errno: 2}
	exit127 := ev(semconv.KindExit, 101, 100, "bash")
	exit127.Exit.Code = 127
	exec := ev(semconv.KindExec, 102, 100, "ls")
	exec.Process.Exe = "/usr/bin/ls"
	exec.Process.Argv = []string{"ls", "/nonexistent", "a b"}
	sig := ev(semconv.KindSignal, 103, 100, "sleep")
	sig.Signal = semconv.SignalInfo{Signo: 15, SenderPID: 100, SenderComm: "bash", Outcome: semconv.SignalGenerated}
	killed := ev(semconv.KindExit, 103, 100, "sleep")
	killed.Exit = semconv.ExitInfo{Signal: 11, CoreDumped: true}
	reap := ev(semconv.KindReap, 103, 100, "sleep")
	reap.Reap.ReaperPID = 100
	inCtr := ev(semconv.KindFork, 104, 100, "sh")
	inCtr.Process.ContainerID = "0123456789abcdef0123"

	var buf bytes.Buffer
	s := NewText(&buf, Options{Location: time.UTC, Header: true})
	for _, e := range []semconv.Event{fork, failed, exit127, exec, sig, killed, reap, inCtr} {
		s.Event(&e)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `TIME             EVENT        PID    PPID   UID    COMM             DETAIL
10:11:12.345678  fork         101    100    0      bash
10:11:12.345678  exec_failed  101    100    0      bash             /no/such/file: ENOENT
10:11:12.345678  exit         101    100    0      bash             code 127
10:11:12.345678  exec         102    100    0      ls               /usr/bin/ls /nonexistent "a b"
10:11:12.345678  signal       103    100    0      sleep            SIGTERM from 100 (bash) generated
10:11:12.345678  exit         103    100    0      sleep            killed by SIGSEGV (core dumped)
10:11:12.345678  reap         103    100    0      sleep            reaped by 100
10:11:12.345678  fork         104    100    0      sh               [container 0123456789ab]
`
	if got := buf.String(); got != want {
		t.Fatalf("text output:\n%s\nwant:\n%s", got, want)
	}
	if st := s.Stats(); st.Written != 9 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTextExecFacts: the facts that hold follow the command line; none,
// nothing.
func TestTextThrottle(t *testing.T) {
	start := semconv.Event{Kind: semconv.KindThrottle, Time: t0, OS: semconv.OSLinux,
		Process:  semconv.Process{CgroupID: 77, CgroupPath: "/ci/job"},
		Throttle: semconv.ThrottleInfo{CgroupID: 77, Phase: semconv.ThrottleStart, Limit: 50}}
	stop := start
	stop.Process.CgroupPath = ""
	stop.Throttle.Phase, stop.Throttle.Suppressed = semconv.ThrottleStop, 450
	var buf bytes.Buffer
	s := NewText(&buf, Options{Location: time.UTC})
	s.Event(&start)
	s.Event(&stop)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `10:11:12.345678  throttle     -      -      -                       start: execs of cgroup /ci/job past 50/s are counted, not shown
10:11:12.345678  throttle     -      -      -                       stop: 450 execs of cgroup 77 were counted, not shown
`
	if got := buf.String(); got != want {
		t.Fatalf("text output:\n%s\nwant:\n%s", got, want)
	}
}

func TestTextExecFacts(t *testing.T) {
	e := ev(semconv.KindExec, 102, 100, "id")
	e.Process.Exe = "/tmp/id"
	e.Process.Argv = []string{"id"}
	e.Exec.SetUID, e.Exec.Deleted = true, true
	e.Exec.Env = []string{"LD_PRELOAD=/tmp/a b.so"}
	e.Exec.Stdin = semconv.StdinPipe
	var out strings.Builder
	tx := NewText(&out, Options{Color: false})
	tx.Event(&e)
	e.Exec.ExecFacts = semconv.ExecFacts{Stdin: semconv.StdinTTY}
	tx.Event(&e)
	tx.Close(context.Background())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasSuffix(lines[len(lines)-2], `/tmp/id  [setuid deleted] "LD_PRELOAD=/tmp/a b.so"`) {
		t.Errorf("facts line %q", lines[len(lines)-2])
	}
	if !strings.HasSuffix(lines[len(lines)-1], "/tmp/id") {
		t.Errorf("no-facts line %q", lines[len(lines)-1])
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	e := ev(semconv.KindExit, 1, 0, "x")
	e.Exit.Code = 1
	var plain, color bytes.Buffer
	p, c := NewText(&plain, Options{}), NewText(&color, Options{Color: true})
	p.Event(&e)
	c.Event(&e)
	p.Close(context.Background())
	c.Close(context.Background())
	if strings.Contains(plain.String(), "\x1b[") {
		t.Fatal("escape codes without Color")
	}
	if !strings.Contains(color.String(), ansiRed+"exit") {
		t.Fatalf("failed exit not red: %q", color.String())
	}
}

// blockingWriter blocks every Write until released.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestSlowOutputDropsAndCounts(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	s := NewText(w, Options{BufferLimit: 1000})
	e := ev(semconv.KindFork, 1, 0, "x")
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			s.Event(&e) // must return although the writer is stuck
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Event blocked on a stuck writer")
	}
	close(w.release)
	s.Close(context.Background())
	st := s.Stats()
	lines := strings.Count(w.buf.String(), "\n")
	if st.Dropped == 0 || st.Written+st.Dropped != 1000 || uint64(lines) != st.Written {
		t.Fatalf("written %d dropped %d lines %d: every event must be written or counted", st.Written, st.Dropped, lines)
	}
}

func TestJSONLines(t *testing.T) {
	e := ev(semconv.KindExecFailed, 7, 1, "sh")
	e.Exec = semconv.ExecInfo{Filename: "/x", Errno: 13}
	var buf bytes.Buffer
	j := NewJSON(&buf, Options{})
	j.Event(&e)
	j.Event(&e)
	j.Close(context.Background())
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var back semconv.Event
	if err := json.Unmarshal([]byte(lines[0]), &back); err != nil {
		t.Fatal(err)
	}
	if back.Kind != semconv.KindExecFailed || back.Exec.Errno != 13 || back.Process.PID != 7 {
		t.Fatalf("decoded %+v", back)
	}
}

func TestAppendClockMatchesLayout(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+1800), time.FixedZone("west", -7*3600)}
	base := time.Date(2026, 11, 22, 23, 59, 59, 999999999, time.UTC)
	for i := 0; i < 5000; i++ {
		tm := base.Add(time.Duration(i) * 7919 * time.Millisecond / 3).Add(time.Duration(i*i) * time.Nanosecond)
		for _, z := range zones {
			got := string(appendClock(nil, tm.In(z)))
			if want := tm.In(z).Format("15:04:05.000000"); got != want {
				t.Fatalf("%v in %s: %q, want %q", tm, z, got, want)
			}
		}
	}
}

// `--output json` of a process that exited 0 as root says so: the exit
// object with code 0, and uid 0, are in the line.
func TestJSONExitZeroIsPresent(t *testing.T) {
	e := ev(semconv.KindExit, 7, 1, "true")
	var buf bytes.Buffer
	j := NewJSON(&buf, Options{})
	j.Event(&e)
	j.Close(context.Background())
	var m struct {
		Exit *struct {
			Code *int32 `json:"code"`
		} `json:"exit"`
		Process struct {
			UID *uint32 `json:"uid"`
		} `json:"process"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("decode %q: %v", buf.String(), err)
	}
	if m.Exit == nil || m.Exit.Code == nil || *m.Exit.Code != 0 {
		t.Fatalf("exit.code 0 not in %s", buf.String())
	}
	if m.Process.UID == nil || *m.Process.UID != 0 {
		t.Fatalf("process.uid 0 not in %s", buf.String())
	}
	var back semconv.Event
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Kind != semconv.KindExit || back.Process.PID != 7 || back.Exit != (semconv.ExitInfo{}) || back.Process.UID != 0 {
		t.Fatalf("decoded %+v", back)
	}
}

// The JSON sink's lines are json.Marshal's (HTML characters escaped, as
// `--output json` always wrote them), one per event; an event whose time
// cannot be encoded is dropped and counted, and the next line is whole.
func TestJSONLinesAreMarshal(t *testing.T) {
	exec := ev(semconv.KindExec, 8, 1, "sh")
	exec.Process.Exe = "/bin/sh"
	exec.Process.Argv = []string{"sh", "-c", "a <b && c >d", "\u2028\xff\t"}
	bad := ev(semconv.KindExit, 9, 1, "x")
	bad.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	exit := ev(semconv.KindExit, 8, 1, "sh")
	var buf bytes.Buffer
	j := NewJSON(&buf, Options{})
	j.Event(&exec)
	j.Event(&bad)
	j.Event(&exit)
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, e := range []*semconv.Event{&exec, &exit} {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(append(want, line...), '\n')
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got\n%s\nwant\n%s", buf.Bytes(), want)
	}
	if !strings.Contains(buf.String(), `\u003cb \u0026\u0026 c \u003ed`) {
		t.Fatalf("HTML characters not escaped: %s", buf.Bytes())
	}
	if st := j.Stats(); st.Written != 2 || st.Dropped != 1 {
		t.Fatalf("stats %+v, want 2 written, 1 dropped", st)
	}
}

// countingWriter counts the writes it is given and the lines in them.
type countingWriter struct {
	mu            sync.Mutex
	writes, lines int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func (w *countingWriter) counts() (writes, lines int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes, w.lines
}

// flushedSink is what TestFlushedWritesOnFlush uses of Text and JSON.
type flushedSink interface {
	Event(*semconv.Event)
	Flush()
	Close(context.Context) error
}

// TestFlushedWritesOnFlush: once its owner flushes it, a sink writes the
// lines of each flush together, and none before the flush.
func TestFlushedWritesOnFlush(t *testing.T) {
	for _, sink := range []struct {
		name string
		new  func(w *countingWriter) flushedSink
	}{
		{"text", func(w *countingWriter) flushedSink {
			return NewText(w, Options{})
		}},
		{"json", func(w *countingWriter) flushedSink {
			return NewJSON(w, Options{})
		}},
	} {
		t.Run(sink.name, func(t *testing.T) {
			w := &countingWriter{}
			s := sink.new(w)
			s.Flush()
			e := ev(semconv.KindFork, 1, 0, "x")
			waitLines := func(want int) {
				t.Helper()
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
					if _, n := w.counts(); n == want {
						return
					} else if time.Now().After(deadline) {
						t.Fatalf("%d lines written, want %d", n, want)
					}
				}
			}
			before, base := w.counts() // a text sink's header, if any
			for round := 1; round <= 3; round++ {
				for i := 0; i < 100; i++ {
					s.Event(&e)
				}
				// Unflushed lines stay queued: an unflushed writer writes
				// within writeEvery.
				time.Sleep(5 * writeEvery)
				if _, n := w.counts(); n != base+100*(round-1) {
					t.Fatalf("round %d: %d lines written before the flush, want %d", round, n, base+100*(round-1))
				}
				s.Flush()
				waitLines(base + 100*round)
				if writes, _ := w.counts(); writes != before+round {
					t.Fatalf("round %d: %d writes, want one per flush (%d)", round, writes, before+round)
				}
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
