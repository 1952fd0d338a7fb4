package freebsd

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/procotel/procotel/semconv"
)

func testSchema(t testing.TB) *Schema {
	t.Helper()
	p, err := NewProgram(ProgramOptions{StrSize: 64, ArgvMax: 64})
	if err != nil {
		t.Fatal(err)
	}
	return &p.Schema
}

// scenario is a shell (pid 100) that forks 200, which execs /bin/ls (argv
// from the kernel's cache), fails to exec /nope, and exits 3; the shell
// also signals 300, which ignores it, and 200 dies of SIGSEGV with a core.
func scenario() []firing {
	return []firing{
		fire(TagCreate, 0, 100, 100100, 1, 1000, "sh",
			map[string]int64{"child_pid": 200, "child_tid": 100200, "child_start": 200_000_000, "flags": 0x14}, nil),
		fire(TagExec, 1, 200, 100200, 100, 2000, "sh", nil, map[string]string{"path": "/bin/ls"}),
		fire(TagExecSuccess, 1, 200, 100200, 100, 3000, "ls", nil, map[string]string{"path": "/bin/ls", "jail_name": "web"}),
		{tag: TagExecArgs, cpu: 1, ints: map[string]int64{"timestamp": 3000, "pid": 200, "tid": 100200},
			argv: []byte("ls\x00-l\x00/tmp\x00")},
		fire(TagExec, 1, 200, 100200, 100, 4000, "ls", nil, map[string]string{"path": "/nope"}),
		fire(TagExecFailure, 1, 200, 100200, 100, 5000, "ls", map[string]int64{"errno": 2}, nil),
		fire(TagSignalSend, 0, 100, 100100, 1, 6000, "sh",
			map[string]int64{"target_pid": 300, "target_tid": 100300, "target_start": 300_000_000, "target_jid": 4, "signo": 15}, nil),
		fire(TagSignalDiscard, 0, 100, 100100, 1, 6001, "sh",
			map[string]int64{"target_pid": 300, "target_tid": 100300, "target_start": 300_000_000, "target_jid": 4, "signo": 15}, nil),
		fire(TagSignalClear, 0, 300, 100300, 1, 6500, "waiter", map[string]int64{"signo": 10, "code": 65543, "sender_pid": 100}, nil),
		fire(TagExit, 1, 200, 100200, 100, 7000, "ls", map[string]int64{"reason": 3, "xexit": 0, "xsig": 11}, nil),
		fire(TagExit, 0, 100, 100100, 1, 8000, "sh", map[string]int64{"reason": 1, "xexit": 3, "xsig": 0}, nil),
	}
}

func decodeAll(t testing.TB, s *Schema, stream []byte) ([]semconv.Event, int) {
	t.Helper()
	d := NewDecoder(s)
	seq := Sequencer{}
	var errs int
	for len(stream) > 0 {
		f, rest, err := NextFrame(stream)
		stream = rest
		if err != nil {
			errs++
			continue
		}
		dec, err := d.Decode(f)
		if err != nil {
			errs++
			continue
		}
		seq.Push(dec)
	}
	return seq.Flush(nil), errs
}

