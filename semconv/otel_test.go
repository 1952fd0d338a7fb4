package semconv

import (
	"encoding/hex"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

var testBootWall = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// testProcess is a process created 5 s after boot.
func testProcess() Process {
	return Process{
		PID: 123, TID: 123, PPID: 100, NSPID: 7,
		Start: 5_000_000_000, ParentStart: 1_000_000_000,
		Creds: Creds{UID: 1000, EUID: 0, GID: 1001, EGID: 0},
		PGID:  123, SID: 90, TTY: "pts/3", Comm: "ls",
		Exe: "/usr/bin/ls", Argv: []string{"ls", "-l"}, Cwd: "/tmp",
		CgroupID: 42, CgroupPath: "/system.slice/x.scope",
	}
}

// testEvent is an event at 7 s after boot.
func testEvent(k Kind) Event {
	return Event{Kind: k, OS: OSLinux, BootNS: 7_000_000_000, Time: testBootWall.Add(7 * time.Second), Process: testProcess()}
}

// attrMap renders attributes as key → "TYPE:value" for exact comparison.
func attrMap(t *testing.T, kvs []attribute.KeyValue) map[string]string {
	t.Helper()
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k := string(kv.Key)
		if _, dup := m[k]; dup {
			t.Errorf("duplicate attribute %s", k)
		}
		m[k] = kv.Value.Type().String() + ":" + kv.Value.String()
	}
	return m
}

var processWant = map[string]string{
	"procotel.event.kind":            "", // per test
	"process.pid":                    "INT64:123",
	"process.parent_pid":             "INT64:100",
	"process.vpid":                   "INT64:7",
	"process.creation.time":          "STRING:2026-01-02T03:00:05Z",
	"process.user.id":                "INT64:0",
	"process.real_user.id":           "INT64:1000",
	"procotel.process.group.id":      "INT64:0",
	"procotel.process.real_group.id": "INT64:1001",
	"process.group_leader.pid":       "INT64:123",
	"process.session_leader.pid":     "INT64:90",
	"process.interactive":            "BOOL:true",
	"procotel.process.tty":           "STRING:pts/3",
	"procotel.process.comm":          "STRING:ls",
	"process.executable.path":        "STRING:/usr/bin/ls",
	"process.executable.name":        "STRING:ls",
	"process.command":                "STRING:ls",
	"process.command_args":           `STRINGSLICE:["ls","-l"]`,
	"process.args_count":             "INT64:2",
	"process.working_directory":      "STRING:/tmp",
	"procotel.cgroup.id":             "INT64:42",
	"process.linux.cgroup":           "STRING:0::/system.slice/x.scope",
	"thread.id":                      "INT64:123",
}

func withProcess(kind string, extra map[string]string) map[string]string {
	m := make(map[string]string, len(processWant)+len(extra))
	for k, v := range processWant {
		m[k] = v
	}
	m["procotel.event.kind"] = "STRING:" + kind
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func diffAttrs(t *testing.T, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s = %q, want %q", k, got[k], want[k])
		}
	}
}

