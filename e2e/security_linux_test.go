package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// TestSecurityFactsOverOTLP runs, under the real backend and exporter
// through a real Collector, processes for which one exec fact holds each —
// a set-user-ID copy of id run as uid 65534, a set-group-ID copy, one with
// LD_PRELOAD set, one with stdin from a pipe and one from /dev/null, one
// whose login uid it set, an exec of a deleted file and of a memfd — and
// checks each fact on its exec record as the Collector forwarded it, and
// the facts that do not hold absent. Every exec record carries the
// executable's htlhash, and the login uid when this process has one.
func TestSecurityFactsOverOTLP(t *testing.T) {
	requireRoot(t)
	dir, err := os.MkdirTemp("", "procotel-e2e-sec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	paths := lookPaths(t, "sh", "true", "setpriv", "python3")
	idPath, err := filepath.EvalSymlinks("/usr/bin/id")
	if err != nil {
		t.Skipf("SKIP LOUDLY: no /usr/bin/id to copy set-id: %v", err)
	}
	suid, sgid := filepath.Join(dir, "id-suid"), filepath.Join(dir, "id-sgid")
	for dst, mode := range map[string]os.FileMode{suid: 0o755 | os.ModeSetuid, sgid: 0o755 | os.ModeSetgid} {
		b, err := os.ReadFile(idPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dst, mode); err != nil { // root-owned: the set-id bits stay
			t.Fatal(err)
		}
	}
	script := writeScript(t, `run() { role=$1; shift; "$SH" -c 'echo "proc '$role' $$ $PPID"; exec "$@" >/dev/null 2>&1' sh "$@"; }
run suid "$SETPRIV" --reuid=65534 --regid=65534 --clear-groups "$SUID" -u
run sgid "$SETPRIV" --reuid=65534 --regid=65534 --clear-groups "$SGID" -g
LD_PRELOAD=/nonexistent/procotel-e2e.so run preload "$TRUE"
echo x | run pipe "$TRUE"
run devnull "$TRUE" </dev/null
"$SH" -c 'echo "proc login $$ $PPID"; echo 4242 > /proc/self/loginuid && exec "$TRUE"'
"$SH" -c 'echo "proc deleted $$ $PPID"; cp "$TRUE" "$DIR/gone"; exec 3<"$DIR/gone"; rm "$DIR/gone"; exec /proc/self/fd/3'
"$SH" -c 'echo "proc memfd $$ $PPID"; exec "$PY" -c "import os,sys; fd=os.memfd_create(\"procotel-e2e\"); os.write(fd, open(sys.argv[1],\"rb\").read()); os.execv(\"/proc/self/fd/%d\" % fd, [\"memfd-true\"])" "$TRUE"'
`)
	bin := BuildCollector(t)
	fwd := StartForwarded(t)
	col := StartCollector(t, bin, fwd.URL)
	env := []string{"SH=" + paths["sh"], "TRUE=" + paths["true"], "SETPRIV=" + paths["setpriv"], "SUID=" + suid, "SGID=" + sgid,
		"DIR=" + dir, "PY=" + paths["python3"]}
	a := startAnchor(t, env, paths["sh"], script)
	l := startLiveWith(t, a.PID, exporterOptions(col, "grpc", ""), backends.Options{Env: []string{"LD_PRELOAD", "LD_LIBRARY_PATH"}})
	a.Go()
	procs := parseReport(t, a.Wait(30*time.Second))
	byRole := map[string]*proc{}
	for _, p := range procs {
		byRole[p.Role] = p
	}
	for _, role := range []string{"suid", "sgid", "preload", "pipe", "devnull", "login", "deleted", "memfd"} {
		if byRole[role] == nil {
			t.Fatalf("the workload did not report %s: %v", role, procs)
		}
	}
	last := byRole["memfd"].PID
	if !l.tee.waitEvent(10*time.Second, func(e *semconv.Event) bool { return e.Kind == semconv.KindExit && int64(e.Process.PID) == last }) {
		t.Fatalf("no exit of %d; %s", last, l.diag())
	}
	l.stop()
	if !fwd.WaitFor(10*time.Second, func(logs, _ int) bool { return logs >= 20 }) {
		t.Fatal("the Collector forwarded too little")
	}

	// Every role's program was exec'd by a child of the script's shell:
	// its parent's executable is that shell's, as the kernel names it.
	shell, err := filepath.EvalSymlinks(paths["sh"])
	if err != nil {
		t.Fatal(err)
	}
	loginUID, _ := os.ReadFile("/proc/self/loginuid")
	login := strings.TrimSpace(string(loginUID))
	// The record of each role's last exec (the one after its sh -c).
	execOf := map[string]Log{}
	for _, r := range fwd.Logs() {
		if r.Record.EventName != semconv.EventNameExec {
			continue
		}
		pid, _ := attrInt(r.Record.Attributes, "process.pid")
		for role, p := range byRole {
			if p.PID == pid && filepath.Base(attrStr(r.Record.Attributes, "process.executable.path")) != "dash" &&
				filepath.Base(attrStr(r.Record.Attributes, "process.executable.path")) != "sh" &&
				filepath.Base(attrStr(r.Record.Attributes, "process.executable.path")) != "setpriv" &&
				!strings.HasPrefix(filepath.Base(attrStr(r.Record.Attributes, "process.executable.path")), "python") {
				execOf[role] = r
			}
		}
	}
	type facts struct {
		setuid, setgid, memfd, deleted bool
		stdin, env                     string
		login                          string // the login uid, "" for the process's own
	}
	// The anchor runs the workload with stdin on /dev/null: what the
	// script does not redirect inherits it.
	want := map[string]facts{
		"suid":    {setuid: true, stdin: "char_device"},
		"sgid":    {setgid: true, stdin: "char_device"},
		"preload": {stdin: "char_device", env: "LD_PRELOAD=/nonexistent/procotel-e2e.so"},
		"pipe":    {stdin: "pipe"},
		"devnull": {stdin: "char_device"},
		"login":   {stdin: "char_device", login: "4242"},
		"deleted": {stdin: "char_device", deleted: true},
		"memfd":   {stdin: "char_device", memfd: true},
	}
	for role, w := range want {
		r, ok := execOf[role]
		if !ok {
			t.Errorf("%s (pid %d): no exec record of its program forwarded", role, byRole[role].PID)
			continue
		}
		kv := r.Record.Attributes
		if got := attr(kv, "procotel.exec.setuid").GetBoolValue(); got != w.setuid {
			t.Errorf("%s: procotel.exec.setuid %v, want %v", role, got, w.setuid)
		}
		if got := attr(kv, "procotel.exec.setgid").GetBoolValue(); got != w.setgid {
			t.Errorf("%s: procotel.exec.setgid %v, want %v", role, got, w.setgid)
		}
		if (attr(kv, "procotel.exec.setuid") != nil) != w.setuid || (attr(kv, "procotel.exec.setgid") != nil) != w.setgid {
			t.Errorf("%s: a set-id attribute is present without the fact", role)
		}
		if got := attr(kv, "procotel.exec.memfd").GetBoolValue(); got != w.memfd {
			t.Errorf("%s: procotel.exec.memfd %v, want %v (path %s)", role, got, w.memfd, attrStr(kv, "process.executable.path"))
		}
		if got := attr(kv, "procotel.exec.deleted").GetBoolValue(); got != w.deleted {
			t.Errorf("%s: procotel.exec.deleted %v, want %v (path %s)", role, got, w.deleted, attrStr(kv, "process.executable.path"))
		}
		if w.memfd && !strings.HasPrefix(attrStr(kv, "process.executable.path"), "/memfd:procotel-e2e") {
			t.Errorf("%s: executable path %q, want /memfd:procotel-e2e (deleted)", role, attrStr(kv, "process.executable.path"))
		}
		if got := attrStr(kv, "procotel.process.stdin.type"); got != w.stdin {
			t.Errorf("%s: stdin %q, want %q", role, got, w.stdin)
		}
		if got := attrStr(kv, "procotel.parent.executable.path"); got != shell {
			t.Errorf("%s: procotel.parent.executable.path %q, want %q (the script's shell)", role, got, shell)
		}
		var env []string
		for _, v := range attr(kv, "procotel.exec.env").GetArrayValue().GetValues() {
			env = append(env, v.GetStringValue())
		}
		if w.env == "" && len(env) > 0 || w.env != "" && (len(env) != 1 || env[0] != w.env) {
			t.Errorf("%s: procotel.exec.env %q, want %q", role, env, w.env)
		}
		// A deleted file or memfd that a process as short as true ran is
		// gone before user space can read it (through /proc/PID/exe or
		// the path): no hash, counted as unavailable. Every other one has
		// its hash.
		if h := attrStr(kv, "process.executable.build_id.htlhash"); !w.memfd && !w.deleted && len(h) != 32 {
			t.Errorf("%s: htlhash %q, want 32 hex digits", role, h)
		}
		wantLogin := w.login
		if wantLogin == "" && login != "4294967295" {
			wantLogin = login
		}
		if wantLogin != "" {
			if got, _ := attrInt(kv, "procotel.process.login_uid"); wantLogin != strconv.FormatInt(got, 10) {
				t.Errorf("%s: login uid %d, want %s", role, got, wantLogin)
			}
		} else if attr(kv, "procotel.process.login_uid") != nil {
			t.Errorf("%s: a login uid on a process that has none", role)
		}
	}
}
