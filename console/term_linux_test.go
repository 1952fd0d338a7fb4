package console

import (
	"context"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The console puts its terminal in raw mode while it runs and gives it
// back as it found it, whether it ends by Close or by its context: the
// terminal is restored before its input is closed.
func TestConsoleRestoresTerminal(t *testing.T) {
	r := replayRig(t)
	for _, how := range []string{"Close", "context"} {
		t.Run(how, func(t *testing.T) {
			ptm, pts, err := pty.Open()
			if err != nil {
				t.Fatalf("open pty: %v", err)
			}
			defer ptm.Close()
			// A pty master's termios calls act on its slave's settings.
			mode := func() unix.Termios {
				t.Helper()
				tio, err := unix.IoctlGetTermios(int(ptm.Fd()), unix.TCGETS)
				if err != nil {
					t.Fatalf("read terminal mode: %v", err)
				}
				return *tio
			}
			before := mode()
			if before.Lflag&unix.ICANON == 0 {
				t.Fatal("a new pty is already raw")
			}
			con, err := New(Options{Backend: r.b, Pipeline: r.pipe, Sink: r.sink, Stdin: pts, Stdout: pts})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- con.Run(ctx) }()
			for deadline := time.Now().Add(5 * time.Second); mode().Lflag&unix.ICANON != 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the console did not put its terminal in raw mode")
				}
			}
			if how == "Close" {
				if err := con.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			} else {
				cancel()
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Run did not return after %s", how)
			}
			con.Close()
			after := mode()
			if after.Iflag != before.Iflag || after.Oflag != before.Oflag || after.Lflag != before.Lflag || after.Cflag != before.Cflag {
				t.Errorf("terminal left as iflag %#x oflag %#x lflag %#x cflag %#x, was %#x %#x %#x %#x",
					after.Iflag, after.Oflag, after.Lflag, after.Cflag, before.Iflag, before.Oflag, before.Lflag, before.Cflag)
			}
		})
	}
}