func TestEventAttributes(t *testing.T) {
	fork := testEvent(KindFork)
	fork.Fork = ForkInfo{ParentTID: 101, CloneFlags: 0x1200011}

	exec := testEvent(KindExec)
	exec.Exec = ExecInfo{Filename: "ls", Interpreter: "", OldTID: 125}

	failed := testEvent(KindExecFailed)
	failed.Exec = ExecInfo{Filename: "/no/such/file", Argv: []string{"/no/such/file", "x"}, ArgvTruncated: true, Errno: 2}

	exit := testEvent(KindExit)
	exit.Exit = ExitInfo{Code: 2}

	killed := testEvent(KindExit)
	killed.Exit = ExitInfo{Signal: 11, CoreDumped: true}

	sig := testEvent(KindSignal)
	sig.Signal = SignalInfo{Signo: 15, Code: 0, SenderPID: 99, SenderComm: "kill", Outcome: SignalDelivered, Group: true, TargetTID: 124}

	reap := testEvent(KindReap)
	reap.Reap = ReapInfo{ReaperPID: 100}

	tests := []struct {
		name  string
		e     Event
		extra map[string]string
	}{
		{"fork", fork, map[string]string{
			"procotel.fork.clone_flags": "INT64:18874385",
			"procotel.fork.parent_tid":  "INT64:101",
		}},
		{"exec", exec, map[string]string{
			"procotel.exec.filename": "STRING:ls",
			"procotel.exec.old_tid":  "INT64:125",
		}},
		{"exec_failed", failed, map[string]string{
			"procotel.exec.filename":       "STRING:/no/such/file",
			"procotel.exec.args":           `STRINGSLICE:["/no/such/file","x"]`,
			"procotel.exec.args_truncated": "BOOL:true",
			"procotel.exec.errno":          "INT64:2",
			"procotel.exec.errno_name":     "STRING:ENOENT",
			"error.type":                   "STRING:ENOENT",
		}},
		{"exit", exit, map[string]string{
			"process.exit.code": "INT64:2",
			"process.exit.time": "STRING:2026-01-02T03:00:07Z",
		}},
		{"exit", killed, map[string]string{
			"procotel.exit.signal":      "INT64:11",
			"procotel.exit.signal_name": "STRING:SIGSEGV",
			"procotel.exit.core_dumped": "BOOL:true",
			"process.exit.time":         "STRING:2026-01-02T03:00:07Z",
		}},
		{"signal", sig, map[string]string{
			"procotel.signal.number":      "INT64:15",
			"procotel.signal.name":        "STRING:SIGTERM",
			"procotel.signal.code":        "INT64:0",
			"procotel.signal.outcome":     "STRING:delivered",
			"procotel.signal.group":       "BOOL:true",
			"procotel.signal.sender.pid":  "INT64:99",
			"procotel.signal.sender.comm": "STRING:kill",
			"procotel.signal.target.tid":  "INT64:124",
		}},
		{"reap", reap, map[string]string{
			"procotel.reap.reaper_pid": "INT64:100",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := attrMap(t, EventAttributes(&tt.e, nil))
			diffAttrs(t, got, withProcess(tt.name, tt.extra))
		})
	}
}

func TestEventAttributesMinimal(t *testing.T) {
	// A process the pipeline knows nothing about: only what is known.
	e := Event{Kind: KindReap, OS: OSFreeBSD, Process: Process{PID: 9, JailID: 3, JailName: "www"}}
	got := attrMap(t, EventAttributes(&e, nil))
	want := map[string]string{
		"procotel.event.kind":            "STRING:reap",
		"process.pid":                    "INT64:9",
		"process.user.id":                "INT64:0",
		"process.real_user.id":           "INT64:0",
		"procotel.process.group.id":      "INT64:0",
		"procotel.process.real_group.id": "INT64:0",
		"process.interactive":            "BOOL:false",
		"procotel.freebsd.jail.id":       "INT64:3",
		"procotel.freebsd.jail.name":     "STRING:www",
	}
	diffAttrs(t, got, want)
}

