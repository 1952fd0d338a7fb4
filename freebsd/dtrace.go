package freebsd

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/freebsd/shim"
	"github.com/procotel/procotel/semconv"
)

// ErrNoCgo is returned by the dtrace backend of a binary built without cgo.
var ErrNoCgo = errors.New("built without cgo; dtrace backend unavailable, use kqueue")

// consumer is what the dtrace backend needs of libdtrace; *shim.Consumer
// implements it. Every call is made from one locked OS thread.
type consumer interface {
	SetOption(name, value string) error
	Enable(src string) (int, error)
	Go() error
	Work() (done bool, err error)
	Close()
}

// host is what the dtrace backend asks of the operating system besides
// libdtrace: the processes alive at start, this boot's identity and clock,
// and jail names. Tests replace it.
type host struct {
	open     func(shim.Sink) (consumer, error)
	existing func() ([]semconv.Process, error)
	boot     func() (semconv.BootID, semconv.Clock, error)
	jailName JailLookup
}

const numDropKinds = 10

// DTraceStats are the dtrace backend's own counters beyond backends.Stats.
type DTraceStats struct {
	// Drops counts records libdtrace reported dropped, per drop kind
	// (index 0 = principal buffer full; see shim.DropKindName).
	Drops [numDropKinds]uint64
	// ProbeErrors counts firings that faulted in the kernel; each lost
	// the firing's records.
	ProbeErrors uint64
	// LastProbeError is libdtrace's message for the latest fault.
	LastProbeError string
	// ArgvOrphans counts argv records whose exec record was not found.
	ArgvOrphans uint64
}

// DTrace is the backend over libdtrace's proc provider. Create it with
// NewDTrace; Start, Run and Close follow backends.Backend.
type DTrace struct {
	opts backends.Options
	host host
	prog *Program
	dec  *Decoder
	jail *JailNames

	caps     backends.Capabilities
	existing []semconv.Process

	batches  chan []byte
	stop     chan struct{}
	stopOnce sync.Once
	engine   sync.WaitGroup
	errMu    sync.Mutex
	err      error

	received  [semconv.NumKinds]atomic.Uint64
	lostAny   atomic.Uint64
	decodeErr atomic.Uint64
	truncated atomic.Uint64
	seeded    atomic.Uint64
	drops     [numDropKinds]atomic.Uint64
	probeErrs atomic.Uint64
	orphans   atomic.Uint64
	lastErrMu sync.Mutex
	lastErr   string
}

var _ backends.Backend = (*DTrace)(nil)

// NewDTrace returns a dtrace backend for opts; it touches nothing until
// Start.
func NewDTrace(opts backends.Options) (*DTrace, error) {
	return newDTrace(opts, defaultHost())
}

func newDTrace(opts backends.Options, h host) (*DTrace, error) {
	argvMax := opts.ArgvLimit()
	if argvMax > DefaultArgvMax {
		argvMax = DefaultArgvMax
	}
	prog, err := NewProgram(ProgramOptions{Jails: opts.Jails, SignalsAll: opts.SignalsAll, ArgvMax: argvMax})
	if err != nil {
		return nil, fmt.Errorf("new dtrace backend: %w", err)
	}
	return &DTrace{
		opts: opts,
		host: h,
		prog: prog,
		dec:  NewDecoder(&prog.Schema),
		jail: NewJailNames(h.jailName),
		stop: make(chan struct{}),
	}, nil
}

// Name returns "dtrace".
func (b *DTrace) Name() string { return "dtrace" }

// Program returns the D program the backend enables.
func (b *DTrace) Program() *Program { return b.prog }

// Capabilities says what the backend observes; valid after Start.
func (b *DTrace) Capabilities() backends.Capabilities { return b.caps }

func (b *DTrace) fail(err error) {
	b.errMu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.errMu.Unlock()
}

