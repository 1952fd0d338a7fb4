//go:build linux

package linux

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/exeid"
	"github.com/procotel/procotel/semconv"
)

// loginUIDEnv makes the test binary, run as a child, set its audit login
// uid to the value given, print its new audit session id and exec
// /bin/true as "true-login".
const loginUIDEnv = "PROCOTEL_TEST_LOGINUID"

func init() {
	uid := os.Getenv(loginUIDEnv)
	if uid == "" {
		return
	}
	if err := os.WriteFile("/proc/self/loginuid", []byte(uid), 0); err != nil {
		os.Stderr.WriteString("set login uid: " + err.Error() + "\n")
		os.Exit(2)
	}
	sid, err := os.ReadFile("/proc/self/sessionid")
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	os.Stdout.Write(sid)
	err = syscall.Exec("/bin/true", []string{"true-login"}, nil)
	os.Stderr.WriteString("exec: " + err.Error() + "\n")
	os.Exit(2)
}

// htlhashOf is the ground truth of a file's htlhash.
func htlhashOf(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	h, err := exeid.HTLHash(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// copyExe copies src to dst, owned by root, with mode.
func copyExe(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dst, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil { // after chown, which clears set-id bits
		t.Fatal(err)
	}
}

// TestSecurityFacts runs processes for which one security fact holds each
// and checks that its exec event reports that fact, and no other.
func TestSecurityFacts(t *testing.T) {
	_, c := startBackend(t, backends.Options{Env: []string{"LD_PRELOAD", "LD_LIBRARY_PATH"}, TraceParent: true})
	dir, err := os.MkdirTemp("", "procotel-sec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // reachable by uid 65534
		t.Fatal(err)
	}
	dir, _ = filepath.EvalSymlinks(dir)
	suid, sgid := filepath.Join(dir, "id-suid"), filepath.Join(dir, "id-sgid")
	copyExe(t, "/usr/bin/id", suid, 0o755|os.ModeSetuid)
	copyExe(t, "/usr/bin/id", sgid, 0o755|os.ModeSetgid)
	idHash := htlhashOf(t, "/usr/bin/id")
	sleepHash := htlhashOf(t, "/bin/sleep")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	selfLogin, _ := os.ReadFile("/proc/self/loginuid")
	selfLoginID := semconv.MakeAuditID(atoiU32(t, strings.TrimSpace(string(selfLogin))))
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	// want is what an exec event must say; zero fields must be zero.
	type want struct {
		setuid, setgid, memfd, deleted bool
		stdin                          string
		env                            []string
		htlhash                        string
		login                          semconv.AuditID
		traceParent                    string
	}
	run := func(name string, cmd *exec.Cmd, argv0 string, w want, check func(*testing.T, *semconv.Event)) {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			cmd.Stdout = &out
			cmd.Stderr = io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := int32(cmd.Process.Pid)
			ev := c.wait(t, "exec of "+argv0, func(e *semconv.Event) bool {
				return e.Kind == semconv.KindExec && e.Process.PID == pid && len(e.Process.Argv) > 0 && e.Process.Argv[0] == argv0
			})
			if argv0 == "sleep-memfd" || argv0 == "sleep-deleted" {
				cmd.Process.Kill()
			}
			cmd.Wait()
			x := ev.Exec
			if x.SetUID != w.setuid || x.SetGID != w.setgid || x.Memfd != w.memfd || x.Deleted != w.deleted {
				t.Errorf("setuid %v setgid %v memfd %v deleted %v, want %v %v %v %v",
					x.SetUID, x.SetGID, x.Memfd, x.Deleted, w.setuid, w.setgid, w.memfd, w.deleted)
			}
			if x.Stdin != w.stdin {
				t.Errorf("stdin %q, want %q", x.Stdin, w.stdin)
			}
			if !slices.Equal(x.Env, w.env) {
				t.Errorf("env %q, want %q", x.Env, w.env)
			}
			if w.htlhash != "" && x.HTLHash != w.htlhash {
				t.Errorf("htlhash %q, want %q", x.HTLHash, w.htlhash)
			}
			if x.HTLHash == "" {
				t.Errorf("no htlhash for %s", ev.Process.Exe)
			}
			if ev.Process.LoginUID != w.login {
				t.Errorf("login uid %v, want %v", ev.Process.LoginUID, w.login)
			}
			if ev.TraceParent != w.traceParent {
				t.Errorf("traceparent %q, want %q", ev.TraceParent, w.traceParent)
			}
			if check != nil {
				check(t, &ev)
			}
			t.Logf("%s: exe %s parent %s stdin %s htlhash %s login %v session %v", argv0, ev.Process.Exe,
				x.ParentExe, x.Stdin, x.HTLHash, ev.Process.LoginUID, ev.Process.AuditSessionID)
		})
	}
	devNull := "char_device"

	cmd := &exec.Cmd{Path: suid, Args: []string{"id-suid"}, SysProcAttr: nobody}
	run("setuid", cmd, "id-suid", want{setuid: true, stdin: devNull, htlhash: idHash, login: selfLoginID},
		func(t *testing.T, ev *semconv.Event) {
			if ev.Process.UID != 65534 || ev.Process.EUID != 0 {
				t.Errorf("uid %d euid %d, want 65534 0", ev.Process.UID, ev.Process.EUID)
			}
		})
	cmd = &exec.Cmd{Path: sgid, Args: []string{"id-sgid"}, SysProcAttr: nobody}
	run("setgid", cmd, "id-sgid", want{setgid: true, stdin: devNull, htlhash: idHash, login: selfLoginID},
		func(t *testing.T, ev *semconv.Event) {
			if ev.Process.GID != 65534 || ev.Process.EGID != 0 {
				t.Errorf("gid %d egid %d, want 65534 0", ev.Process.GID, ev.Process.EGID)
			}
		})
	// Root running the set-user-ID-root file: nothing changes.
	cmd = &exec.Cmd{Path: suid, Args: []string{"id-suid-root"}}
	run("setuid-by-root", cmd, "id-suid-root", want{stdin: devNull, htlhash: idHash, login: selfLoginID}, nil)

	for _, how := range []string{"memfd", "deleted"} {
		cmd = exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), fdExecEnv+"="+how, fdExecPathEnv+"="+filepath.Join(dir, "sleep-copy"))
		w := want{stdin: devNull, htlhash: sleepHash, login: selfLoginID}
		w.memfd, w.deleted = how == "memfd", how == "deleted"
		run(how, cmd, "sleep-"+how, w, nil)
	}

	var session string
	cmd = exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), loginUIDEnv+"=4242")
	run("login-uid", cmd, "true-login", want{stdin: devNull, login: semconv.MakeAuditID(4242), htlhash: htlhashOf(t, "/bin/true")},
		func(t *testing.T, ev *semconv.Event) {
			session = strings.TrimSpace(cmd.Stdout.(*bytes.Buffer).String())
			if got := ev.Process.AuditSessionID; got != semconv.MakeAuditID(atoiU32(t, session)) {
				t.Errorf("audit session %v, the process said %s", got, session)
			}
		})

	cmd = &exec.Cmd{Path: "/bin/true", Args: []string{"true-preload"},
		Env: []string{"HOME=/", "LD_PRELOAD=/nonexistent/libprocotel.so", "TRACEPARENT=" + traceParent}}
	run("ld-preload", cmd, "true-preload", want{stdin: devNull, env: []string{"LD_PRELOAD=/nonexistent/libprocotel.so"},
		login: selfLoginID, traceParent: traceParent}, nil)

	cmd = &exec.Cmd{Path: "/bin/true", Args: []string{"true-pipe"}, Stdin: strings.NewReader("in")}
	run("stdin-pipe", cmd, "true-pipe", want{stdin: "pipe", login: selfLoginID}, nil)
}

func atoiU32(t *testing.T, s string) uint32 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("parse id %q: %v", s, err)
	}
	return uint32(v)
}
