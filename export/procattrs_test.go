package export

import (
	"bytes"
	"reflect"
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

// Every field of a process that its attributes show, changed alone, gives
// a fresh encoding: the parts the cache keeps (identity and place per
// process, the program per program) each notice it. Fields are found by
// reflection, so a field added to semconv.Process is tried too.
func TestProcAttrsEveryField(t *testing.T) {
	created := time.Date(2026, 12, 2, 4, 0, 0, 5, time.UTC)
	base := semconv.Process{PID: 700, TID: 700, PPID: 1, NSPID: 7, Start: 5e9, ParentStart: 1e9,
		Creds: semconv.Creds{UID: 1, EUID: 2, GID: 3, EGID: 4}, PGID: 700, SID: 600, TTY: "pts/1",
		Comm: "sh", Exe: "/bin/sh", Argv: []string{"sh", "-c", "x"}, Cwd: "/", CgroupID: 9,
		CgroupPath: "/user.slice", ContainerID: "c1", ContainerName: "n1", ContainerRuntime: "docker",
		JailID: 2, JailName: "j", LoginUID: semconv.MakeAuditID(1000), AuditSessionID: semconv.MakeAuditID(3)}
	fresh := func(p *semconv.Process, field int) []byte {
		var b []byte
		for _, kv := range semconv.ProcessAttributes(p, created, nil) {
			b = appendKeyValue(b, field, kv)
		}
		return b
	}
	c := newProcAttrs()
	rt := reflect.TypeOf(base)
	var mutated int
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		for i := 0; i < v.NumField(); i++ {
			f, fname := v.Field(i), name+v.Type().Field(i).Name
			if f.Kind() == reflect.Struct {
				walk(f, fname+".")
				continue
			}
			// The base first, so the cache holds it, then the change.
			for _, field := range []int{logAttributes, spanAttributes} {
				if got := c.append(nil, field, &base, created); !bytes.Equal(got, fresh(&base, field)) {
					t.Fatalf("base before %s: cached encoding differs from a fresh one", fname)
				}
			}
			p := base
			pv := reflect.ValueOf(&p).Elem()
			for _, part := range strings.Split(fname, ".") {
				pv = pv.FieldByName(part)
			}
			switch pv.Kind() {
			case reflect.String:
				pv.SetString(pv.String() + "-changed")
			case reflect.Int32, reflect.Int64:
				pv.SetInt(pv.Int() + 1)
			case reflect.Uint32, reflect.Uint64:
				pv.SetUint(pv.Uint() + 1)
			case reflect.Bool:
				pv.SetBool(!pv.Bool())
			case reflect.Slice:
				pv.Set(reflect.ValueOf([]string{"sh", "-c", "y"}))
			default:
				t.Fatalf("field %s of kind %s: teach this test to change it", fname, pv.Kind())
			}
			mutated++
			for _, field := range []int{logAttributes, spanAttributes} {
				if got, want := c.append(nil, field, &p, created), fresh(&p, field); !bytes.Equal(got, want) {
					t.Errorf("%s changed, field %d: cached encoding differs from a fresh one", fname, field)
				}
			}
		}
	}
	walk(reflect.ValueOf(base), "")
	if mutated < rt.NumField() {
		t.Fatalf("changed %d fields, fewer than Process has (%d)", mutated, rt.NumField())
	}
}

// A fork's child runs its parent's program and an exec a program other
// processes ran: both reuse the program's encoding, and a fork encodes
// only the child's identity and place.
func TestProcAttrsReusesPrograms(t *testing.T) {
	created := time.Date(2026, 12, 2, 4, 0, 0, 5, time.UTC)
	parent := semconv.Process{PID: 100, PPID: 1, Comm: "make", Exe: "/usr/bin/make", Argv: []string{"make", "-j2"}, Cwd: "/src"}
	c := newProcAttrs()
	c.append(nil, logAttributes, &parent, created)
	child := parent
	child.PID, child.PPID = 101, 100
	c.append(nil, logAttributes, &child, created.Add(time.Second))
	execd := child
	execd.Comm, execd.Exe, execd.Argv = "cc", "/usr/bin/cc", []string{"cc", "-c", "a.c"}
	c.append(nil, logAttributes, &execd, created.Add(time.Second))
	other := execd
	other.PID = 102
	c.append(nil, logAttributes, &other, created.Add(2*time.Second))
	images := 0
	for _, im := range c.images {
		if im.ok {
			images++
		}
	}
	if images != 2 {
		t.Errorf("%d programs encoded for make, its child and two cc processes; want 2", images)
	}
}
