package terminal

import (
	"context"
	"io"
	"path"
	"strconv"
	"time"

	"github.com/procotel/procotel/semconv"
)

// Options configure the text and JSON sinks.
type Options struct {
	// Color turns on ANSI colours (the caller decides: a TTY, --color).
	Color bool
	// Header prints a column header line first (text only).
	Header bool
	// BufferLimit is how many bytes may wait for the writer before lines
	// are dropped; 0 means 4 MiB.
	BufferLimit int
	// Location for timestamps; nil means local time.
	Location *time.Location
}

// Stats counts a sink's lines.
type Stats struct {
	Written, Dropped uint64
}

// Text prints one aligned line per event. It implements pipeline.Sink.
type Text struct {
	out  *asyncWriter
	opts Options
}

// NewText returns a text sink writing to w.
func NewText(w io.Writer, opts Options) *Text {
	t := &Text{out: newAsyncWriter(w, limit(opts)), opts: opts}
	if opts.Location == nil {
		t.opts.Location = time.Local
	}
	if opts.Header {
		t.out.append(func(b []byte) []byte {
			return headerLine(b)
		})
	}
	return t
}

// headerLine appends the column titles, padded like the event lines.
func headerLine(b []byte) []byte {
	s := len(b)
	b = append(b, "TIME"...)
	b = pad(b, s, 16)
	for _, col := range []struct {
		name  string
		width int
	}{{"EVENT", 12}, {"PID", 6}, {"PPID", 6}, {"UID", 6}, {"COMM", 16}} {
		s = len(b)
		b = append(b, col.name...)
		b = pad(b, s, col.width)
	}
	return append(b, "DETAIL\n"...)
}

func limit(o Options) int {
	if o.BufferLimit > 0 {
		return o.BufferLimit
	}
	return 4 << 20
}

const (
	ansiReset   = "\x1b[0m"
	ansiDim     = "\x1b[2m"
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiBlue    = "\x1b[34m"
	ansiMagenta = "\x1b[35m"
	ansiCyan    = "\x1b[36m"
	ansiBoldRed = "\x1b[1;31m"
)

func kindColor(e *semconv.Event) string {
	switch e.Kind {
	case semconv.KindFork, semconv.KindThreadStart, semconv.KindStart:
		return ansiBlue
	case semconv.KindExec:
		return ansiGreen
	case semconv.KindExecFailed:
		return ansiYellow
	case semconv.KindExit, semconv.KindThreadExit:
		if e.Exit.CoreDumped {
			return ansiBoldRed
		}
		if e.Exit.Failed() {
			return ansiRed
		}
		return ansiCyan
	case semconv.KindSignal:
		return ansiMagenta
	case semconv.KindReap:
		return ansiDim
	case semconv.KindThrottle:
		return ansiYellow
	}
	return ""
}

// Event formats one line. It never blocks.
func (t *Text) Event(e *semconv.Event) {
	t.out.append(func(b []byte) []byte { return t.format(b, e) })
}

// Lifetime is ignored by the text sink: the exit line already says how the
// process ended.
func (t *Text) Lifetime(*semconv.Lifetime) {}

// Flush writes the lines formatted so far (pipeline.Flusher). Once it
// was called, lines are written on Flush and Close only.
func (t *Text) Flush() { t.out.flush() }

// Close flushes the output.
func (t *Text) Close(ctx context.Context) error { return t.out.close(ctx) }

// Stats returns the lines written and dropped.
func (t *Text) Stats() Stats {
	return Stats{Written: t.out.written.Load(), Dropped: t.out.dropped.Load()}
}

func pad(b []byte, start, width int) []byte {
	for len(b)-start < width {
		b = append(b, ' ')
	}
	return append(b, ' ')
}

