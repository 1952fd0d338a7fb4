// Package replay records a backend's raw events as JSON lines and plays
// such a recording back as a backend, so the pipeline and every sink can be
// run and tested without privileges or a kernel.
//
// A recording is a header line, one line per event (semconv.Event in its
// JSON form), and an optional trailer with the recording backend's
// counters:
//
//	{"procotel_recording":1,"backend":"ebpf","os":"linux","boot":"…","boot_wall":"…","kinds":["fork",…]}
//	{"kind":"fork","time":"…","process":{…},…}
//	{"trailer":{"received":{"fork":10,…},"lost":{…},"decode_errors":0}}
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// FormatVersion is the recording format this package reads and writes.
const FormatVersion = 1

// Header is the first line of a recording.
type Header struct {
	Version  int            `json:"procotel_recording"`
	Backend  string         `json:"backend"`
	OS       semconv.OS     `json:"os"`
	Boot     semconv.BootID `json:"boot"`
	BootWall time.Time      `json:"boot_wall"`
	Kinds    []semconv.Kind `json:"kinds"`
}

// Trailer is the last line of a recording: the recording backend's counters.
type Trailer struct {
	Received     map[string]uint64 `json:"received"`
	Lost         map[string]uint64 `json:"lost"`
	DecodeErrors uint64            `json:"decode_errors"`
	// Throttled, ReapsInferred and LateReaps are Stats.Throttled,
	// Stats.ReapsInferred and Stats.LateReapsDropped.
	Throttled     uint64 `json:"throttled,omitempty"`
	ReapsInferred uint64 `json:"reaps_inferred,omitempty"`
	LateReaps     uint64 `json:"late_reaps,omitempty"`
}

type trailerLine struct {
	Trailer *Trailer `json:"trailer"`
}

// RecordingError is a recording that cannot be read: missing, not a
// recording, or with a line that does not decode. It is the user's input
// at fault, not the machine; Line is 0 when no line is to blame.
type RecordingError struct {
	Path string
	Line int
	Err  error
}

func (e *RecordingError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("replay %s: line %d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("replay %s: %v", e.Path, e.Err)
}

func (e *RecordingError) Unwrap() error { return e.Err }

// bad returns a *RecordingError at the line last read.
func (b *Backend) bad(format string, args ...any) error {
	return &RecordingError{Path: b.path, Line: b.line, Err: fmt.Errorf(format, args...)}
}

// Writer writes a recording. It is not safe for concurrent use.
type Writer struct {
	w   *bufio.Writer
	enc *json.Encoder
	n   uint64
}

// NewWriter writes the header for a recording of backend b to w.
func NewWriter(w io.Writer, backendName string, caps backends.Capabilities) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	rw := &Writer{w: bw, enc: json.NewEncoder(bw)}
	rw.enc.SetEscapeHTML(false)
	h := Header{Version: FormatVersion, Backend: backendName, OS: caps.OS, Boot: caps.Boot,
		BootWall: caps.Clock.BootWall, Kinds: caps.Kinds}
	if err := rw.enc.Encode(h); err != nil {
		return nil, fmt.Errorf("write recording header: %w", err)
	}
	return rw, nil
}

// Write appends one event.
func (w *Writer) Write(e *semconv.Event) error {
	w.n++
	if err := w.enc.Encode(e); err != nil {
		return fmt.Errorf("write event %d: %w", w.n, err)
	}
	return nil
}

// Count returns the number of events written.
func (w *Writer) Count() uint64 { return w.n }

// Close writes the trailer with the backend's counters and flushes.
func (w *Writer) Close(st backends.Stats) error {
	t := Trailer{Received: map[string]uint64{}, Lost: map[string]uint64{}, DecodeErrors: st.DecodeErrors,
		Throttled: st.Throttled, ReapsInferred: st.ReapsInferred, LateReaps: st.LateReapsDropped}
	for k := 0; k < semconv.NumKinds; k++ {
		if st.Received[k] != 0 {
			t.Received[semconv.Kind(k).String()] = st.Received[k]
		}
		if st.Lost[k] != 0 {
			t.Lost[semconv.Kind(k).String()] = st.Lost[k]
		}
	}
	if err := w.enc.Encode(trailerLine{&t}); err != nil {
		return fmt.Errorf("write recording trailer: %w", err)
	}
	return w.w.Flush()
}

// Flush writes buffered events out.
func (w *Writer) Flush() error { return w.w.Flush() }

// Backend plays a recording back. It delivers the recorded events as fast
// as the consumer takes them and returns from Run at the end of the file.
type Backend struct {
	path string
	f    *os.File
	r    *bufio.Reader
	hdr  Header
	line int

	mu    sync.Mutex
	stats backends.Stats
}

var _ backends.Backend = (*Backend)(nil)

// New returns a replay backend for the recording at path.
func New(path string, _ backends.Options) (backends.Backend, error) {
	if path == "" {
		return nil, fmt.Errorf("replay backend: no file given (use --backend replay:FILE)")
	}
	return &Backend{path: path}, nil
}