func TestDecodeScenario(t *testing.T) {
	s := testSchema(t)
	var stream []byte
	fs := scenario()
	// Deliver CPU 1's buffer before CPU 0's, as libdtrace may without
	// the temporal option: the sequencer restores kernel order.
	for _, cpu := range []int32{1, 0} {
		for _, f := range fs {
			if f.cpu == cpu {
				stream = AppendFrame(stream, f.frame(t, s))
			}
		}
	}
	evs, errs := decodeAll(t, s, stream)
	if errs != 0 {
		t.Fatalf("%d decode errors", errs)
	}
	kinds := make([]semconv.Kind, len(evs))
	for i, e := range evs {
		kinds[i] = e.Kind
		if e.OS != semconv.OSFreeBSD {
			t.Errorf("event %d: OS %v", i, e.OS)
		}
		if i > 0 && evs[i-1].BootNS > e.BootNS {
			t.Errorf("event %d out of order", i)
		}
	}
	want := []semconv.Kind{semconv.KindFork, semconv.KindExecAttempt, semconv.KindExec,
		semconv.KindExecAttempt, semconv.KindExecFailed, semconv.KindSignal, semconv.KindSignal,
		semconv.KindSignal, semconv.KindExit, semconv.KindExit}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}

	fork := evs[0]
	if fork.Process.PID != 200 || fork.Process.PPID != 100 || fork.Process.Start != 200_000_000 ||
		fork.Process.ParentStart != 100_000_000 || fork.Fork.ParentTID != 100100 || fork.Fork.CloneFlags != 0x14 ||
		fork.Process.TID != 100200 || fork.Process.JailID != 2 {
		t.Errorf("fork: %+v", fork)
	}
	if got := fork.Time.UnixNano(); got != 1_700_000_000_000_001_000 {
		t.Errorf("fork wall time %d", got)
	}
	if evs[1].Exec.Filename != "/bin/ls" || evs[1].Process.TID != 100200 {
		t.Errorf("exec attempt: %+v", evs[1].Exec)
	}
	ex := evs[2]
	if ex.Process.Exe != "/bin/ls" || ex.Process.JailName != "web" || ex.Process.Comm != "ls" ||
		!reflect.DeepEqual(ex.Process.Argv, []string{"ls", "-l", "/tmp"}) || ex.Process.ArgvTruncated {
		t.Errorf("exec: %+v", ex.Process)
	}
	if ex.Process.UID != 1001 || ex.Process.EUID != 0 || ex.Process.SID != 500 || ex.Process.PGID != 200 {
		t.Errorf("exec creds/session: %+v", ex.Process)
	}
	if evs[4].Exec.Errno != 2 {
		t.Errorf("exec failed errno %d", evs[4].Exec.Errno)
	}
	send, ign, clr := evs[5], evs[6], evs[7]
	if send.Process.PID != 300 || send.Process.Start != 300_000_000 || send.Process.JailID != 4 ||
		send.Signal.Signo != 15 || send.Signal.SenderPID != 100 || send.Signal.SenderComm != "sh" ||
		send.Signal.Outcome != semconv.SignalGenerated || send.Signal.TargetTID != 100300 {
		t.Errorf("signal-send: %+v %+v", send.Process, send.Signal)
	}
	if ign.Signal.Outcome != semconv.SignalIgnored {
		t.Errorf("signal-discard outcome %v", ign.Signal.Outcome)
	}
	if clr.Process.PID != 300 || clr.Signal.Outcome != semconv.SignalCleared || clr.Signal.SenderPID != 100 || clr.Signal.Signo != 10 {
		t.Errorf("signal-clear: %+v", clr.Signal)
	}
	core, ok := evs[8], evs[9]
	if core.Exit != (semconv.ExitInfo{Signal: 11, CoreDumped: true}) {
		t.Errorf("killed exit: %+v", core.Exit)
	}
	if ok.Exit != (semconv.ExitInfo{Code: 3}) || ok.Process.PID != 100 {
		t.Errorf("normal exit: %+v", ok.Exit)
	}
}

func TestDecodeTruncation(t *testing.T) {
	s := testSchema(t)
	long := make([]byte, 64)
	for i := range long {
		long[i] = 'x'
	}
	f := fire(TagExec, 0, 1, 1, 0, 1, string(long), nil, map[string]string{"path": string(long)})
	d, err := NewDecoder(s).Decode(f.frame(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if d.Truncated != 2 || len(d.Event.Exec.Filename) != 64 {
		t.Errorf("truncated %d, filename %d bytes", d.Truncated, len(d.Event.Exec.Filename))
	}
	a := firing{tag: TagExecArgs, ints: map[string]int64{"pid": 1, "tid": 1}, argv: []byte("a\x00b\x00"), argvLen: 500}
	d, err = NewDecoder(s).Decode(a.frame(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if !d.ArgsOnly || !d.Event.Process.ArgvTruncated || d.Truncated != 1 {
		t.Errorf("argv longer than the capture: %+v", d)
	}
}

func TestDecodeMalformed(t *testing.T) {
	s := testSchema(t)
	good := fire(TagExit, 0, 1, 1, 0, 1, "x", map[string]int64{"reason": 1}, nil).frame(t, s)
	mutate := func(f func(fr *Frame)) Frame {
		fr := Frame{CPU: good.CPU, Records: append([]Record(nil), good.Records...)}
		f(&fr)
		return fr
	}
	cases := map[string]Frame{
		"empty":       {},
		"unknown tag": mutate(func(fr *Frame) { fr.Records[0] = Record{Action: 1, Data: binary.LittleEndian.AppendUint64(nil, 99)} }),
		"short":       mutate(func(fr *Frame) { fr.Records = fr.Records[:5] }),
		"bad size":    mutate(func(fr *Frame) { fr.Records[3] = Record{Action: 1, Data: []byte{1, 2, 3, 4}} }),
		"bad action":  mutate(func(fr *Frame) { fr.Records[3] = Record{Action: 3, Data: make([]byte, 8)} }),
		"bad reason": mutate(func(fr *Frame) {
			fr.Records[len(fr.Records)-3] = Record{Action: 1, Data: binary.LittleEndian.AppendUint64(nil, 9)}
		}),
	}
	for name, fr := range cases {
		if _, err := NewDecoder(s).Decode(fr); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}

	// Framing errors: a bad length loses the rest, a bad body only itself.
	stream := AppendFrame(nil, good)
	if _, rest, err := NextFrame(stream[:len(stream)-1]); err == nil || rest != nil {
		t.Errorf("cut stream: err %v rest %d", err, len(rest))
	}
	bad := binary.LittleEndian.AppendUint32(nil, 8)
	bad = binary.LittleEndian.AppendUint32(bad, 0)
	bad = binary.LittleEndian.AppendUint32(bad, 1) // one record, no bytes for it
	bad = append(bad, stream...)
	_, rest, err := NextFrame(bad)
	if !errors.Is(err, ErrMalformed) || len(rest) != len(stream) {
		t.Fatalf("bad body: err %v, rest %d want %d", err, len(rest), len(stream))
	}
	if _, _, err := NextFrame(rest); err != nil {
		t.Errorf("frame after a bad body: %v", err)
	}
}

func TestSequencerWindow(t *testing.T) {
	seq := Sequencer{Window: 100}
	for _, ts := range []uint64{50, 10, 300, 120} {
		seq.Push(Decoded{Event: semconv.Event{Kind: semconv.KindExit, BootNS: ts}})
	}
	got := seq.Ready(nil)
	if len(got) != 3 || got[0].BootNS != 10 || got[1].BootNS != 50 || got[2].BootNS != 120 {
		t.Fatalf("ready: %v", got)
	}
	seq.Push(Decoded{ArgsOnly: true, Event: semconv.Event{BootNS: 1}})
	if seq.Orphans != 1 {
		t.Errorf("orphans %d", seq.Orphans)
	}
	if rest := seq.Flush(nil); len(rest) != 1 || rest[0].BootNS != 300 || seq.Len() != 0 {
		t.Errorf("flush: %v", rest)
	}
}

func FuzzDecode(f *testing.F) {
	s := testSchema(f)
	var all []byte
	for _, fr := range scenario() {
		one := AppendFrame(nil, fr.frame(f, s))
		f.Add(one)
		all = append(all, one...)
	}
	f.Add(all)
	f.Add([]byte{})
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0})
	d := NewDecoder(s)
	f.Fuzz(func(t *testing.T, stream []byte) {
		seq := Sequencer{Window: 10}
		for len(stream) > 0 {
			fr, rest, err := NextFrame(stream)
			stream = rest
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error does not wrap ErrMalformed: %v", err)
				}
				continue
			}
			dec, err := d.Decode(fr)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error does not wrap ErrMalformed: %v", err)
				}
				continue
			}
			seq.Push(dec)
			seq.Ready(nil)
		}
		seq.Flush(nil)
	})
}