func TestLifetimeAttributes(t *testing.T) {
	l := Lifetime{
		Process: testProcess(),
		Start:   testBootWall.Add(5 * time.Second),
		End:     testBootWall.Add(9*time.Second + 500*time.Millisecond),
		Exited:  true,
		Exit:    ExitInfo{Signal: 15},
		Seeded:  true,
		Execs:   []ExecRecord{{Filename: "ls"}},
	}
	got := attrMap(t, LifetimeAttributes(&l, nil))
	want := withProcess("", map[string]string{
		"procotel.exit.signal":         "INT64:15",
		"procotel.exit.signal_name":    "STRING:SIGTERM",
		"procotel.exit.core_dumped":    "BOOL:false",
		"process.exit.time":            "STRING:2026-01-02T03:00:09.5Z",
		"error.type":                   "STRING:SIGTERM",
		"procotel.lifetime.seeded":     "BOOL:true",
		"procotel.lifetime.exec_count": "INT64:1",
		"procotel.lifetime.children":   "INT64:0",
	})
	delete(want, "procotel.event.kind")
	delete(want, "thread.id")
	diffAttrs(t, got, want)

	l.Exited, l.Incomplete = false, true
	got = attrMap(t, LifetimeAttributes(&l, nil))
	if got["procotel.lifetime.incomplete"] != "BOOL:true" {
		t.Errorf("incomplete lifetime not flagged: %v", got)
	}
	for _, k := range []string{"error.type", "process.exit.time", "procotel.exit.signal", "process.exit.code"} {
		if _, ok := got[k]; ok {
			t.Errorf("unexited lifetime has %s", k)
		}
	}
}

func TestEventNameSeverityBody(t *testing.T) {
	for _, k := range Kinds() {
		n := EventName(k)
		if !strings.HasPrefix(n, "process.") || n != "process."+k.String() {
			t.Errorf("EventName(%v) = %q", k, n)
		}
		if KindOfEventName(n) != k {
			t.Errorf("KindOfEventName(%q) = %v, want %v", n, KindOfEventName(n), k)
		}
	}
	if EventName(KindExecAttempt) != "" || EventName(KindExisting) != "" || EventName(Kind(200)) != "" {
		t.Error("internal kinds must have no event name")
	}

	e := testEvent(KindExec)
	check := func(e Event, sev int, text, body string) {
		t.Helper()
		n, s := EventSeverity(&e)
		if n != sev || s != text {
			t.Errorf("%v severity = %d %s, want %d %s", e.Kind, n, s, sev, text)
		}
		if b := EventBody(&e); b != body {
			t.Errorf("%v body = %q, want %q", e.Kind, b, body)
		}
	}
	check(e, SeverityInfo, "INFO", "exec /usr/bin/ls (pid 123)")

	e = testEvent(KindExecFailed)
	e.Exec = ExecInfo{Filename: "/no/such/file", Errno: 2}
	check(e, SeverityWarn, "WARN", "exec /no/such/file failed: ENOENT (pid 123)")

	e = testEvent(KindExit)
	check(e, SeverityInfo, "INFO", "exit 0 (pid 123 ls)")
	e.Exit.Code = 2
	check(e, SeverityWarn, "WARN", "exit 2 (pid 123 ls)")
	e.Exit = ExitInfo{Signal: 15}
	check(e, SeverityWarn, "WARN", "killed by SIGTERM (pid 123 ls)")
	e.Exit = ExitInfo{Signal: 11, CoreDumped: true}
	check(e, SeverityError, "ERROR", "killed by SIGSEGV, core dumped (pid 123 ls)")

	e = testEvent(KindFork)
	check(e, SeverityInfo, "INFO", "fork pid 123 from 100 (ls)")
	e = testEvent(KindSignal)
	e.Signal = SignalInfo{Signo: 9, SenderPID: 1, Outcome: SignalGenerated}
	check(e, SeverityInfo, "INFO", "SIGKILL generated for pid 123 from pid 1")
	e = testEvent(KindReap)
	e.Reap.ReaperPID = 100
	check(e, SeverityInfo, "INFO", "reap pid 123 (ls) by pid 100")

	// The rest of the kinds and the optional parts of each body.
	e.Reap.ReaperPID = 0
	check(e, SeverityInfo, "INFO", "reap pid 123 (ls)")
	e = testEvent(KindExit)
	e.Process.Comm = ""
	check(e, SeverityInfo, "INFO", "exit 0 (pid 123)")
	e = testEvent(KindStart)
	check(e, SeverityInfo, "INFO", "start pid 123 (ls)")
	e.Process.Comm = ""
	check(e, SeverityInfo, "INFO", "start pid 123")
	e = testEvent(KindSignal)
	e.Signal = SignalInfo{Signo: 15, Outcome: SignalDelivered}
	check(e, SeverityInfo, "INFO", "SIGTERM delivered for pid 123")
	e = testEvent(KindThreadStart)
	e.Process.TID = 124
	check(e, SeverityInfo, "INFO", "thread 124 started in pid 123 (ls)")
	e.Kind = KindThreadExit
	check(e, SeverityInfo, "INFO", "thread 124 exited in pid 123 (ls)")
	e = testEvent(KindExec)
	e.Process.PID = 4_194_304 // past any short buffer
	check(e, SeverityInfo, "INFO", "exec /usr/bin/ls (pid 4194304)")
}