// Factory selects the replay backend as "replay:FILE". It is never chosen by auto.
var Factory = backends.Factory{Name: "replay", New: New}

// Name returns "replay".
func (b *Backend) Name() string { return "replay" }

// Capabilities are those of the recording backend, from the header.
func (b *Backend) Capabilities() backends.Capabilities {
	return backends.Capabilities{
		OS: b.hdr.OS, Boot: b.hdr.Boot, Clock: semconv.Clock{BootWall: b.hdr.BootWall},
		Kinds: b.hdr.Kinds, Argv: true, Exe: true, Cwd: true, Creds: true, TTY: true,
		NSPID: true, CloneFlags: true, ExitSignal: true, CoreDump: true,
		SignalOutcome: true, SignalSender: true, Containers: b.hdr.OS == semconv.OSLinux,
		Jails: b.hdr.OS == semconv.OSFreeBSD,
		Notes: []string{"replays " + b.path + ", recorded by the " + b.hdr.Backend + " backend"},
	}
}

// Start opens the recording and reads its header.
func (b *Backend) Start(context.Context) error {
	f, err := os.Open(b.path)
	if err != nil {
		return &RecordingError{Path: b.path, Err: err}
	}
	b.f = f
	b.r = bufio.NewReaderSize(f, 256<<10)
	line, err := b.next()
	if err == io.EOF {
		return b.bad("empty file, not a procotel recording (write one with procotel record FILE)")
	}
	if err != nil {
		return b.bad("read header: %w", err)
	}
	if err := json.Unmarshal(line, &b.hdr); err != nil || b.hdr.Version == 0 {
		return b.bad("not a procotel recording header (write one with procotel record FILE)")
	}
	if b.hdr.Version != FormatVersion {
		return b.bad("recording format %d, this procotel reads %d", b.hdr.Version, FormatVersion)
	}
	return nil
}

func (b *Backend) next() ([]byte, error) {
	for {
		line, err := b.r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return nil, err
		}
		b.line++
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			return line, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Run sends every recorded event on out and returns nil at the end of the
// recording, or an error naming the line that could not be read.
func (b *Backend) Run(ctx context.Context, out *semconv.Queue) error {
	if b.r == nil {
		return fmt.Errorf("replay: Run before Start")
	}
	out.StopOn(ctx.Done())
	defer out.Flush()
	for {
		line, err := b.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &RecordingError{Path: b.path, Err: err}
		}
		if bytes.HasPrefix(line, []byte(`{"trailer"`)) {
			var t trailerLine
			if err := json.Unmarshal(line, &t); err != nil || t.Trailer == nil {
				return b.bad("bad trailer: %v", err)
			}
			b.applyTrailer(t.Trailer)
			continue
		}
		e := out.Next()
		if e == nil {
			return nil
		}
		*e = semconv.Event{}
		if err := json.Unmarshal(line, e); err != nil {
			out.Undo()
			b.mu.Lock()
			b.stats.DecodeErrors++
			b.mu.Unlock()
			return b.bad("%v", err)
		}
		if !e.Kind.Valid() {
			out.Undo()
			return b.bad("event without a valid kind")
		}
		b.mu.Lock()
		b.stats.Received[e.Kind]++
		if e.Kind == semconv.KindExisting {
			b.stats.Existing++
		}
		b.mu.Unlock()
		if b.r.Buffered() == 0 || ctx.Err() != nil {
			out.Flush() // nothing more at hand without a read
			if ctx.Err() != nil {
				return nil
			}
		}
	}
}

// applyTrailer makes the recording backend's lost, throttled and inferred
// counts visible in Stats, so a replay shows what the original run lost.
func (b *Backend) applyTrailer(t *Trailer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, n := range t.Lost {
		if name == semconv.KindInvalid.String() {
			// Losses whose kind the kernel did not say (DTrace drops).
			b.stats.Lost[semconv.KindInvalid] += n
		} else if k, err := semconv.ParseKind(name); err == nil {
			b.stats.Lost[k] += n
		} else {
			// A kind this version does not know: still a loss, kind unknown.
			b.stats.Lost[semconv.KindInvalid] += n
		}
	}
	b.stats.DecodeErrors += t.DecodeErrors
	b.stats.Throttled += t.Throttled
	b.stats.ReapsInferred += t.ReapsInferred
	b.stats.LateReapsDropped += t.LateReaps
}

// Stats returns what was replayed so far, plus the recording's lost counts.
func (b *Backend) Stats() backends.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Close closes the recording. It is idempotent.
func (b *Backend) Close() error {
	if b.f == nil {
		return nil
	}
	err := b.f.Close()
	b.f = nil
	return err
}

// WriteFile writes events as a recording of backendName, with caps in its
// header and st in its trailer, to a new file at path (mode 0600): a
// recording made from a list, as tests and tools build one.
func WriteFile(path, backendName string, caps backends.Capabilities, events []semconv.Event, st backends.Stats) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write recording: %w", err)
	}
	w, err := NewWriter(f, backendName, caps)
	if err == nil {
		for i := range events {
			if err = w.Write(&events[i]); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = w.Close(st)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write recording: %w", cerr)
	}
	return err
}