// Start opens libdtrace, enables one clause per probe, starts tracing and
// then reads the processes already alive. A missing DTrace device or
// privilege is reported wrapping a *backends.MissingFeatureError.
func (b *DTrace) Start(ctx context.Context) error {
	if b.batches != nil {
		return errors.New("start dtrace: already started")
	}
	boot, clock, err := b.host.boot()
	if err != nil {
		return fmt.Errorf("start dtrace: %w", err)
	}
	b.batches = make(chan []byte, 4)
	started := make(chan error, 1)
	b.engine.Add(1)
	go b.consume(started)
	select {
	case err = <-started:
	case <-ctx.Done():
		b.Close()
		return ctx.Err()
	}
	if err != nil {
		b.engine.Wait()
		return err
	}
	if b.host.existing != nil {
		ps, err := b.host.existing()
		if err != nil {
			b.Close()
			return fmt.Errorf("start dtrace: read existing processes: %w", err)
		}
		b.existing = ps
	}
	b.caps = backends.Capabilities{
		OS:    semconv.OSFreeBSD,
		Boot:  boot,
		Clock: clock,
		Kinds: []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed,
			semconv.KindExit, semconv.KindSignal},
		Argv: true, Exe: true, Creds: true,
		CloneFlags: true, ExitSignal: true, CoreDump: true,
		SignalOutcome: true, SignalSender: true, Jails: true,
		Notes: []string{
			"argv comes from the kernel's argument cache (p_args): absent when the arguments exceed kern.ps_arg_cache_limit (256 bytes by default), and cut at " + strconv.Itoa(b.prog.Schema.ArgvMax) + " bytes",
			"no cwd, tty or namespace pid; no reap events; thread events are not traced",
			"signals are seen when generated (signal-send), ignored by the target (signal-discard) or taken by sigwait (signal-clear), not when delivered",
			"records lost in a full DTrace buffer cannot be told apart by kind: they are counted in Lost[invalid]",
			"exec facts: the audit login uid and session (cr_audit) and setuid/setgid (P_SUGID with the effective id changed by the exec; the file's mode is not read); the parent executable comes from the pipeline's table (the parent's image from its fork, exec or the start-up scan); no stdin type, memfd, deleted-file flag, executable hash or environment (capture.env, TRACEPARENT), and no exec throttling",
		},
	}
	return nil
}

// consume owns libdtrace: it runs on one locked OS thread for the whole
// session, as libdtrace requires.
func (b *DTrace) consume(started chan<- error) {
	defer b.engine.Done()
	defer close(b.batches)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	sink := &streamSink{b: b}
	c, err := b.host.open(sink)
	if err != nil {
		if errors.Is(err, ErrNoCgo) {
			started <- fmt.Errorf("start dtrace: %w", err)
			return
		}
		started <- fmt.Errorf("start dtrace: %w: %v", &backends.MissingFeatureError{
			Backend: "dtrace",
			Feature: "the DTrace device (root, and the dtraceall kernel module loaded)",
			Hint:    "run as root after 'kldload dtraceall', or choose the kqueue backend",
		}, err)
		return
	}
	defer c.Close()
	bufsize := "4m"
	if b.opts.BufferSize > 0 {
		bufsize = strconv.Itoa(b.opts.BufferSize)
	}
	opts := [][2]string{
		{"bufsize", bufsize},
		{"strsize", strconv.Itoa(b.prog.Schema.StrSize)},
		{"switchrate", "10hz"},
		{"temporal", ""},
	}
	for _, o := range opts {
		if err := c.SetOption(o[0], o[1]); err != nil {
			started <- fmt.Errorf("start dtrace: %w", err)
			return
		}
	}
	for i := range b.prog.Schema.Clauses {
		cl := &b.prog.Schema.Clauses[i]
		if _, err := c.Enable(cl.Source()); err != nil {
			started <- fmt.Errorf("start dtrace: %s (clause %d): %w", cl.Probe, cl.Tag, err)
			return
		}
	}
	if err := c.Go(); err != nil {
		started <- fmt.Errorf("start dtrace: %w", err)
		return
	}
	started <- nil

	for {
		select {
		case <-b.stop:
			return
		default:
		}
		done, err := c.Work()
		if len(sink.stream) > 0 {
			batch := sink.stream
			sink.stream = nil
			select {
			case b.batches <- batch:
			case <-b.stop:
				return
			}
		}
		if err != nil {
			b.fail(err)
			return
		}
		if done {
			return
		}
	}
}

// streamSink collects the shim's frames into one stream per Work call.
type streamSink struct {
	b      *DTrace
	stream []byte
}

func (s *streamSink) Frame(frame []byte) { s.stream = append(s.stream, frame...) }

