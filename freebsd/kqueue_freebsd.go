//go:build freebsd

package freebsd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// kqueueProcNotes are the EVFILT_PROC notes asked for each watched process.
const kqueueProcNotes = noteExit | noteFork | noteExec | noteTrack

// Kqueue is the fallback backend over kqueue's EVFILT_PROC with NOTE_TRACK:
// it sees forks, execs and exits of every process it could attach to, and
// reads the rest from kern.proc after the fact.
type Kqueue struct {
	opts     backends.Options
	kq       int
	boot     time.Time
	caps     backends.Capabilities
	existing []semconv.Process
	jail     *JailNames

	closeOnce sync.Once
	received  [semconv.NumKinds]atomic.Uint64
	lost      [semconv.NumKinds]atomic.Uint64
	seeded    atomic.Uint64
}

var _ backends.Backend = (*Kqueue)(nil)

// NewKqueue returns a kqueue backend; it touches nothing until Start.
func NewKqueue(opts backends.Options) *Kqueue {
	return &Kqueue{opts: opts, kq: -1, jail: NewJailNames(JailName)}
}

// Name returns "kqueue".
func (k *Kqueue) Name() string { return "kqueue" }

// Capabilities says what the backend observes; valid after Start.
func (k *Kqueue) Capabilities() backends.Capabilities { return k.caps }

// Start opens a kqueue and attaches to every process alive.
func (k *Kqueue) Start(ctx context.Context) error {
	id, clock, err := bootInfo()
	if err != nil {
		return fmt.Errorf("start kqueue: %w", err)
	}
	k.boot = clock.BootWall
	kq, err := unix.Kqueue()
	if err != nil {
		return fmt.Errorf("start kqueue: %w", err)
	}
	k.kq = kq
	ps, err := existingProcesses()
	if err != nil {
		k.Close()
		return fmt.Errorf("start kqueue: %w", err)
	}
	for _, p := range ps {
		if len(k.opts.Jails) > 0 && !containsJail(k.opts.Jails, p.JailID) {
			continue
		}
		var ev unix.Kevent_t
		unix.SetKevent(&ev, int(p.PID), unix.EVFILT_PROC, unix.EV_ADD)
		ev.Fflags = kqueueProcNotes
		// A process that exited meanwhile, or that we may not watch, is
		// simply not attached.
		if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err == nil {
			k.existing = append(k.existing, p)
		}
	}
	k.caps = backends.Capabilities{
		OS: semconv.OSFreeBSD, Boot: id, Clock: clock,
		Kinds: []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExit},
		Argv:  true, Exe: true, Creds: true, ExitSignal: true, CoreDump: true, Jails: true,
		Notes: []string{
			"kqueue fallback: argv, path and credentials are read from kern.proc after the exec, so a process that exits at once may have none",
			"no exec failures, no signals, no rfork flags; times are when procotel read the note, not kernel timestamps",
			"processes that could not be attached (NOTE_TRACKERR) are counted as lost forks",
		},
	}
	return nil
}

func containsJail(ids []int32, id int32) bool {
	for _, j := range ids {
		if j == id {
			return true
		}
	}
	return false
}

// Run sends the existing processes, then each note as it comes.
func (k *Kqueue) Run(ctx context.Context, out *semconv.Queue) error {
	if k.kq < 0 {
		return errors.New("run kqueue: not started")
	}
	out.StopOn(ctx.Done())
	defer out.Flush()
	if !seed(out, &k.existing, k.jail, &k.seeded) {
		return nil
	}
	events := make([]unix.Kevent_t, 64)
	timeout := unix.NsecToTimespec(int64(200 * time.Millisecond))
	for ctx.Err() == nil {
		n, err := unix.Kevent(k.kq, nil, events, &timeout)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("run kqueue: %w", err)
		}
		now := time.Now()
		for _, kev := range events[:n] {
			evs, lost := translateNote(kqueueNote{ident: kev.Ident, fflags: kev.Fflags, data: kev.Data})
			if lost {
				k.lost[semconv.KindFork].Add(1)
			}
			for _, e := range evs {
				k.fill(&e, now)
				if len(k.opts.Jails) > 0 && !containsJail(k.opts.Jails, e.Process.JailID) {
					continue
				}
				k.received[e.Kind].Add(1)
				if !out.Send(&e) {
					return nil
				}
			}
		}
		out.Flush()
	}
	return nil
}

// fill completes an event from kern.proc; a process that is already gone
// keeps only its pid.
func (k *Kqueue) fill(e *semconv.Event, now time.Time) {
	e.Time = now
	e.BootNS = uint64(now.Sub(k.boot))
	if e.Kind == semconv.KindExit {
		return
	}
	p, err := processByPID(e.Process.PID)
	if err != nil {
		return
	}
	if e.Process.PPID != 0 {
		p.PPID = e.Process.PPID
	}
	p.JailName = k.jail.Name(p.JailID)
	e.Process = p
	if e.Kind == semconv.KindExec {
		e.Exec.Filename = p.Exe
		e.Exec.Argv = p.Argv
	}
}

// Stats returns the counters so far.
func (k *Kqueue) Stats() backends.Stats {
	var s backends.Stats
	for i := range s.Received {
		s.Received[i] = k.received[i].Load()
		s.Lost[i] = k.lost[i].Load()
	}
	s.Existing = k.seeded.Load()
	return s
}

// Close closes the kqueue. It is idempotent.
func (k *Kqueue) Close() error {
	var err error
	k.closeOnce.Do(func() {
		if k.kq >= 0 {
			err = unix.Close(k.kq)
		}
	})
	return err
}