// TestDecodeAuditAndSetID: the credential's audit ids map to the login
// uid and session, unset values (AU_DEFAUDITID, AU_DEFAUDITSID) to none;
// an exec is set-user-ID (set-group-ID) when P_SUGID is set and the
// effective id differs from the real one and from the one before the exec.
func TestDecodeAuditAndSetID(t *testing.T) {
	s := testSchema(t)
	d := NewDecoder(s)
	decode := func(f firing) semconv.Event {
		t.Helper()
		out, err := d.Decode(f.frame(t, s))
		if err != nil {
			t.Fatal(err)
		}
		return out.Event
	}
	// common: uid 1001, euid 0, gid 1001, egid 0.
	exec := func(sugid, oldEUID, oldEGID int64) firing {
		return fire(TagExecSuccess, 0, 200, 100200, 100, 3000, "su",
			map[string]int64{"sugid": sugid, "old_euid": oldEUID, "old_egid": oldEGID, "auid": 1001, "asid": 7},
			map[string]string{"path": "/usr/bin/su"})
	}
	e := decode(exec(pSugid, 1001+1, 1001+1))
	if l, ok := e.Process.LoginUID.Get(); !ok || l != 1001 {
		t.Errorf("login uid %v, want 1001", e.Process.LoginUID)
	}
	if a, ok := e.Process.AuditSessionID.Get(); !ok || a != 7 {
		t.Errorf("audit session %v, want 7", e.Process.AuditSessionID)
	}
	if !e.Exec.SetUID || !e.Exec.SetGID {
		t.Errorf("set-id exec from 1001 to euid 0: setuid %v setgid %v", e.Exec.SetUID, e.Exec.SetGID)
	}
	for _, c := range []struct {
		name                    string
		sugid, oldEUID, oldEGID int64
	}{
		{"no P_SUGID", 0, 1001 + 1, 1001 + 1},
		{"P_SUGID kept from before, ids unchanged", pSugid, 0 + 1, 0 + 1},
		{"no exec attempt recorded", pSugid, 0, 0},
	} {
		if e := decode(exec(c.sugid, c.oldEUID, c.oldEGID)); e.Exec.SetUID || e.Exec.SetGID {
			t.Errorf("%s: setuid %v setgid %v, want neither", c.name, e.Exec.SetUID, e.Exec.SetGID)
		}
	}
	unset := decode(fire(TagExit, 0, 200, 100200, 100, 4000, "sh", map[string]int64{"reason": cldExited}, nil))
	if unset.Process.LoginUID != 0 || unset.Process.AuditSessionID != 0 {
		t.Errorf("unset audit ids: login %v session %v, want none", unset.Process.LoginUID, unset.Process.AuditSessionID)
	}
}