func (s *streamSink) Drop(kind int, n uint64) {
	if kind >= 0 && kind < numDropKinds {
		s.b.drops[kind].Add(n)
	}
	s.b.lostAny.Add(n)
}

func (s *streamSink) Error(fault int, msg string) {
	s.b.probeErrs.Add(1)
	s.b.lostAny.Add(1)
	s.b.lastErrMu.Lock()
	s.b.lastErr = msg
	s.b.lastErrMu.Unlock()
}

func (s *streamSink) Malformed() { s.b.decodeErr.Add(1) }

// Run sends the processes alive at Start as KindExisting events, then
// every traced event in kernel order, until ctx ends (nil), tracing stops
// (nil) or libdtrace fails (its error).
func (b *DTrace) Run(ctx context.Context, out *semconv.Queue) error {
	if b.batches == nil {
		return errors.New("run dtrace: not started")
	}
	out.StopOn(ctx.Done())
	defer out.Flush()
	if !seed(out, &b.existing, b.jail, &b.seeded) {
		return nil
	}
	var seq Sequencer
	var ready []semconv.Event
	for {
		var batch []byte
		var ok bool
		select {
		case batch, ok = <-b.batches:
		case <-ctx.Done():
			return nil
		}
		if !ok {
			b.errMu.Lock()
			err := b.err
			b.errMu.Unlock()
			return err
		}
		b.decodeBatch(batch, &seq)
		ready = seq.Flush(ready[:0])
		b.orphans.Store(seq.Orphans)
		for i := range ready {
			if !out.Send(&ready[i]) {
				return nil
			}
		}
		out.Flush()
	}
}

func (b *DTrace) decodeBatch(stream []byte, seq *Sequencer) {
	for len(stream) > 0 {
		f, rest, err := NextFrame(stream)
		stream = rest
		if err != nil {
			b.decodeErr.Add(1)
			continue
		}
		d, err := b.dec.Decode(f)
		if err != nil {
			b.decodeErr.Add(1)
			continue
		}
		b.truncated.Add(uint64(d.Truncated))
		if !d.ArgsOnly {
			e := &d.Event
			b.received[e.Kind].Add(1)
			if e.Kind == semconv.KindExec {
				b.jail.Observe(e.Process.JailID, e.Process.JailName)
			}
			if e.Process.JailID != 0 && e.Process.JailName == "" {
				e.Process.JailName = b.jail.Name(e.Process.JailID)
			}
		}
		seq.Push(d)
	}
}

// Stats returns the counters so far. Records dropped by DTrace are counted
// in Lost[KindInvalid]: libdtrace does not say which clause they came from.
func (b *DTrace) Stats() backends.Stats {
	var s backends.Stats
	for k := range s.Received {
		s.Received[k] = b.received[k].Load()
	}
	s.Lost[semconv.KindInvalid] = b.lostAny.Load()
	s.DecodeErrors = b.decodeErr.Load()
	s.Truncated = b.truncated.Load()
	s.Existing = b.seeded.Load()
	return s
}

// DTraceStats returns the dtrace-specific counters. Safe for concurrent use.
func (b *DTrace) DTraceStats() DTraceStats {
	var s DTraceStats
	for k := range s.Drops {
		s.Drops[k] = b.drops[k].Load()
	}
	s.ProbeErrors = b.probeErrs.Load()
	s.ArgvOrphans = b.orphans.Load()
	b.lastErrMu.Lock()
	s.LastProbeError = b.lastErr
	b.lastErrMu.Unlock()
	return s
}

// Close stops tracing and releases libdtrace. It is idempotent and may be
// called without Start.
func (b *DTrace) Close() error {
	b.stopOnce.Do(func() { close(b.stop) })
	b.engine.Wait()
	return nil
}

// seed sends a KindExisting event for each of *existing, named after its
// jail, counting each in seeded, then forgets them and flushes out. It
// reports false when out stopped taking events.
func seed(out *semconv.Queue, existing *[]semconv.Process, jail *JailNames, seeded *atomic.Uint64) bool {
	for _, p := range *existing {
		p.JailName = jail.Name(p.JailID)
		if !out.Send(&semconv.Event{Kind: semconv.KindExisting, OS: semconv.OSFreeBSD, CPU: -1, Process: p}) {
			return false
		}
		seeded.Add(1)
	}
	*existing = nil
	out.Flush()
	return true
}
