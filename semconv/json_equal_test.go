package semconv

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// The reflection-based encoding AppendJSON replaced, kept as the
// reference its output must equal byte for byte.
type (
	refEventFields   Event
	refProcessFields Process
)

type refProcessJSON struct {
	*refProcessFields
	PPID   *int32 `json:"ppid,omitempty"`
	PGID   *int32 `json:"pgid,omitempty"`
	SID    *int32 `json:"sid,omitempty"`
	JailID *int32 `json:"jail_id,omitempty"`
}

type refExitJSON struct {
	Code       int32 `json:"code"`
	Signal     int32 `json:"signal"`
	CoreDumped bool  `json:"core_dumped"`
}

type refSignalJSON struct {
	Signo      int32         `json:"signo"`
	Code       int32         `json:"code"`
	SenderPID  int32         `json:"sender_pid"`
	SenderTID  int32         `json:"sender_tid"`
	SenderComm string        `json:"sender_comm"`
	TargetTID  int32         `json:"target_tid"`
	Outcome    SignalOutcome `json:"outcome"`
	Group      bool          `json:"group"`
}

type refForkJSON struct {
	ParentTID  int32  `json:"parent_tid,omitempty"`
	CloneFlags uint64 `json:"clone_flags"`
}

type refEventJSON struct {
	*refEventFields
	CPU     int32          `json:"cpu"`
	Process refProcessJSON `json:"process"`
	Fork    any            `json:"fork,omitempty"`
	Exit    any            `json:"exit,omitempty"`
	Signal  any            `json:"signal,omitempty"`
}

// refEvent is what the reflection encoder encoded for e.
func refEvent(e *Event) *refEventJSON {
	v := refEventJSON{refEventFields: (*refEventFields)(e), CPU: e.CPU}
	p := &e.Process
	v.Process.refProcessFields = (*refProcessFields)(p)
	if p.PID != 0 {
		v.Process.PPID, v.Process.PGID, v.Process.SID = &p.PPID, &p.PGID, &p.SID
	}
	if p.JailID != 0 || e.OS == OSFreeBSD {
		v.Process.JailID = &p.JailID
	}
	switch {
	case e.Kind == KindFork || e.Kind == KindThreadStart:
		v.Fork = refForkJSON(e.Fork)
	case e.Fork != ForkInfo{}:
		v.Fork = e.Fork
	}
	switch {
	case e.Kind == KindExit || e.Kind == KindThreadExit:
		v.Exit = refExitJSON(e.Exit)
	case e.Exit != ExitInfo{}:
		v.Exit = e.Exit
	}
	switch {
	case e.Kind == KindSignal:
		v.Signal = refSignalJSON(e.Signal)
	case e.Signal != SignalInfo{}:
		v.Signal = e.Signal
	}
	return &v
}

