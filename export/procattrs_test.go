package export

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// The cache returns what encoding the process attributes afresh returns,
// whatever changed between two calls for a pid: an exec, a reused pid, a
// colliding pid, another creation time.
func TestProcAttrsMatchesFreshEncoding(t *testing.T) {
	created := time.Date(2026, 11, 22, 4, 0, 0, 123456789, time.UTC)
	p := semconv.Process{PID: 700, PPID: 1, Start: 5e9, Comm: "sh", Exe: "/bin/sh", Argv: []string{"sh", "-c", "x"},
		Cwd: "/", PGID: 700, SID: 700, CgroupPath: "/user.slice"}
	type step struct {
		name    string
		p       semconv.Process
		created time.Time
	}
	execd := p
	execd.Comm, execd.Exe, execd.Argv = "ls", "/usr/bin/ls", []string{"ls", "-l"}
	argv := p
	argv.Argv = []string{"sh", "-c", "y"}
	reparented := p
	reparented.PPID = 1000
	reused := p
	reused.Start = 9e9
	collide := p
	collide.PID = p.PID + procAttrsSize
	container := p
	container.ContainerID, container.ContainerRuntime = "abc", "docker"
	long := p // lengths past one varint byte
	long.Argv = []string{"sh", "-c", strings.Repeat("x", 300)}
	steps := []step{
		{"first", p, created},
		{"again", p, created},
		{"exec", execd, created},
		{"argv", argv, created},
		{"back", p, created},
		{"created", p, created.Add(time.Millisecond)},
		{"no created", p, time.Time{}},
		{"reparented", reparented, created},
		{"reused pid", reused, created},
		{"colliding pid", collide, created},
		{"after collision", p, created},
		{"container", container, created},
		{"long argv", long, created},
	}
	c := newProcAttrs()
	for _, s := range steps {
		// Logs and spans alternate, as they share the cache.
		for _, field := range []int{logAttributes, spanAttributes, logAttributes} {
			got := c.append([]byte("prefix"), field, &s.p, s.created)
			want := []byte("prefix")
			for _, kv := range semconv.ProcessAttributes(&s.p, s.created, nil) {
				want = appendKeyValue(want, field, kv)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, field %d: cached encoding differs from a fresh one", s.name, field)
			}
		}
	}
}