func TestSpanNameStatus(t *testing.T) {
	l := Lifetime{Process: Process{PID: 5, Comm: "sh"}}
	if n := SpanName(&l); n != "sh" {
		t.Errorf("SpanName = %q, want sh", n)
	}
	l.Process.Exe = "/usr/bin/sleep"
	if n := SpanName(&l); n != "sleep" {
		t.Errorf("SpanName = %q, want sleep", n)
	}
	l.Process = Process{PID: 5}
	if n := SpanName(&l); n != "pid 5" {
		t.Errorf("SpanName = %q, want pid 5", n)
	}

	cases := []struct {
		exited bool
		exit   ExitInfo
		isErr  bool
		typ    string
		desc   string
	}{
		{true, ExitInfo{}, false, "", ""},
		{false, ExitInfo{Code: 3}, false, "", ""},
		{true, ExitInfo{Code: 2}, true, "exit_code:2", "exit code 2"},
		{true, ExitInfo{Signal: 15}, true, "SIGTERM", "killed by SIGTERM"},
		{true, ExitInfo{Signal: 6, CoreDumped: true}, true, "SIGABRT", "killed by SIGABRT, core dumped"},
	}
	for _, c := range cases {
		l := Lifetime{Exited: c.exited, Exit: c.exit}
		isErr, typ, desc := SpanStatus(&l)
		if isErr != c.isErr || typ != c.typ || desc != c.desc {
			t.Errorf("SpanStatus(%+v) = %v %q %q, want %v %q %q", c.exit, isErr, typ, desc, c.isErr, c.typ, c.desc)
		}
	}
}

