package console

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// rig is a backend feeding a pipeline feeding a console Sink, with the
// pipeline's input kept open so a test can inject live events after the
// backend's own.
type rig struct {
	b      backends.Backend
	pipe   *pipeline.Pipeline
	sink   *Sink
	events *semconv.Queue
	runErr chan error
	ended  bool  // runErr was taken
	endErr error // what it said
}

// inject sends evs into the pipeline as live events, once the backend's
// Run has returned (the queue has one producer at a time).
func (r *rig) inject(t *testing.T, evs ...semconv.Event) {
	t.Helper()
	r.backendEnded()
	for i := range evs {
		r.events.Send(&evs[i])
	}
	r.events.Flush()
}

// backendEnded waits for the backend's Run to return and keeps its error.
func (r *rig) backendEnded() error {
	if !r.ended {
		r.endErr, r.ended = <-r.runErr, true
	}
	return r.endErr
}

// startRig starts b (Start and Run) and a pipeline over it. Everything is
// stopped when the test ends.
func startRig(t *testing.T, b backends.Backend) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start %s backend: %v", b.Name(), err)
	}
	caps := b.Capabilities()
	r := &rig{b: b, sink: NewSink(SinkOptions{}), events: semconv.NewQueue(8192, 0), runErr: make(chan error, 1)}
	r.pipe = pipeline.New(pipeline.Config{Clock: caps.Clock, CredsComplete: caps.Creds}, r.sink)
	go func() { r.runErr <- b.Run(ctx, r.events) }()
	pipeDone := make(chan struct{})
	go func() {
		defer close(pipeDone)
		// Until the queue is closed, as the agent runs it: a pipeline
		// that quit first would leave a draining backend waiting for a
		// free batch.
		if err := r.pipe.Run(context.Background(), r.events); err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := r.backendEnded(); err != nil {
			t.Errorf("%s backend: %v", b.Name(), err)
		}
		r.events.Close()
		<-pipeDone
		r.pipe.Close(context.Background())
		b.Close()
	})
	return r
}

// waitReplayed waits until the replay backend has delivered all n events
// and the pipeline has handed them on.
func (r *rig) waitReplayed(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st := r.pipe.Stats()
		var in uint64
		for _, x := range st.In {
			in += x
		}
		if in == n && st.Buffered == 0 && r.events.Len() == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pipeline did not take the %d replayed events: %+v", n, r.pipe.Stats())
}

// screen is the far side of a pty the console runs on: it collects what
// the console prints and types for the user.
type screen struct {
	t *testing.T
	*pane
}

// pane is the pty's far side and what came out of it.
type pane struct {
	ptm *os.File

	mu  sync.Mutex
	raw bytes.Buffer
}

// with returns the screen for a subtest, so its failures are its own.
func (s *screen) with(t *testing.T) *screen { return &screen{t: t, pane: s.pane} }

// ansi matches the escape sequences readline draws with.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// text returns what was printed, without escape sequences and carriage returns.
func (s *pane) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.ReplaceAll(ansi.ReplaceAllString(s.raw.String(), ""), "\r", "")
}

func (s *pane) mark() int { return len(s.text()) }

func (s *screen) send(keys string) {
	s.t.Helper()
	if _, err := s.ptm.Write([]byte(keys)); err != nil {
		s.t.Fatalf("type %q: %v", keys, err)
	}
}

// waitFor waits until the text printed after mark contains want, and
// returns the text after mark.
func (s *screen) waitFor(mark int, want string) string {
	s.t.Helper()
	return s.waitForWithin(mark, want, 10*time.Second)
}

// waitForWithin is waitFor, failing after d.
func (s *screen) waitForWithin(mark int, want string, d time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		txt := s.text()
		if mark > len(txt) {
			mark = len(txt)
		}
		if strings.Contains(txt[mark:], want) {
			return txt[mark:]
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waited %v for %q; screen after mark:\n%s", d, want, txt[mark:])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitViewEnd waits for a view's closing line after mark and for the
// prompt after it, and returns the text from mark to the prompt.
func (s *screen) waitViewEnd(mark int, closing string) string {
	s.t.Helper()
	out := s.waitFor(mark, closing)
	i := strings.Index(out, closing)
	s.waitFor(mark+i, DefaultPrompt)
	out = s.text()[mark:]
	return out[:i+strings.Index(out[i:], DefaultPrompt)]
}

// cmd types a command line and Enter, waits for the next prompt, and
// returns what the command printed (from after the echoed line to the
// prompt).
func (s *screen) cmd(line string) string {
	s.t.Helper()
	m := s.mark()
	s.send(line + "\r")
	// The echo of the line ends with the newline Enter prints.
	out := s.waitFor(m, "\n")
	nl := strings.IndexByte(out, '\n')
	m += nl + 1
	out = s.waitFor(m, DefaultPrompt)
	return out[:strings.LastIndex(out, DefaultPrompt)]
}

// startConsole runs a console for r on a new pty and returns the screen.
// The console ends with the test; done receives Run's result.
func startConsole(t *testing.T, r *rig, historyFile string) (*screen, *Console, chan error) {
	t.Helper()
	return startConsoleContext(t, context.Background(), r, historyFile)
}

// startConsoleContext is startConsole with Run given ctx, which a test
// cancels as the binary does on SIGTERM.
func startConsoleContext(t *testing.T, ctx context.Context, r *rig, historyFile string) (*screen, *Console, chan error) {
	t.Helper()
	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := pty.Setsize(ptm, &pty.Winsize{Rows: 60, Cols: 200}); err != nil {
		t.Fatalf("set pty size: %v", err)
	}
	s := &screen{t: t, pane: &pane{ptm: ptm}}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			s.mu.Lock()
			s.raw.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	con, err := New(Options{
		Backend: r.b, Pipeline: r.pipe, Sink: r.sink,
		Stdin: pts, Stdout: pts, HistoryFile: historyFile,
	})
	if err != nil {
		t.Fatalf("new console: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- con.Run(ctx) }()
	t.Cleanup(func() {
		// Close closes the console's end of the pty (pts); the master's
		// reader then reads EIO and ends, and the master can be closed.
		// Closing the master first would leave that reader blocked in
		// read(2), holding the descriptor open.
		con.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("console Run did not return after Close")
		}
		pts.Close() // the console closed it already; a second Close is harmless
		select {
		case <-readerDone:
		case <-time.After(5 * time.Second):
			t.Errorf("the pty's reader did not end: the console's end of the pty is still open after Close")
		}
		ptm.Close()
	})
	s.waitFor(0, DefaultPrompt)
	return s, con, done
}

// pipeInput is a console input that is not a terminal.
type pipeInput struct{ io.Reader }

func (pipeInput) Close() error { return nil }

func tempHistory(t *testing.T) string {
	return filepath.Join(t.TempDir(), "state", "procotel", "history")
}

// lockedWriter serialises writes to w, and reads of it through String.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
