package linux

import (
	"testing"

	"github.com/procotel/procotel/internal/testenv"
)

// TestMain fails the run when the tests leave a goroutine or a file
// descriptor behind: an unclosed ring buffer, map, program or link.
func TestMain(m *testing.M) { testenv.Main(m) }
