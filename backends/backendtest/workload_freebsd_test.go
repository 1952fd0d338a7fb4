package backendtest

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// coreInWorkingDir says whether the kernel writes a core file into the
// dying process's working directory (kern.coredump on, kern.corefile a
// plain name), and what it read to decide.
func coreInWorkingDir(t *testing.T) (string, bool) {
	on, err := unix.SysctlUint32("kern.coredump")
	if err != nil {
		t.Logf("read kern.coredump: %v", err)
		return "", false
	}
	file, err := unix.Sysctl("kern.corefile")
	if err != nil {
		t.Logf("read kern.corefile: %v", err)
		return "", false
	}
	return fmt.Sprintf("kern.coredump is %d and kern.corefile is %q", on, file),
		on != 0 && !strings.Contains(file, "/")
}