// refJSON encodes e as before: json.Marshal's bytes with html, an
// Encoder's without HTML escaping (its newline dropped) without.
func refJSON(e *Event, html bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(refEvent(e)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// eventGen makes events with every field sometimes zero, sometimes not,
// and strings that need every kind of escaping.
type eventGen struct{ r *rand.Rand }

var genStrings = []string{
	"", "bash", "/usr/bin/curl", "a b", `quo"te`, `back\slash`, "<script>&amp;</script>",
	"tab\there", "nl\nline", "cr\r", "\b\f", "\x00\x01\x1f\x7f", "héllo wörld", "日本語",
	"bad\xffutf8", "\xc3", "\xe2\x80", "line\u2028sep\u2029para", "emoji 😀", "\xed\xa0\x80",
	"A=1", "LD_PRELOAD=/tmp/x.so", "pts/3", "/sys/fs/cgroup/kubepods/pod1234",
}

func (g eventGen) str() string {
	if g.r.IntN(3) == 0 {
		return ""
	}
	if g.r.IntN(4) == 0 { // random bytes, often invalid UTF-8
		b := make([]byte, g.r.IntN(12))
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		return string(b)
	}
	return genStrings[g.r.IntN(len(genStrings))]
}

func (g eventGen) strs() []string {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := make([]string, 1+g.r.IntN(4))
	for i := range out {
		out[i] = g.str()
	}
	return out
}

func (g eventGen) i32() int32 {
	switch g.r.IntN(4) {
	case 0, 1:
		return 0
	case 2:
		return int32(g.r.Uint32())
	}
	return int32(g.r.IntN(70000)) - 2
}

func (g eventGen) u64() uint64 {
	if g.r.IntN(2) == 0 {
		return 0
	}
	return g.r.Uint64() >> g.r.UintN(64)
}

func (g eventGen) flag() bool { return g.r.IntN(3) == 0 }

func (g eventGen) key() Key {
	if g.r.IntN(2) == 0 {
		return Key{}
	}
	return Key{PID: g.i32(), Start: g.u64()}
}

func (g eventGen) time() time.Time {
	switch g.r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(g.r.Int64N(4e9), 0).UTC()
	case 2:
		return time.Unix(g.r.Int64N(4e9), g.r.Int64N(1e9)).In(time.FixedZone("x", g.r.IntN(28*3600)-14*3600))
	}
	return time.Unix(1.7e9+g.r.Int64N(1e8), g.r.Int64N(1e9)).UTC()
}

func (g eventGen) event() Event {
	r := g.r
	e := Event{
		Kind: Kind(r.IntN(NumKinds + 1)), Time: g.time(), BootNS: g.u64(), CPU: g.i32() - 1,
		OS: OS(r.IntN(4)),
		Process: Process{
			PID: g.i32(), TID: g.i32(), PPID: g.i32(), NSPID: g.i32(), Start: g.u64(), ParentStart: g.u64(),
			Creds: Creds{UID: uint32(g.i32()), EUID: uint32(g.i32()), GID: uint32(g.i32()), EGID: uint32(g.i32())},
			PGID:  g.i32(), SID: g.i32(), TTY: g.str(), Comm: g.str(), Exe: g.str(), Argv: g.strs(),
			ArgvTruncated: g.flag(), Cwd: g.str(), CgroupID: g.u64(), CgroupPath: g.str(),
			ContainerID: g.str(), ContainerName: g.str(), ContainerRuntime: g.str(),
			JailID: g.i32(), JailName: g.str(), LoginUID: AuditID(g.u64()), AuditSessionID: AuditID(g.u64() >> 32),
		},
		Lineage: Lineage{Root: g.key(), Creator: g.key(), CreatorRoot: g.key(), TraceParent: g.str(), Unlinked: g.flag()},
	}
	// Each part is set on its own kind mostly, sometimes on another.
	part := func(k ...Kind) bool {
		for _, x := range k {
			if e.Kind == x {
				return r.IntN(4) != 0
			}
		}
		return r.IntN(8) == 0
	}
	if part(KindFork, KindThreadStart) {
		e.Fork = ForkInfo{ParentTID: g.i32(), CloneFlags: g.u64()}
	}
	if part(KindExec, KindExecFailed, KindExecAttempt) {
		e.Exec = ExecInfo{Filename: g.str(), Argv: g.strs(), ArgvTruncated: g.flag(), Errno: g.i32(),
			OldTID: g.i32(), Interpreter: g.str(), ExecFacts: ExecFacts{
				SetUID: g.flag(), SetGID: g.flag(), Memfd: g.flag(), Deleted: g.flag(), HTLHash: g.str(),
				SHA256: g.str(), Env: g.strs(), ParentExe: g.str(), Stdin: g.str()}}
		if r.IntN(10) == 0 {
			e.Exec = ExecInfo{Argv: []string{}}
		}
	}
	if part(KindExit, KindThreadExit) {
		e.Exit = ExitInfo{Code: g.i32(), Signal: g.i32(), CoreDumped: g.flag()}
	}
	if part(KindSignal) {
		e.Signal = SignalInfo{Signo: g.i32(), Code: g.i32(), SenderPID: g.i32(), SenderTID: g.i32(),
			SenderComm: g.str(), TargetTID: g.i32(), Outcome: SignalOutcome(r.IntN(8)), Group: g.flag()}
	}
	if part(KindReap) {
		e.Reap = ReapInfo{ReaperPID: g.i32(), Inferred: g.flag()}
	}
	if part(KindThrottle) {
		e.Throttle = ThrottleInfo{CgroupID: g.u64(), Phase: ThrottlePhase(r.IntN(4)), Suppressed: g.u64(), Limit: uint32(g.u64())}
	}
	return e
}

// AppendJSON writes what the reflection encoder wrote, with and without
// HTML escaping, for many generated events; so do MarshalJSON under
// json.Marshal and under a recording's Encoder.
func TestAppendJSONEqualsReflection(t *testing.T) {
	g := eventGen{rand.New(rand.NewPCG(16, 2026))}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		e := g.event()
		for _, html := range []bool{true, false} {
			want, wantErr := refJSON(&e, html)
			got, err := AppendJSON([]byte("prefix"), &e, html)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("event %d html=%v: error %v, reference error %v\n%+v", i, html, err, wantErr, e)
			}
			if err != nil {
				if string(got) != "prefix" {
					t.Fatalf("event %d: failed AppendJSON changed its buffer: %q", i, got)
				}
				continue
			}
			if !bytes.Equal(got[len("prefix"):], want) {
				t.Fatalf("event %d html=%v:\n got  %s\n want %s\n%+v", i, html, got[len("prefix"):], want, e)
			}
		}
		// The paths through encoding/json: --output json before, a recording.
		want, wantErr := json.Marshal(refEvent(&e))
		got, err := json.Marshal(&e)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("event %d json.Marshal:\n got  %s %v\n want %s %v", i, got, err, want, wantErr)
		}
		var rec, refRec bytes.Buffer
		enc, refEnc := json.NewEncoder(&rec), json.NewEncoder(&refRec)
		enc.SetEscapeHTML(false)
		refEnc.SetEscapeHTML(false)
		err, wantErr = enc.Encode(&e), refEnc.Encode(refEvent(&e))
		if (err != nil) != (wantErr != nil) || !bytes.Equal(rec.Bytes(), refRec.Bytes()) {
			t.Fatalf("event %d recording:\n got  %s %v\n want %s %v", i, rec.Bytes(), err, refRec.Bytes(), wantErr)
		}
	}
}

