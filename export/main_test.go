package export

import (
	"testing"

	"github.com/procotel/procotel/internal/testenv"
)

// TestMain fails the run when the tests leave a goroutine (an export
// loop, a test server) or a file descriptor (a connection) behind.
func TestMain(m *testing.M) { testenv.Main(m) }