func TestSpanContextIDs(t *testing.T) {
	const boot = BootID("boot-1")
	root := Process{PID: 10, Start: 1_000_000_000, PPID: 1, ParentStart: 10_000_000}
	child := Process{PID: 11, Start: 2_000_000_000, PPID: 10, ParentStart: 1_000_000_000}
	grandchild := Process{PID: 12, Start: 3_000_000_000, PPID: 11, ParentStart: 2_000_000_000}

	initTrace := TraceID(boot, KeyOf(1, 10_000_000))
	r := SpanContextIDs(boot, &root, Lineage{})
	c := SpanContextIDs(boot, &child, Lineage{Root: root.Key()})
	g := SpanContextIDs(boot, &grandchild, Lineage{Root: root.Key(), Creator: child.Key(), CreatorRoot: root.Key()})

	if r.TraceID != TraceID(boot, root.Key()) || c.TraceID != r.TraceID || g.TraceID != r.TraceID {
		t.Fatalf("trace ids differ: %x %x %x", r.TraceID, c.TraceID, g.TraceID)
	}
	if r.SpanID != SpanID(boot, root.Key()) || c.SpanID != SpanID(boot, child.Key()) {
		t.Error("span ids are not SpanID(boot, key)")
	}
	if r.ParentSpanID != ([8]byte{}) {
		t.Errorf("root has parent %x", r.ParentSpanID)
	}
	if c.ParentSpanID != r.SpanID || g.ParentSpanID != c.SpanID {
		t.Error("child spans do not point at their creators")
	}
	if !r.HasLink || r.LinkTraceID != initTrace || r.LinkSpanID != SpanID(boot, KeyOf(1, 10_000_000)) {
		t.Errorf("root link = %+v, want init's span", r)
	}
	if c.HasLink || g.HasLink {
		t.Error("non-root spans must not link")
	}
	// Root == own key is the same as a zero root.
	if r2 := SpanContextIDs(boot, &root, Lineage{Root: root.Key()}); r2 != r {
		t.Errorf("root given as own key: %+v != %+v", r2, r)
	}

	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	j := SpanContextIDs(boot, &root, Lineage{TraceParent: tp})
	if hex.EncodeToString(j.TraceID[:]) != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		hex.EncodeToString(j.ParentSpanID[:]) != "00f067aa0ba902b7" || !j.ParentRemote || j.TraceFlags != 1 {
		t.Errorf("traceparent not joined: %+v", j)
	}
	jc := SpanContextIDs(boot, &child, Lineage{Root: root.Key(), TraceParent: tp})
	if jc.TraceID != j.TraceID || jc.ParentSpanID != j.SpanID || jc.ParentRemote {
		t.Errorf("child of traceparent root: %+v", jc)
	}

	// Re-parented: the grandchild now has pid 1 as parent, but its span's
	// parent stays its creator's.
	orphan := grandchild
	orphan.PPID, orphan.ParentStart = 1, 10_000_000
	o := SpanContextIDs(boot, &orphan, Lineage{Root: root.Key(), Creator: child.Key(), CreatorRoot: root.Key()})
	if o.ParentSpanID != c.SpanID || o.TraceID != r.TraceID {
		t.Errorf("re-parented process lost its creator: parent %x want %x", o.ParentSpanID, c.SpanID)
	}
	// A root whose creator is in another trace links to the creator's span
	// in the creator's trace (CreatorRoot), not in a trace of the creator
	// alone.
	shellJob := Process{PID: 20, Start: 5_000_000_000, PPID: 11, ParentStart: 2_000_000_000}
	sj := SpanContextIDs(boot, &shellJob, Lineage{Creator: child.Key(), CreatorRoot: root.Key()})
	if !sj.HasLink || sj.LinkTraceID != r.TraceID || sj.LinkSpanID != c.SpanID {
		t.Errorf("job root link = %+v, want the creator's span in trace %x", sj, r.TraceID)
	}
	// An unlinked root (the command procotel started) neither links to
	// its creator nor has it as parent; its own ids are unchanged.
	u := SpanContextIDs(boot, &root, Lineage{Creator: KeyOf(1, 10_000_000), Unlinked: true})
	if u.HasLink || u.ParentSpanID != ([8]byte{}) || u.TraceID != r.TraceID || u.SpanID != r.SpanID {
		t.Errorf("unlinked root = %+v, want root %+v without its link", u, r)
	}
}

func TestParseTraceParent(t *testing.T) {
	good := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	if _, _, f, ok := ParseTraceParent(good); !ok || f != 0 {
		t.Errorf("ParseTraceParent(%q) failed", good)
	}
	for _, bad := range []string{
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	} {
		if _, _, _, ok := ParseTraceParent(bad); ok {
			t.Errorf("ParseTraceParent(%q) accepted", bad)
		}
	}
}

func TestResourceAttributes(t *testing.T) {
	got := attrMap(t, ResourceAttributes(Observer{HostName: "h", HostID: "id", OS: OSLinux, OSVersion: "6.18", ServiceVersion: "0.1"}, nil))
	want := map[string]string{
		"service.name": "STRING:procotel", "service.version": "STRING:0.1",
		"host.name": "STRING:h", "host.id": "STRING:id", "os.type": "STRING:linux", "os.version": "STRING:6.18",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ResourceAttributes = %v, want %v", got, want)
	}
}