// A time encoding/json cannot write fails AppendJSON too.
func TestAppendJSONBadTime(t *testing.T) {
	e := Event{Kind: KindExit, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := refJSON(&e, true); err == nil {
		t.Fatal("reference encoder wrote year 10000")
	}
	if b, err := AppendJSON(nil, &e, true); err == nil {
		t.Fatalf("AppendJSON wrote year 10000: %s", b)
	}
}

func benchJSON(b *testing.B, enc func(dst []byte, e *Event) []byte) {
	g := eventGen{rand.New(rand.NewPCG(1, 2))}
	evs := make([]Event, 256)
	for i := range evs {
		evs[i] = g.event()
		evs[i].Time = time.Unix(1.7e9, int64(i)).UTC()
	}
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = enc(buf[:0], &evs[i%len(evs)])
	}
}

// BenchmarkEventJSON compares the appender with the reflection encoder
// it replaced, on generated events (every field often set).
func BenchmarkEventJSON(b *testing.B) {
	b.Run("append", func(b *testing.B) {
		benchJSON(b, func(dst []byte, e *Event) []byte { dst, _ = AppendJSON(dst, e, true); return dst })
	})
	b.Run("reflect", func(b *testing.B) {
		benchJSON(b, func(dst []byte, e *Event) []byte {
			line, _ := json.Marshal(refEvent(e))
			return append(dst, line...)
		})
	})
}
