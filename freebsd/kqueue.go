package freebsd

import (
	"github.com/procotel/procotel/semconv"
)

// EVFILT_PROC notes (sys/event.h, FreeBSD 14), declared here so the
// translation below is tested off FreeBSD; kqueue_freebsd_test.go checks
// them against golang.org/x/sys/unix.
const (
	noteExit     = 0x80000000
	noteFork     = 0x40000000
	noteExec     = 0x20000000
	noteTrack    = 0x00000001
	noteTrackErr = 0x00000002
	noteChild    = 0x00000004
)

// kqueueNote is one EVFILT_PROC kevent: ident is a pid, fflags the notes,
// data the note's datum (the parent pid for NOTE_CHILD, the wait(2) status
// for NOTE_EXIT).
type kqueueNote struct {
	ident  uint64
	fflags uint32
	data   int64
}

// translateNote turns one kevent into events, in the order they happened:
// a tracked child's birth, its exec, its exit. lost is true for
// NOTE_TRACKERR: the kernel could not attach to a new child, so its fork
// and everything after are unseen.
func translateNote(n kqueueNote) (evs []semconv.Event, lost bool) {
	pid := int32(n.ident)
	mk := func(k semconv.Kind) semconv.Event {
		return semconv.Event{Kind: k, OS: semconv.OSFreeBSD, CPU: -1, Process: semconv.Process{PID: pid}}
	}
	if n.fflags&noteTrackErr != 0 {
		lost = true
	}
	if n.fflags&noteChild != 0 {
		e := mk(semconv.KindFork)
		e.Process.PPID = int32(n.data)
		evs = append(evs, e)
	}
	if n.fflags&noteExec != 0 {
		evs = append(evs, mk(semconv.KindExec))
	}
	if n.fflags&noteExit != 0 {
		e := mk(semconv.KindExit)
		// A NOTE_CHILD carries the parent pid in data; an exit in the same
		// kevent would share the field, so only decode a lone exit.
		if n.fflags&noteChild == 0 {
			e.Exit = WaitStatus(int32(n.data))
		}
		evs = append(evs, e)
	}
	return evs, lost
}

// WaitStatus decodes a wait(2) status as FreeBSD encodes it.
func WaitStatus(st int32) semconv.ExitInfo {
	sig := st & 0x7f
	switch {
	case sig == 0: // WIFEXITED
		return semconv.ExitInfo{Code: (st >> 8) & 0xff}
	case sig != 0x7f: // WIFSIGNALED
		return semconv.ExitInfo{Signal: sig, CoreDumped: st&0x80 != 0}
	}
	return semconv.ExitInfo{} // stopped: not an exit
}