func BenchmarkEventAttributes(b *testing.B) {
	e := testEvent(KindExec)
	buf := make([]attribute.KeyValue, 0, 48)
	b.ReportAllocs()
	for b.Loop() {
		buf = EventAttributes(&e, buf[:0])
	}
}

// TestSecurityAttributes: the security facts of an exec come out of the
// mapping the exporter and the receiver share, under the contract's keys,
// and a fact that does not hold is left out.
func TestSecurityAttributes(t *testing.T) {
	e := Event{Kind: KindExec, Process: Process{PID: 5, LoginUID: MakeAuditID(1000), AuditSessionID: MakeAuditID(0)},
		Exec: ExecInfo{ExecFacts: ExecFacts{SetUID: true, Memfd: true, HTLHash: "0123456789abcdef0123456789abcdef",
			SHA256: "ab", Env: []string{"LD_PRELOAD=/x.so"}, ParentExe: "/bin/bash", Stdin: StdinPipe}}}
	got := map[string]attribute.Value{}
	for _, kv := range EventAttributes(&e, nil) {
		got[string(kv.Key)] = kv.Value
	}
	want := map[string]any{
		"procotel.process.login_uid":          int64(1000),
		"procotel.process.audit_session_id":   int64(0),
		"procotel.exec.setuid":                true,
		"procotel.exec.memfd":                 true,
		"process.executable.build_id.htlhash": "0123456789abcdef0123456789abcdef",
		"procotel.exec.sha256":                "ab",
		"procotel.exec.env":                   []string{"LD_PRELOAD=/x.so"},
		"procotel.parent.executable.path":     "/bin/bash",
		"procotel.process.stdin.type":         "pipe",
	}
	for k, w := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		if !reflect.DeepEqual(v.AsInterface(), w) {
			t.Errorf("%s = %v, want %v", k, v.AsInterface(), w)
		}
	}
	for _, k := range []string{"procotel.exec.setgid", "procotel.exec.deleted"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s present though false", k)
		}
	}
	// Unset audit ids and other kinds: nothing.
	e = Event{Kind: KindFork, Process: Process{PID: 5}, Exec: e.Exec}
	for _, kv := range EventAttributes(&e, nil) {
		if strings.HasPrefix(string(kv.Key), "procotel.exec.") || strings.Contains(string(kv.Key), "login_uid") {
			t.Errorf("fork carries %s", kv.Key)
		}
	}
}

func TestAuditIDJSON(t *testing.T) {
	e := Event{Kind: KindExec, Process: Process{PID: 1, LoginUID: MakeAuditID(0)}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"login_uid":0`) || strings.Contains(string(b), "audit_session_id") {
		t.Fatalf("json %s", b)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.Process.LoginUID != e.Process.LoginUID {
		t.Fatalf("round trip: %v %v", back.Process.LoginUID, err)
	}
}

func TestThrottleRecord(t *testing.T) {
	e := Event{Kind: KindThrottle, Process: Process{CgroupID: 77, CgroupPath: "/ci/job", ContainerID: "abc"},
		Throttle: ThrottleInfo{CgroupID: 77, Phase: ThrottleStop, Suppressed: 450, Limit: 50}}
	if got := EventName(e.Kind); got != "process.throttle" {
		t.Errorf("event name %q", got)
	}
	if got, want := EventBody(&e), "execs throttled in cgroup /ci/job: 450 not reported"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	got := map[string]string{}
	for _, kv := range EventAttributes(&e, nil) {
		got[string(kv.Key)] = kv.Value.String()
	}
	want := map[string]string{"procotel.event.kind": "throttle", "procotel.cgroup.id": "77",
		"process.linux.cgroup": "0::/ci/job", "container.id": "abc", "procotel.throttle.cgroup_id": "77",
		"procotel.throttle.phase": "stop", "procotel.throttle.suppressed": "450", "procotel.throttle.limit": "50"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes %v\nwant %v", got, want)
	}
}
