package linux

import (
	"errors"
	"reflect"
	"testing"

	"github.com/procotel/procotel/backends/exeid"
	"github.com/procotel/procotel/semconv"
)

// recordBuilder constructs ring buffer records as the BPF programs write them.
type recordBuilder struct{ b []byte }

func newRecord(kind semconv.Kind) *recordBuilder {
	r := &recordBuilder{b: make([]byte, recordSize)}
	r.b[offKind] = byte(kind)
	r.u64(offBootNS, 5_000_000_123)
	r.u32(offCPU, 1)
	r.u32(offPID, 100)
	r.u32(offTID, 101)
	r.u32(offPPID, 1)
	r.u32(offNSPID, 7)
	r.u32(offUID, 1000)
	r.u32(offEUID, 0)
	r.u32(offGID, 1001)
	r.u32(offEGID, 1002)
	r.u32(offPGID, 100)
	r.u32(offSID, 90)
	r.u64(offStart, 4_000_000_000)
	r.u64(offParentStart, 1_000_000)
	r.u64(offCgroupID, 4242)
	copy(r.b[offComm:], "sh\x00garbage")
	copy(r.b[offTTY:], "pts3\x00")
	r.u32(offLoginUID, semconv.AuditUnset)
	r.u32(offSessionID, semconv.AuditUnset)
	return r
}

func (r *recordBuilder) u16(off int, v uint16) { endian.PutUint16(r.b[off:], v) }
func (r *recordBuilder) u32(off int, v uint32) { endian.PutUint32(r.b[off:], v) }
func (r *recordBuilder) u64(off int, v uint64) { endian.PutUint64(r.b[off:], v) }

// tail appends exec strings and sets their lengths.
func (r *recordBuilder) tail(filename, exe, cwd, interp, argv string) *recordBuilder {
	for _, f := range []struct {
		off int
		s   string
	}{{offExecFilenameLen, filename}, {offExecExeLen, exe}, {offExecCwdLen, cwd}, {offExecInterpLen, interp}} {
		n := 0
		if f.s != "" {
			n = len(f.s) + 1
			r.b = append(r.b, f.s...)
			r.b = append(r.b, 0)
		}
		r.u16(f.off, uint16(n))
	}
	r.b = append(r.b, argv...)
	r.u32(offExecArgvLen, uint32(len(argv)))
	return r
}

func (r *recordBuilder) bytes() []byte {
	r.u32(offSize, uint32(len(r.b)))
	return r.b
}

