//go:build freebsd

package freebsd

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestNoteConstants(t *testing.T) {
	if noteExit != unix.NOTE_EXIT || noteFork != unix.NOTE_FORK || noteExec != unix.NOTE_EXEC ||
		noteTrack != unix.NOTE_TRACK || noteTrackErr != unix.NOTE_TRACKERR || noteChild != unix.NOTE_CHILD {
		t.Fatal("EVFILT_PROC note constants differ from sys/event.h")
	}
}
