package backendtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// coreInWorkingDir says whether the kernel writes a plain core file into
// the dying process's working directory, and what it read to decide.
func coreInWorkingDir(t *testing.T) (string, bool) {
	b, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Logf("read core_pattern: %v", err)
		return "", false
	}
	pattern := strings.TrimSpace(string(b))
	return fmt.Sprintf("core_pattern is %q", pattern), pattern == "core"
}
