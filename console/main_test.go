package console

import (
	"testing"

	"github.com/procotel/procotel/internal/testenv"
)

// TestMain fails the run when the tests leave a goroutine or a file
// descriptor behind: a pty, a readline reader, a view still running.
func TestMain(m *testing.M) { testenv.Main(m) }
