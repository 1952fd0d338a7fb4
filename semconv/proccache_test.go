package semconv

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// newListCache returns a cache that keeps attribute lists, and parts,
// which returns the three parts of p joined (what ProcessAttributes gives).
func newListCache() (*ProcessCache[[]attribute.KeyValue], func(p *Process, created time.Time) []attribute.KeyValue) {
	c := NewProcessCache(func(dst, attrs []attribute.KeyValue) []attribute.KeyValue {
		return append(dst[:0], attrs...)
	})
	return c, func(p *Process, created time.Time) []attribute.KeyValue {
		ident, image, place, ok := c.Parts(p, created)
		if !ok {
			return nil
		}
		return slices.Concat(ident, image, place)
	}
}

// The cache returns what ProcessAttributes returns, whatever changed
// between two calls for a pid: an exec, a reused pid, a colliding pid,
// another creation time.
func TestProcessCacheMatchesFresh(t *testing.T) {
	created := time.Date(2026, 11, 22, 4, 0, 0, 123456789, time.UTC)
	p := Process{PID: 700, PPID: 1, Start: 5e9, Comm: "sh", Exe: "/bin/sh", Argv: []string{"sh", "-c", "x"},
		Cwd: "/", PGID: 700, SID: 700, CgroupPath: "/user.slice"}
	execd := p
	execd.Comm, execd.Exe, execd.Argv = "ls", "/usr/bin/ls", []string{"ls", "-l"}
	argv := p
	argv.Argv = []string{"sh", "-c", "y"}
	reparented := p
	reparented.PPID = 1000
	collide := p
	collide.PID = p.PID + processCacheSlots
	container := p
	container.ContainerID, container.ContainerRuntime = "abc", "docker"
	steps := []struct {
		name    string
		p       Process
		created time.Time
	}{
		{"first", p, created},
		{"again", p, created},
		{"exec", execd, created},
		{"argv", argv, created},
		{"back", p, created},
		{"created", p, created.Add(time.Millisecond)},
		{"no created", p, time.Time{}},
		{"reparented", reparented, created},
		{"colliding pid", collide, created},
		{"after collision", p, created},
		{"container", container, created},
	}
	_, parts := newListCache()
	for _, s := range steps {
		got, want := parts(&s.p, s.created), ProcessAttributes(&s.p, s.created, nil)
		if !slices.Equal(got, want) {
			t.Errorf("%s: cached attributes\n%v\ndiffer from fresh ones\n%v", s.name, got, want)
		}
	}
	if _, _, _, ok := NewProcessCache(func(dst, _ []attribute.KeyValue) []attribute.KeyValue { return dst }).Parts(&Process{CgroupID: 5}, created); ok {
		t.Error("a cgroup's attributes (no pid) were kept")
	}
}

// Every field of a process that its attributes show, changed alone, gives
// fresh attributes: the parts the cache keeps (identity and place per
// process, the program per program) each notice it. Fields are found by
// reflection, so a field added to Process is tried too.
func TestProcessCacheEveryField(t *testing.T) {
	created := time.Date(2026, 12, 2, 4, 0, 0, 5, time.UTC)
	base := Process{PID: 700, TID: 700, PPID: 1, NSPID: 7, Start: 5e9, ParentStart: 1e9,
		Creds: Creds{UID: 1, EUID: 2, GID: 3, EGID: 4}, PGID: 700, SID: 600, TTY: "pts/1",
		Comm: "sh", Exe: "/bin/sh", Argv: []string{"sh", "-c", "x"}, Cwd: "/", CgroupID: 9,
		CgroupPath: "/user.slice", ContainerID: "c1", ContainerName: "n1", ContainerRuntime: "docker",
		JailID: 2, JailName: "j", LoginUID: MakeAuditID(1000), AuditSessionID: MakeAuditID(3)}
	_, parts := newListCache()
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
			if got := parts(&base, created); !slices.Equal(got, ProcessAttributes(&base, created, nil)) {
				t.Fatalf("base before %s: cached attributes differ from fresh ones", fname)
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
			if got, want := parts(&p, created), ProcessAttributes(&p, created, nil); !slices.Equal(got, want) {
				t.Errorf("%s changed: cached attributes\n%v\ndiffer from fresh ones\n%v", fname, got, want)
			}
		}
	}
	walk(reflect.ValueOf(base), "")
	if mutated < rt.NumField() {
		t.Fatalf("changed %d fields, fewer than Process has (%d)", mutated, rt.NumField())
	}
}