func TestDecodeCommon(t *testing.T) {
	r := newRecord(semconv.KindFork)
	r.u32(offForkParentTID, 99)
	r.u64(offForkCloneFlags, 0x1200011)
	r.u32(offLoginUID, 0)
	r.u32(offSessionID, 3)
	var ev semconv.Event
	if _, err := decodeRecord(r.bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	want := semconv.Event{
		Kind: semconv.KindFork, BootNS: 5_000_000_123, CPU: 1, OS: semconv.OSLinux,
		Process: semconv.Process{
			PID: 100, TID: 101, PPID: 1, NSPID: 7, Start: 4_000_000_000, ParentStart: 1_000_000,
			Creds: semconv.Creds{UID: 1000, EUID: 0, GID: 1001, EGID: 1002},
			PGID:  100, SID: 90, TTY: "pts/3", Comm: "sh", CgroupID: 4242,
			LoginUID: semconv.MakeAuditID(0), AuditSessionID: semconv.MakeAuditID(3),
		},
		Fork: semconv.ForkInfo{ParentTID: 99, CloneFlags: 0x1200011},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestDecodeKinds(t *testing.T) {
	tests := []struct {
		name      string
		rec       []byte
		check     func(t *testing.T, ev *semconv.Event)
		truncated bool
	}{{
		name: "exec",
		rec: func() []byte {
			r := newRecord(semconv.KindExec).tail("./run.sh", "/usr/bin/bash", "/home/u", "/bin/bash", "/bin/bash\x00./run.sh\x00-x\x00")
			r.u32(offExecOldTID, 105)
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			x := semconv.ExecInfo{Filename: "./run.sh", Argv: []string{"/bin/bash", "./run.sh", "-x"}, OldTID: 105, Interpreter: "/bin/bash"}
			if !reflect.DeepEqual(ev.Exec, x) {
				t.Errorf("exec %+v, want %+v", ev.Exec, x)
			}
			p := ev.Process
			if p.Exe != "/usr/bin/bash" || p.Cwd != "/home/u" || !reflect.DeepEqual(p.Argv, x.Argv) {
				t.Errorf("process %+v", p)
			}
		},
	}, {
		name: "throttle stop",
		rec: func() []byte {
			r := newRecord(semconv.KindThrottle)
			r.b[offThrottlePhase] = throttleStop
			r.u32(offThrottleLimit, 50)
			r.u64(offThrottleSuppressed, 450)
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			want := semconv.ThrottleInfo{CgroupID: 4242, Phase: semconv.ThrottleStop, Suppressed: 450, Limit: 50}
			if ev.Throttle != want || ev.Process.CgroupID != 4242 {
				t.Errorf("throttle %+v, cgroup %d; want %+v", ev.Throttle, ev.Process.CgroupID, want)
			}
		},
	}, {
		name: "exec argv cut",
		rec: func() []byte {
			r := newRecord(semconv.KindExec).tail("/bin/echo", "/bin/echo", "/", "", "echo\x00aaaa")
			r.b[offFlags] = flagArgvTruncated
			return r.bytes()
		}(),
		truncated: true,
		check: func(t *testing.T, ev *semconv.Event) {
			if !reflect.DeepEqual(ev.Process.Argv, []string{"echo", "aaaa"}) || !ev.Process.ArgvTruncated || !ev.Exec.ArgvTruncated {
				t.Errorf("argv %q truncated %v", ev.Process.Argv, ev.Process.ArgvTruncated)
			}
		},
	}, {
		name: "exec failed",
		rec: func() []byte {
			r := newRecord(semconv.KindExecFailed).tail("/no/such", "", "", "", "/no/such\x00a\x00")
			r.u32(offExecErr, 2)
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Exec.Errno != 2 || ev.Exec.Filename != "/no/such" || !reflect.DeepEqual(ev.Exec.Argv, []string{"/no/such", "a"}) {
				t.Errorf("exec %+v", ev.Exec)
			}
			if ev.Process.Exe != "" || ev.Process.Argv != nil {
				t.Errorf("a failed exec changed the process: %+v", ev.Process)
			}
		},
	}, {
		name: "exit code",
		rec:  func() []byte { r := newRecord(semconv.KindExit); r.u32(offExitCode, 7<<8); return r.bytes() }(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Exit != (semconv.ExitInfo{Code: 7}) {
				t.Errorf("exit %+v", ev.Exit)
			}
		},
	}, {
		name: "exit signal core",
		rec:  func() []byte { r := newRecord(semconv.KindExit); r.u32(offExitCode, 0x80|11); return r.bytes() }(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Exit != (semconv.ExitInfo{Signal: 11, CoreDumped: true}) {
				t.Errorf("exit %+v", ev.Exit)
			}
		},
	}, {
		name: "reap",
		rec:  func() []byte { r := newRecord(semconv.KindReap); r.u32(offReapReaperPID, 1); return r.bytes() }(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Reap.ReaperPID != 1 {
				t.Errorf("reap %+v", ev.Reap)
			}
		},
	}, {
		name: "reap at free: the parent at release reaped",
		rec: func() []byte {
			r := newRecord(semconv.KindReap)
			r.u32(offReapReaperPID, 0xffffffff)
			r.u32(offPPID, 77)
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Reap.ReaperPID != 77 {
				t.Errorf("reap %+v, want reaper 77 (the parent at release)", ev.Reap)
			}
		},
	}, {
		name: "reap without reaper or parent",
		rec: func() []byte {
			r := newRecord(semconv.KindReap)
			r.u32(offReapReaperPID, 0xffffffff)
			r.u32(offPPID, 0)
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Reap.ReaperPID != 0 {
				t.Errorf("reap %+v", ev.Reap)
			}
		},
	}, {
		name: "signal generated to group",
		rec: func() []byte {
			r := newRecord(semconv.KindSignal)
			r.u32(offSignalSigno, 15)
			r.u32(offSignalSenderPID, 50)
			r.u32(offSignalSenderTID, 51)
			copy(r.b[offSignalSenderComm:], "kill")
			r.b[offFlags] = flagSignalGroup
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			want := semconv.SignalInfo{Signo: 15, SenderPID: 50, SenderTID: 51, SenderComm: "kill", TargetTID: 101,
				Outcome: semconv.SignalGenerated, Group: true}
			if ev.Signal != want {
				t.Errorf("signal %+v, want %+v", ev.Signal, want)
			}
		},
	}, {
		name: "signal discarded",
		rec: func() []byte {
			r := newRecord(semconv.KindSignal)
			r.u32(offSignalResult, traceSignalAlreadyPending)
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Signal.Outcome != semconv.SignalDiscarded {
				t.Errorf("outcome %v", ev.Signal.Outcome)
			}
		},
	}, {
		name: "signal ignored",
		rec: func() []byte {
			r := newRecord(semconv.KindSignal)
			r.u32(offSignalResult, traceSignalIgnored)
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Signal.Outcome != semconv.SignalIgnored {
				t.Errorf("outcome %v", ev.Signal.Outcome)
			}
		},
	}, {
		name: "signal delivered",
		rec: func() []byte {
			r := newRecord(semconv.KindSignal)
			r.b[offFlags] = flagDelivered
			return r.bytes()
		}(),
		check: func(t *testing.T, ev *semconv.Event) {
			if ev.Signal.Outcome != semconv.SignalDelivered {
				t.Errorf("outcome %v", ev.Signal.Outcome)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev semconv.Event
			truncated, err := decodeRecord(tt.rec, &ev)
			if err != nil {
				t.Fatal(err)
			}
			if truncated != tt.truncated {
				t.Errorf("truncated %v, want %v", truncated, tt.truncated)
			}
			tt.check(t, &ev)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := newRecord(semconv.KindExec).tail("/bin/true", "/bin/true", "/", "", "true\x00").bytes()
	tests := []struct {
		name  string
		rec   []byte
		short bool
	}{
		{"empty", nil, true},
		{"short header", good[:recordSize-1], true},
		{"size beyond data", good[:len(good)-1], true},
		{"size below header", func() []byte { b := append([]byte(nil), good...); endian.PutUint32(b[offSize:], 8); return b }(), true},
		{"tail lengths beyond size", func() []byte {
			b := append([]byte(nil), good...)
			endian.PutUint32(b[offExecArgvLen:], 1000)
			return b
		}(), true},
		{"unknown kind", func() []byte { b := append([]byte(nil), good...); b[offKind] = 200; return b }(), false},
		{"invalid kind", func() []byte { b := append([]byte(nil), good...); b[offKind] = 0; return b }(), false},
		{"unknown throttle phase", func() []byte {
			r := newRecord(semconv.KindThrottle)
			r.b[offThrottlePhase] = 3
			return r.bytes()
		}(), false},
		{"unknown signal result", func() []byte {
			r := newRecord(semconv.KindSignal)
			r.u32(offSignalResult, 9)
			return r.bytes()
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev semconv.Event
			_, err := decodeRecord(tt.rec, &ev)
			if err == nil {
				t.Fatal("decoded a malformed record")
			}
			if errors.Is(err, ErrShortRecord) != tt.short {
				t.Errorf("error %v: short = %v, want %v", err, !tt.short, tt.short)
			}
		})
	}
}

func TestSplitArgv(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", []string{""}},
		{"a\x00", []string{"a"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
		{"a\x00bc", []string{"a", "bc"}},
	}
	for _, tt := range tests {
		if got := splitArgv([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitArgv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(newRecord(semconv.KindExec).tail("/bin/sh", "/usr/bin/dash", "/", "", "sh\x00-c\x00").bytes())
	f.Add(newRecord(semconv.KindExecFailed).tail("/x", "", "", "", "x\x00").bytes())
	f.Add(newRecord(semconv.KindSignal).bytes())
	f.Add(newRecord(semconv.KindExit).bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev semconv.Event
		if _, err := decodeRecord(b, &ev); err != nil {
			return
		}
		if !ev.Kind.Valid() || ev.OS != semconv.OSLinux {
			t.Fatalf("decoded %v without error", ev.Kind)
		}
	})
}

func BenchmarkDecodeExec(b *testing.B) {
	rec := newRecord(semconv.KindExec).tail("/bin/sh", "/usr/bin/dash", "/home/user", "", "sh\x00-c\x00exit 7\x00").bytes()
	var ev semconv.Event
	var d decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(rec, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeExit(b *testing.B) {
	rec := newRecord(semconv.KindExit).bytes()
	var ev semconv.Event
	var d decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(rec, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeExecFacts: the exec facts, stdin, identity and the allowed
// variables of the environment block; TRACEPARENT is taken from it.
func TestDecodeExecFacts(t *testing.T) {
	r := newRecord(semconv.KindExec).tail("/x", "/memfd:payload (deleted)", "/", "", "x\x00")
	env := "HOME=/root\x00LD_PRELOAD=/tmp/evil.so\x00TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\x00MY_A=1\x00MYB=2\x00LD_LIBRARY_PATHX=no"
	r.b = append(r.b, env...)
	r.u16(offExecEnvLen, uint16(len(env)))
	r.b[offExecFacts] = factSetUID | factAnon | factNoLink
	r.b[offExecStdin] = 3
	r.u32(offExecDev, 0x800001)
	r.u64(offExecIno, 77)
	r.u64(offExecSize, 1234)
	r.u64(offExecMtimeNS, 99)
	var d decoder
	var err error
	if d.env, err = newEnvFilter([]string{"LD_PRELOAD", "LD_LIBRARY_PATH", "MY_*"}); err != nil {
		t.Fatal(err)
	}
	d.traceParent = true
	var ev semconv.Event
	if _, err := d.decode(r.bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	x := ev.Exec
	if !x.SetUID || x.SetGID || !x.Memfd || x.Deleted || x.Stdin != semconv.StdinPipe {
		t.Errorf("facts: setuid %v setgid %v memfd %v deleted %v stdin %q", x.SetUID, x.SetGID, x.Memfd, x.Deleted, x.Stdin)
	}
	if want := []string{"LD_PRELOAD=/tmp/evil.so", "MY_A=1"}; !reflect.DeepEqual(x.Env, want) {
		t.Errorf("env %q, want %q", x.Env, want)
	}
	if ev.TraceParent != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("traceparent %q", ev.TraceParent)
	}
	if d.exe != (exeid.Key{Dev: 0x800001, Ino: 77, Size: 1234, MtimeNS: 99}) {
		t.Errorf("identity %+v", d.exe)
	}
	if ev.Process.LoginUID != 0 || ev.Process.AuditSessionID != 0 {
		t.Errorf("unset audit ids decoded as %v %v", ev.Process.LoginUID, ev.Process.AuditSessionID)
	}

	// Deleted, not a memfd; no filter: no env.
	r = newRecord(semconv.KindExec).tail("/x", "/tmp/x (deleted)", "/", "", "x\x00")
	r.b[offExecFacts] = factNoLink | factSetGID
	var d2 decoder
	if _, err := d2.decode(r.bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	if x := ev.Exec; x.Memfd || !x.Deleted || !x.SetGID || x.SetUID || x.Env != nil || x.Stdin != "" {
		t.Errorf("deleted: %+v", x)
	}
}

func TestEnvFilterErrors(t *testing.T) {
	for _, p := range []string{"", "*x", "A=B", "*"} {
		if _, err := newEnvFilter([]string{p}); (err == nil) != (p == "*") {
			t.Errorf("pattern %q: err %v", p, err)
		}
	}
}
