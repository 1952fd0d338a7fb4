//go:build linux && cgo && dtracefake

package freebsd

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// fakeFixture writes the fake libdtrace's fixture: one enabled-probe
// description per clause of s laid out as the kernel lays out an ECB (a
// 12-byte record header, then each record at its natural alignment), then
// the entries.
type fakeFixture struct {
	s   *Schema
	buf []byte
}

func newFakeFixture(s *Schema) *fakeFixture {
	f := &fakeFixture{s: s}
	f.buf = append(f.buf, "PTDTFAK1"...)
	f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(len(s.Clauses)))
	for i := range s.Clauses {
		size, recs := f.layout(&s.Clauses[i])
		f.buf = binary.LittleEndian.AppendUint32(f.buf, size)
		f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(len(recs)))
		for _, r := range recs {
			f.buf = binary.LittleEndian.AppendUint16(f.buf, r.action)
			f.buf = binary.LittleEndian.AppendUint16(f.buf, r.align)
			f.buf = binary.LittleEndian.AppendUint32(f.buf, r.size)
			f.buf = binary.LittleEndian.AppendUint32(f.buf, r.offset)
		}
	}
	return f
}

type fakeRec struct {
	action, align uint16
	size, offset  uint32
}

func (f *fakeFixture) layout(c *Clause) (uint32, []fakeRec) {
	off := uint32(12) // dtrace_rechdr_t: epid + split timestamp
	var recs []fakeRec
	for _, fd := range c.Fields {
		r := fakeRec{action: actDIFExpr, align: 8, size: uint32(fd.Size)}
		switch fd.Type {
		case FieldString:
			r.align = 1
		case FieldMemLen:
			r.action = actTraceMemDynSize
		case FieldMem:
			r.action, r.align = actTraceMem, 1
		}
		off = (off + uint32(r.align) - 1) &^ (uint32(r.align) - 1)
		r.offset = off
		off += r.size
		recs = append(recs, r)
	}
	return (off + 7) &^ 7, recs
}

func (f *fakeFixture) fire(t *testing.T, fr firing) {
	t.Helper()
	idx := -1
	for i := range f.s.Clauses {
		if f.s.Clauses[i].Tag == fr.tag {
			idx = i
		}
	}
	size, layout := f.layout(&f.s.Clauses[idx])
	data := make([]byte, size)
	binary.LittleEndian.PutUint32(data, uint32(idx+1))
	for i, r := range fr.records(t, f.s) {
		copy(data[layout[i].offset:], r.Data)
	}
	f.buf = append(f.buf, 1)
	f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(idx))
	f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(fr.cpu))
	f.buf = binary.LittleEndian.AppendUint32(f.buf, size)
	f.buf = append(f.buf, data...)
}

func (f *fakeFixture) drop(kind uint32, n uint64) {
	f.buf = append(f.buf, 2)
	f.buf = binary.LittleEndian.AppendUint32(f.buf, kind)
	f.buf = binary.LittleEndian.AppendUint64(f.buf, n)
}

func (f *fakeFixture) probeError(clause int, fault int32, msg string) {
	f.buf = append(f.buf, 3)
	f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(clause))
	f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(fault))
	f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(len(msg)))
	f.buf = append(f.buf, msg...)
}

func (f *fakeFixture) endBatch() { f.buf = append(f.buf, 4) }