// A fork's child runs its parent's program and an exec a program other
// processes ran: both reuse the program's attributes, and a fork converts
// only the child's identity and place.
func TestProcessCacheReusesPrograms(t *testing.T) {
	created := time.Date(2026, 12, 2, 4, 0, 0, 5, time.UTC)
	parent := Process{PID: 100, PPID: 1, Comm: "make", Exe: "/usr/bin/make", Argv: []string{"make", "-j2"}, Cwd: "/src"}
	converted := 0
	c := NewProcessCache(func(dst, attrs []attribute.KeyValue) []attribute.KeyValue {
		converted++
		return append(dst[:0], attrs...)
	})
	// Each step converts only what the cache did not hold: the count
	// after it (whichever slots the two programs hash to).
	steps := []struct {
		name string
		p    Process
		at   time.Time
		want int
	}{
		{"make: identity, program, place", parent, created, 3},
		{"its child: identity, place", child(parent), created.Add(time.Second), 5},
		{"the child's exec of cc: program", execd(child(parent)), created.Add(time.Second), 6},
		{"another cc: identity, place", other(execd(child(parent))), created.Add(2 * time.Second), 8},
		{"that cc again: nothing", other(execd(child(parent))), created.Add(2 * time.Second), 8},
	}
	for _, st := range steps {
		c.Parts(&st.p, st.at)
		if converted != st.want {
			t.Errorf("after %s: %d conversions, want %d", st.name, converted, st.want)
		}
	}
}

func child(parent Process) Process {
	c := parent
	c.PID, c.PPID = 101, 100
	return c
}

func execd(p Process) Process {
	p.Comm, p.Exe, p.Argv = "cc", "/usr/bin/cc", []string{"cc", "-c", "a.c"}
	return p
}

func other(p Process) Process {
	p.PID = 102
	return p
}

// A process's slot remembers its program's entry; when that entry has
// since been taken by another program, the process still gets its own
// program's attributes.
func TestProcessCacheProgramTakenOver(t *testing.T) {
	created := time.Date(2026, 12, 4, 4, 0, 0, 0, time.UTC)
	c := NewProcessCache(func(dst, attrs []attribute.KeyValue) []attribute.KeyValue {
		return append(dst[:0], attrs...)
	})
	a := Process{PID: 100, PPID: 1, Comm: "make", Exe: "/usr/bin/make", Argv: []string{"make", "-j2"}, Cwd: "/src"}
	_, image, _, _ := c.Parts(&a, created)
	want := ProcessImageAttributes(&a, nil)
	if !slices.Equal(image, want) {
		t.Fatalf("first lookup: %v, want %v", image, want)
	}
	// A thousand other programs, run by another pid (another slot), take
	// over the 64 program entries (all of them, but for a chance of 1 in
	// 10^7).
	for i := range 1000 {
		p := Process{PID: 300, PPID: 1, Comm: "cc", Exe: "/usr/bin/cc", Argv: []string{"cc", strconv.Itoa(i)}, Cwd: "/src"}
		c.Parts(&p, created)
	}
	if im := c.slots[a.PID&(processCacheSlots-1)].img; im.exe == a.Exe {
		t.Fatal("the program entry of make was not taken over: the test does not test")
	}
	if _, image, _, _ = c.Parts(&a, created); !slices.Equal(image, want) {
		t.Fatalf("after its program entry was taken: %v, want %v", image, want)
	}
}
