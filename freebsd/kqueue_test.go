package freebsd

import (
	"testing"

	"github.com/procotel/procotel/semconv"
)

func TestTranslateNote(t *testing.T) {
	evs, lost := translateNote(kqueueNote{ident: 42, fflags: noteChild | noteExec, data: 7})
	if lost || len(evs) != 2 || evs[0].Kind != semconv.KindFork || evs[0].Process.PPID != 7 ||
		evs[1].Kind != semconv.KindExec || evs[1].Process.PID != 42 {
		t.Errorf("child+exec: %+v lost %v", evs, lost)
	}
	evs, _ = translateNote(kqueueNote{ident: 42, fflags: noteExit, data: 3 << 8})
	if len(evs) != 1 || evs[0].Exit != (semconv.ExitInfo{Code: 3}) {
		t.Errorf("exit 3: %+v", evs)
	}
	evs, _ = translateNote(kqueueNote{ident: 42, fflags: noteExit, data: 0x80 | 11})
	if evs[0].Exit != (semconv.ExitInfo{Signal: 11, CoreDumped: true}) {
		t.Errorf("SIGSEGV core: %+v", evs[0].Exit)
	}
	if _, lost := translateNote(kqueueNote{ident: 1, fflags: noteTrackErr}); !lost {
		t.Error("NOTE_TRACKERR not counted as lost")
	}
	if evs, _ := translateNote(kqueueNote{ident: 1, fflags: noteFork}); len(evs) != 0 {
		t.Errorf("parent's NOTE_FORK produced %v; the child's NOTE_CHILD reports the fork", evs)
	}
}

func TestWaitStatus(t *testing.T) {
	cases := map[int32]semconv.ExitInfo{
		0:        {},
		1 << 8:   {Code: 1},
		255 << 8: {Code: 255},
		9:        {Signal: 9},
		6 | 0x80: {Signal: 6, CoreDumped: true},
		0x137f:   {}, // stopped by SIGSTOP (19 on FreeBSD is SIGCONT; any stop)
	}
	for st, want := range cases {
		if got := WaitStatus(st); got != want {
			t.Errorf("WaitStatus(%#x) = %+v, want %+v", st, got, want)
		}
	}
}