func (t *Text) format(b []byte, e *semconv.Event) []byte {
	p := &e.Process
	b = appendClock(b, e.Time.In(t.opts.Location))
	b = append(b, "  "...)
	if t.opts.Color {
		b = append(b, kindColor(e)...)
	}
	s := len(b)
	b = append(b, e.Kind.String()...)
	b = pad(b, s, 12)
	if t.opts.Color {
		b = append(b, ansiReset...)
	}
	if e.Kind == semconv.KindThrottle {
		// About a cgroup: no process.
		for range 3 {
			s = len(b)
			b = append(b, '-')
			b = pad(b, s, 6)
		}
	} else {
		s = len(b)
		b = strconv.AppendInt(b, int64(p.PID), 10)
		b = pad(b, s, 6)
		s = len(b)
		b = strconv.AppendInt(b, int64(p.PPID), 10)
		b = pad(b, s, 6)
		s = len(b)
		b = strconv.AppendUint(b, uint64(p.UID), 10)
		b = pad(b, s, 6)
	}
	s = len(b)
	name := p.Comm
	if p.Exe != "" && e.Kind != semconv.KindFork {
		name = path.Base(p.Exe)
	}
	b = AppendEscaped(b, name)
	b = pad(b, s, 16)
	s = len(b)
	b = detail(b, e)
	sep := "  "
	if len(b) == s {
		sep = ""
	}
	if p.ContainerID != "" {
		b = append(b, sep...)
		b = append(b, "[container "...)
		if p.ContainerName != "" {
			b = AppendEscaped(b, p.ContainerName)
		} else {
			b = AppendEscaped(b, shortID(p.ContainerID))
		}
		b = append(b, ']')
	}
	if p.JailID != 0 {
		b = append(b, sep...)
		b = append(b, "[jail "...)
		if p.JailName != "" {
			b = AppendEscaped(b, p.JailName)
		} else {
			b = strconv.AppendInt(b, int64(p.JailID), 10)
		}
		b = append(b, ']')
	}
	// Trailing spaces from padding an empty detail are trimmed.
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return append(b, '\n')
}

