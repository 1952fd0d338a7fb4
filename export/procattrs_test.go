package export

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// The cache's encoding is what encoding the process attributes afresh
// gives, in the log records' field and the spans' alike (the parts are
// kept in the one and retagged for the other), for a process seen first
// and again, after an exec, with lengths past one varint byte, and for a
// cgroup's attributes (no pid), which are not kept. What the cache
// notices between calls is semconv's TestProcessCacheEveryField.
func TestProcAttrsMatchesFreshEncoding(t *testing.T) {
	created := time.Date(2026, 11, 22, 4, 0, 0, 123456789, time.UTC)
	sh := semconv.Process{PID: 700, PPID: 1, Start: 5e9, Comm: "sh", Exe: "/bin/sh", Argv: []string{"sh", "-c", "x"},
		Cwd: "/", PGID: 700, SID: 700, CgroupPath: "/user.slice", ContainerID: "abc", ContainerRuntime: "docker"}
	ls := sh
	ls.Comm, ls.Exe, ls.Argv = "ls", "/usr/bin/ls", []string{"ls", "-l"}
	long := sh
	long.Argv = []string{"sh", "-c", strings.Repeat("x", 300)}
	cgroup := semconv.Process{CgroupID: 42, CgroupPath: "/system.slice/cron.service"}
	c := newProcAttrs()
	for i, p := range []semconv.Process{sh, sh, ls, long, cgroup, sh} {
		// Logs and spans alternate, as they share the cache.
		for _, field := range []int{logAttributes, spanAttributes, logAttributes} {
			got := c.append([]byte("prefix"), field, &p, created)
			want := []byte("prefix")
			for _, kv := range semconv.ProcessAttributes(&p, created, nil) {
				want = appendKeyValue(want, field, kv)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("process %d (pid %d), field %d: cached encoding differs from a fresh one", i, p.PID, field)
			}
		}
	}
}
