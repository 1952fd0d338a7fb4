package semconv

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decodeMap decodes one JSON object into nested maps.
func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// field returns the value at path in m, and whether it is present.
func field(m map[string]any, path ...string) (any, bool) {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func wantNumber(t *testing.T, m map[string]any, want float64, path ...string) {
	t.Helper()
	v, ok := field(m, path...)
	if !ok {
		t.Errorf("%v absent, want %v", path, want)
		return
	}
	if f, isNum := v.(float64); !isNum || f != want {
		t.Errorf("%v = %#v, want %v", path, v, want)
	}
}

// A root process on CPU 0 that exits 0: every zero here is a real value
// and must be in the JSON, and the event must survive a round trip.
func TestEventJSONKeepsMeaningfulZeros(t *testing.T) {
	exit := Event{
		Kind: KindExit, Time: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC), BootNS: 7, CPU: 0, OS: OSLinux,
		Process: Process{PID: 1, TID: 1, PPID: 0, Start: 10, Comm: "init", Exe: "/sbin/init",
			Argv: []string{"/sbin/init", "<a&b>"}},
	}
	b, err := json.Marshal(&exit)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeMap(t, b)
	wantNumber(t, m, 0, "exit", "code")
	wantNumber(t, m, 0, "exit", "signal")
	if v, ok := field(m, "exit", "core_dumped"); !ok || v != false {
		t.Errorf("exit.core_dumped = %#v, %v; want false, present", v, ok)
	}
	wantNumber(t, m, 0, "process", "uid")
	wantNumber(t, m, 0, "process", "gid")
	wantNumber(t, m, 0, "process", "ppid")
	wantNumber(t, m, 0, "cpu")
	if _, ok := field(m, "process", "jail_id"); ok {
		t.Errorf("jail_id on a linux event: %s", b)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(exit, back) {
		t.Fatalf("round trip changed the event:\n in  %+v\n out %+v\n json %s", exit, back, b)
	}

	// The exit of a process killed by SIGKILL says code 0 too.
	killed := exit
	killed.Exit = ExitInfo{Signal: 9}
	b, _ = json.Marshal(killed)
	m = decodeMap(t, b)
	wantNumber(t, m, 0, "exit", "code")
	wantNumber(t, m, 9, "exit", "signal")

	// A signal the kernel sent (sender 0) with si_code 0.
	sig := Event{Kind: KindSignal, Time: exit.Time, CPU: 1, OS: OSLinux,
		Process: Process{PID: 300, PPID: 1}, Signal: SignalInfo{Signo: 17, Outcome: SignalGenerated}}
	b, _ = json.Marshal(&sig)
	m = decodeMap(t, b)
	wantNumber(t, m, 0, "signal", "sender_pid")
	wantNumber(t, m, 0, "signal", "code")
	if _, ok := field(m, "exit"); ok {
		t.Errorf("signal event with an exit object: %s", b)
	}

	// On FreeBSD jail 0 is the host.
	bsd := Event{Kind: KindFork, Time: exit.Time, OS: OSFreeBSD, Process: Process{PID: 5, PPID: 4}}
	b, _ = json.Marshal(&bsd)
	m = decodeMap(t, b)
	wantNumber(t, m, 0, "process", "jail_id")
	wantNumber(t, m, 0, "fork", "clone_flags")
}

// Recordings written before the zeros were kept must still read: an
// omitted field is zero.
func TestEventJSONReadsOldLines(t *testing.T) {
	old := `{"kind":"exit","time":"2026-11-22T01:02:03Z","boot_ns":7,"os":"linux",` +
		`"process":{"pid":42,"ppid":1,"uid":0,"euid":0,"gid":0,"egid":0,"comm":"true"}}`
	var e Event
	if err := json.Unmarshal([]byte(old), &e); err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindExit || e.Process.PID != 42 || e.Exit != (ExitInfo{}) || e.CPU != 0 {
		t.Fatalf("old line decoded as %+v", e)
	}
}

// A field set on an event of another kind is still written, as before.
func TestEventJSONOtherKindsKeepTheirParts(t *testing.T) {
	in := Event{Kind: KindReap, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), OS: OSLinux,
		Process: Process{PID: 9}, Exit: ExitInfo{Code: 3}, Reap: ReapInfo{ReaperPID: 1}}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the event:\n in  %+v\n out %+v\n json %s", in, out, b)
	}
	if _, ok := field(decodeMap(t, b), "signal"); ok {
		t.Errorf("reap event with a signal object: %s", b)
	}
}

// A throttle event's JSON line (a recording's, --output json) keeps the
// throttle: cgroup, phase, suppressed count and limit read back as written.
func TestThrottleJSONRoundTrip(t *testing.T) {
	e := Event{Kind: KindThrottle, Time: time.Unix(1.7e9, 0).UTC(), CPU: -1,
		Throttle: ThrottleInfo{CgroupID: 77, Phase: ThrottleStop, Suppressed: 450, Limit: 50}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"throttle":{"cgroup_id":77,"phase":2,"suppressed":450,"limit":50}`) {
		t.Fatalf("no throttle object in %s", b)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Throttle != e.Throttle {
		t.Fatalf("throttle read back as %+v, want %+v", back.Throttle, e.Throttle)
	}
}