// appendClock appends t as 15:04:05.000000, without parsing a layout for
// every line.
func appendClock(b []byte, t time.Time) []byte {
	h, m, sec := t.Clock()
	us := t.Nanosecond() / 1000
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func detail(b []byte, e *semconv.Event) []byte {
	switch e.Kind {
	case semconv.KindFork:
		if e.Fork.ParentTID != 0 && e.Fork.ParentTID != e.Process.PPID {
			b = append(b, "from thread "...)
			b = strconv.AppendInt(b, int64(e.Fork.ParentTID), 10)
		}
	case semconv.KindExec:
		argv := e.Process.Argv
		if len(argv) == 0 {
			argv = e.Exec.Argv
		}
		exe := e.Process.Exe
		if exe == "" {
			exe = e.Exec.Filename
		}
		b = AppendEscaped(b, exe)
		b = appendArgs(b, argv)
		if e.Process.ArgvTruncated || e.Exec.ArgvTruncated {
			b = append(b, " …(truncated)"...)
		}
		if e.Exec.OldTID != 0 {
			b = append(b, "  (from thread "...)
			b = strconv.AppendInt(b, int64(e.Exec.OldTID), 10)
			b = append(b, ')')
		}
		b = AppendExecFacts(b, &e.Exec.ExecFacts)
	case semconv.KindExecFailed:
		b = AppendEscaped(b, e.Exec.Filename)
		b = append(b, ": "...)
		b = append(b, semconv.ErrnoName(e.OS, e.Exec.Errno)...)
	case semconv.KindExit, semconv.KindThreadExit:
		switch {
		case e.Exit.Signal != 0:
			b = append(b, "killed by "...)
			b = append(b, semconv.SignalName(e.OS, e.Exit.Signal)...)
			if e.Exit.CoreDumped {
				b = append(b, " (core dumped)"...)
			}
		default:
			b = append(b, "code "...)
			b = strconv.AppendInt(b, int64(e.Exit.Code), 10)
		}
	case semconv.KindSignal:
		b = append(b, semconv.SignalName(e.OS, e.Signal.Signo)...)
		if e.Signal.SenderPID != 0 {
			b = append(b, " from "...)
			b = strconv.AppendInt(b, int64(e.Signal.SenderPID), 10)
			if e.Signal.SenderComm != "" {
				b = append(b, " ("...)
				b = AppendEscaped(b, e.Signal.SenderComm)
				b = append(b, ')')
			}
		} else {
			b = append(b, " from the kernel"...)
		}
		b = append(b, ' ')
		b = append(b, e.Signal.Outcome.String()...)
	case semconv.KindReap:
		if e.Reap.ReaperPID != 0 {
			b = append(b, "reaped by "...)
			b = strconv.AppendInt(b, int64(e.Reap.ReaperPID), 10)
		}
	case semconv.KindThrottle:
		b = appendThrottle(b, e)
	}
	return b
}

// appendThrottle appends a throttle's detail: "start: execs of cgroup
// /a/b past 50/s are counted, not shown" or "stop: 450 execs of cgroup
// /a/b were counted, not shown".
func appendThrottle(b []byte, e *semconv.Event) []byte {
	t := &e.Throttle
	b = append(b, t.Phase.String()...)
	b = append(b, ": "...)
	if t.Phase == semconv.ThrottleStop {
		b = strconv.AppendUint(b, t.Suppressed, 10)
		b = append(b, ' ')
	}
	b = append(b, "execs of cgroup "...)
	if e.Process.CgroupPath != "" {
		b = AppendEscaped(b, e.Process.CgroupPath)
	} else {
		b = strconv.AppendUint(b, t.CgroupID, 10)
	}
	if t.Phase == semconv.ThrottleStop {
		return append(b, " were counted, not shown"...)
	}
	b = append(b, " past "...)
	b = strconv.AppendUint(b, uint64(t.Limit), 10)
	return append(b, "/s are counted, not shown"...)
}

// AppendExecFacts appends the security facts of an exec that hold, in
// the compact form of a text line: "  [setuid memfd] LD_PRELOAD=/x.so".
// The hashes, the parent executable and an ordinary stdin are left to
// JSON and OTLP.
func AppendExecFacts(b []byte, f *semconv.ExecFacts) []byte {
	n := 0
	for _, x := range [...]struct {
		on   bool
		name string
	}{{f.SetUID, "setuid"}, {f.SetGID, "setgid"}, {f.Memfd, "memfd"}, {f.Deleted, "deleted"},
		{f.Stdin == semconv.StdinSocket, "stdin=socket"}} {
		if !x.on {
			continue
		}
		if n == 0 {
			b = append(b, "  ["...)
		} else {
			b = append(b, ' ')
		}
		b = append(b, x.name...)
		n++
	}
	if n > 0 {
		b = append(b, ']')
	}
	for _, kv := range f.Env {
		b = append(b, ' ')
		b = AppendQuotedArg(b, kv)
	}
	return b
}

// appendArgs appends argv[1:], each quoted where a shell would need
// quotes or a terminal would act on it (see QuoteArg).
func appendArgs(b []byte, argv []string) []byte {
	for i, a := range argv {
		if i == 0 {
			continue
		}
		b = append(b, ' ')
		b = AppendQuotedArg(b, a)
	}
	return b
}

// JSON prints one JSON object per event (the semconv.Event encoding, the
// same as a recording's event lines). It implements pipeline.Sink.
type JSON struct {
	out *asyncWriter
}

// NewJSON returns a JSON-lines sink writing to w.
func NewJSON(w io.Writer, opts Options) *JSON {
	return &JSON{out: newAsyncWriter(w, limit(opts))}
}

// Event encodes one line, as json.Marshal would (HTML characters
// escaped), straight into the output buffer. It never blocks. An event
// that cannot be encoded (a time beyond year 9999) is dropped and counted.
func (j *JSON) Event(e *semconv.Event) {
	j.out.appendOrDrop(func(b []byte) ([]byte, bool) {
		b, err := semconv.AppendJSON(b, e, true)
		if err != nil {
			return b, false
		}
		return append(b, '\n'), true
	})
}

// Lifetime is not printed in the JSON stream.
func (j *JSON) Lifetime(*semconv.Lifetime) {}

// Flush writes the lines encoded so far (pipeline.Flusher). Once it
// was called, lines are written on Flush and Close only.
func (j *JSON) Flush() { j.out.flush() }

// Close flushes the output.
func (j *JSON) Close(ctx context.Context) error { return j.out.close(ctx) }

// Stats returns the lines written and dropped.
func (j *JSON) Stats() Stats {
	return Stats{Written: j.out.written.Load(), Dropped: j.out.dropped.Load()}
}
