package semconv

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestKeyTruncatesToTicks(t *testing.T) {
	// /proc reports 123456 ticks (10 ms each); the kernel event carries the
	// exact nanoseconds. Both must give the same key.
	fromProc := KeyOf(42, 123456*uint64(10*time.Millisecond))
	fromKernel := KeyOf(42, 123456*uint64(10*time.Millisecond)+9_999_999)
	if fromProc != fromKernel {
		t.Fatalf("keys differ: %v vs %v", fromProc, fromKernel)
	}
	if next := KeyOf(42, 123457*uint64(10*time.Millisecond)); next == fromProc {
		t.Fatalf("keys 10 ms apart must differ, both %v", next)
	}
}

func TestDerivedIDs(t *testing.T) {
	k := KeyOf(1234, 5_000_000_000)
	a, b := SpanID("boot-a", k), SpanID("boot-a", k)
	if a != b {
		t.Fatalf("span id not deterministic: %x vs %x", a, b)
	}
	if SpanID("boot-b", k) == a {
		t.Fatal("span id must depend on the boot id")
	}
	if SpanID("boot-a", KeyOf(1235, 5_000_000_000)) == a {
		t.Fatal("span id must depend on the pid")
	}
	if SpanID("boot-a", KeyOf(1234, 6_000_000_000)) == a {
		t.Fatal("span id must depend on the start time")
	}
	tr := TraceID("boot-a", k)
	if tr == ([16]byte{}) || TraceID("boot-a", k) != tr {
		t.Fatalf("trace id zero or not deterministic: %x", tr)
	}
	// The span and trace id of one key come from different domains.
	if [8]byte(tr[:8]) == a {
		t.Fatal("trace id prefix equals span id: domains not separated")
	}
	// Golden value (sha256 of "s"+"boot-a"+be32(1234)+be64(5e9), computed
	// independently): ids must never change between releases, or spans from
	// the standalone exporter and the receiver (or two versions) diverge.
	if got, want := a, [8]byte{0x8f, 0x1a, 0xab, 0x1d, 0x8e, 0x21, 0xdc, 0x27}; got != want {
		t.Logf("span id %#v", got)
		t.Fatalf("span id changed: got %x want %x", got, want)
	}
}

func TestKindNames(t *testing.T) {
	for _, k := range Kinds() {
		p, err := ParseKind(k.String())
		if err != nil || p != k {
			t.Fatalf("ParseKind(%q) = %v, %v", k, p, err)
		}
	}
	if _, err := ParseKind("exex"); err == nil {
		t.Fatal("ParseKind accepted an unknown kind")
	}
	if Kind(200).Valid() || KindInvalid.Valid() || !KindExit.Valid() {
		t.Fatal("Valid is wrong")
	}
}

func TestNames(t *testing.T) {
	cases := []struct {
		os   OS
		n    int32
		want string
	}{
		{OSLinux, 15, "SIGTERM"}, {OSLinux, 10, "SIGUSR1"}, {OSFreeBSD, 30, "SIGUSR1"},
		{OSFreeBSD, 20, "SIGCHLD"}, {OSLinux, 17, "SIGCHLD"}, {OSLinux, 35, "SIGRTMIN+1"},
	}
	for _, c := range cases {
		if got := SignalName(c.os, c.n); got != c.want {
			t.Errorf("SignalName(%v, %d) = %q, want %q", c.os, c.n, got, c.want)
		}
		if n, err := ParseSignal(c.os, c.want); err != nil && c.n < 32 || c.n < 32 && n != c.n {
			t.Errorf("ParseSignal(%v, %q) = %d, %v", c.os, c.want, n, err)
		}
	}
	if n, err := ParseSignal(OSLinux, "term"); err != nil || n != 15 {
		t.Errorf("ParseSignal(term) = %d, %v", n, err)
	}
	if _, err := ParseSignal(OSLinux, "SIGNOPE"); err == nil {
		t.Error("ParseSignal accepted SIGNOPE")
	}
	if got := ErrnoName(OSLinux, 8); got != "ENOEXEC" {
		t.Errorf("ErrnoName(8) = %q", got)
	}
	if got := ErrnoName(OSFreeBSD, 62); got != "ELOOP" {
		t.Errorf("ErrnoName(freebsd 62) = %q", got)
	}
	if got := ErrnoName(OSLinux, 9999); got != "errno 9999" {
		t.Errorf("ErrnoName(9999) = %q", got)
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	in := Event{
		Kind: KindSignal, Time: time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC),
		BootNS: 99, CPU: 1, OS: OSLinux,
		Process: Process{PID: 10, TID: 11, PPID: 1, Start: 5, Creds: Creds{UID: 1000, EUID: 1000},
			Comm: "sleep", Argv: []string{"sleep", "5"}, ContainerID: "abc"},
		Signal:  SignalInfo{Signo: 15, SenderPID: 9, Outcome: SignalIgnored},
		Lineage: Lineage{Root: KeyOf(9, 3), Creator: KeyOf(9, 3)},
	}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the event:\n in  %+v\n out %+v\n json %s", in, out, b)
	}
	var bad Event
	if err := json.Unmarshal([]byte(`{"kind":"exxec"}`), &bad); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

func TestRootPolicy(t *testing.T) {
	for _, s := range []string{"process_group", "session", "container", "none"} {
		p, err := ParseRootPolicy(s)
		if err != nil || p.String() != s {
			t.Fatalf("ParseRootPolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseRootPolicy("group"); err == nil {
		t.Fatal("accepted unknown policy")
	}
}