func (f *fakeFixture) write(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "fixture.bin")
	if err := os.WriteFile(path, f.buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fakeBackend(t *testing.T, opts backends.Options) *DTrace {
	t.Helper()
	h := defaultHost()
	h.existing = func() ([]semconv.Process, error) {
		return []semconv.Process{{PID: 1, Comm: "init"}, {PID: 50, Comm: "nginx", JailID: 2}}, nil
	}
	h.jailName = func(jid int32) (string, error) {
		if jid == 4 {
			return "db", nil
		}
		return "", errors.New("no such jail")
	}
	b, err := newDTrace(opts, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func runToEnd(t *testing.T, b *DTrace) ([]semconv.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	out := semconv.NewQueue(64, 0)
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx, out); out.Close() }()
	var evs []semconv.Event
	out.Consume(func(e *semconv.Event) { evs = append(evs, *e) })
	return evs, <-errc
}

// TestFakeLibdtraceReplay runs the generated clauses, the real shim and the
// decoder against the fake libdtrace replaying the decoder test scenario in
// three dtrace_work batches, with drops and a probe error in between.
func TestFakeLibdtraceReplay(t *testing.T) {
	b := fakeBackend(t, backends.Options{})
	fx := newFakeFixture(&b.Program().Schema)
	fs := scenario()
	for i, f := range fs {
		fx.fire(t, f)
		switch i {
		case 3:
			fx.drop(0, 5) // principal buffer full
			fx.endBatch()
		case 7:
			fx.probeError(4, 1, "error on enabled probe ID 5: invalid address (0x0)")
			fx.drop(6, 2)
			fx.endBatch()
		}
	}
	t.Setenv("DTRACEFAKE_FIXTURE", fx.write(t))

	evs, err := runToEnd(t, b)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Kind.String())
	}
	want := []string{"existing", "existing", "fork", "exec_attempt", "exec", "exec_attempt", "exec_failed",
		"signal", "signal", "signal", "exit", "exit"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v\nwant  %v", got, want)
	}
	byKind := func(k semconv.Kind, n int) semconv.Event {
		for _, e := range evs {
			if e.Kind == k {
				if n == 0 {
					return e
				}
				n--
			}
		}
		t.Fatalf("no %v #%d", k, n)
		return semconv.Event{}
	}
	if fork := byKind(semconv.KindFork, 0); fork.Process.PID != 200 || fork.Process.PPID != 100 || fork.Fork.CloneFlags != 0x14 {
		t.Errorf("fork: %+v", fork.Process)
	}
	ex := byKind(semconv.KindExec, 0)
	if ex.Process.Exe != "/bin/ls" || ex.Process.JailName != "web" || ex.Process.JailID != 2 ||
		!reflect.DeepEqual(ex.Process.Argv, []string{"ls", "-l", "/tmp"}) {
		t.Errorf("exec: %+v", ex.Process)
	}
	// Jail 2's name was learnt from the exec record; later events of the
	// jail carry it without a jail_get.
	if e := byKind(semconv.KindExit, 0); e.Process.JailName != "web" || !e.Exit.CoreDumped || e.Exit.Signal != 11 {
		t.Errorf("exit of 200: %+v %+v", e.Process, e.Exit)
	}
	if e := byKind(semconv.KindExit, 1); e.Exit.Code != 3 || e.Process.PID != 100 {
		t.Errorf("exit of 100: %+v", e.Exit)
	}
	if e := byKind(semconv.KindExecFailed, 0); e.Exec.Errno != 2 || e.Process.PID != 200 {
		t.Errorf("exec failed: %+v", e.Exec)
	}
	// Jail 4 (the signal target's) is resolved through the lookup.
	if e := byKind(semconv.KindSignal, 0); e.Process.JailName != "db" || e.Signal.Signo != 15 || e.Process.PID != 300 {
		t.Errorf("signal: %+v %+v", e.Process, e.Signal)
	}
	// Seeded before any exec record named jail 2, and the lookup does not
	// know it: no name, and the miss is counted.
	if e := byKind(semconv.KindExisting, 1); e.Process.PID != 50 || e.Process.JailName != "" || b.jail.Misses() == 0 {
		t.Errorf("existing: %+v", e.Process)
	}

	st, ds := b.Stats(), b.DTraceStats()
	if st.Lost[semconv.KindInvalid] != 8 || ds.Drops[0] != 5 || ds.Drops[6] != 2 || ds.ProbeErrors != 1 ||
		!strings.Contains(ds.LastProbeError, "invalid address") {
		t.Errorf("drops: stats %+v dtrace %+v", st.Lost, ds)
	}
	if st.Received[semconv.KindExit] != 2 || st.Received[semconv.KindSignal] != 3 || st.DecodeErrors != 0 || st.Existing != 2 {
		t.Errorf("stats: %+v", st)
	}
	if caps := b.Capabilities(); caps.OS != semconv.OSFreeBSD || !caps.Jails || len(caps.Notes) == 0 {
		t.Errorf("capabilities: %+v", caps)
	}
}

func TestFakeLibdtraceJailPredicate(t *testing.T) {
	b := fakeBackend(t, backends.Options{Jails: []int32{2}})
	fx := newFakeFixture(&b.Program().Schema)
	t.Setenv("DTRACEFAKE_FIXTURE", fx.write(t))
	if _, err := runToEnd(t, b); err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Program().Schema.Clauses {
		if !strings.Contains(c.Source(), "pr_id == 2") {
			t.Errorf("clause %s enabled without the jail predicate", c.Probe)
		}
	}
}

func TestFakeLibdtraceOpenFails(t *testing.T) {
	b := fakeBackend(t, backends.Options{})
	t.Setenv("DTRACEFAKE_FIXTURE", newFakeFixture(&b.Program().Schema).write(t))
	t.Setenv("DTRACEFAKE_OPEN_ERR", "1")
	err := b.Start(context.Background())
	var mf *backends.MissingFeatureError
	if !errors.As(err, &mf) || !strings.Contains(err.Error(), "/dev/dtrace/dtrace") {
		t.Fatalf("start: %v, want a MissingFeatureError with libdtrace's reason", err)
	}
}

func TestFakeLibdtraceProbeMissing(t *testing.T) {
	for env, want := range map[string]string{
		"DTRACEFAKE_UNMATCHED": "proc:::signal-clear does not match any probes",
		"DTRACEFAKE_ZEROMATCH": "matched no probe",
	} {
		t.Run(env, func(t *testing.T) {
			b := fakeBackend(t, backends.Options{})
			t.Setenv("DTRACEFAKE_FIXTURE", newFakeFixture(&b.Program().Schema).write(t))
			t.Setenv(env, "signal-clear")
			err := b.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "proc:::signal-clear") {
				t.Fatalf("start: %v, want %q naming the probe", err, want)
			}
		})
	}
}

func TestFakeLibdtraceCorruptDescription(t *testing.T) {
	// A firing whose description claims a record past the end of the
	// firing is refused by the shim and counted, never copied.
	b := fakeBackend(t, backends.Options{})
	fx := newFakeFixture(&b.Program().Schema)
	fx.fire(t, scenario()[0])
	// Corrupt the first record's offset of probe 0 to lie beyond its size.
	off := 8 + 4 + 8 + 8 // magic, nprobes, size+nrecs, action/align/size
	binary.LittleEndian.PutUint32(fx.buf[off:], 1<<20)
	t.Setenv("DTRACEFAKE_FIXTURE", fx.write(t))
	evs, err := runToEnd(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.DecodeErrors != 1 || len(evs) != 2 {
		t.Errorf("decode errors %d, events %d (want 1 and the 2 existing)", st.DecodeErrors, len(evs))
	}
}
