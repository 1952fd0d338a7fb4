package packaging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procotel/procotel/config"
)

// procotelBin is the binary built once by TestMain, in a directory every
// user may enter (the capability tests run it as uid 65534).
var procotelBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "procotel-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		procotelBin = filepath.Join(dir, "procotel")
		build := exec.Command("go", "build", "-o", procotelBin, "../cmd/procotel")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "go build ./cmd/procotel: %v\n", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

const unitPath = "systemd/procotel.service"

// unit is a parsed systemd unit file: section → key → every value given,
// in order (systemd adds up repeated list settings).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	var pending string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: not a key=value line in a section: %q", path, i+1, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	return u
}

// one returns the single value of key, failing if it is set not exactly once.
func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s: want one value, got %q", section, key, v)
	}
	return v[0]
}

// list returns the space-separated items of every value of key.
func (u unit) list(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit in a
// temporary root holding the unit, the binary at the unit's ExecStart path
// and the host's system units (for the targets it orders against).
func TestSystemdUnitVerifies(t *testing.T) {
	u := parseUnit(t, unitPath)
	execStart := strings.Fields(u.one(t, "Service", "ExecStart"))[0]
	if execStart != "/usr/bin/procotel" {
		t.Errorf("ExecStart runs %s, want /usr/bin/procotel (where the .deb installs it)", execStart)
	}
	root := t.TempDir()
	copyFile(t, procotelBin, filepath.Join(root, execStart), 0o755)
	copyFile(t, unitPath, filepath.Join(root, "etc/systemd/system/procotel.service"), 0o644)
	verifyUnitInRoot(t, root)
}

// verifyUnitInRoot runs systemd-analyze verify procotel.service in root,
// a file tree holding the unit and its binary, after adding the host's
// system units (the targets the unit orders against). It skips where
// there is no systemd to verify with.
func verifyUnitInRoot(t *testing.T, root string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
	}
	units := ""
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(d, "multi-user.target")); err == nil {
			units = d
			break
		}
	}
	if units == "" {
		t.Skip("no systemd system units on this host (multi-user.target) to verify against")
	}
	dst := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", units+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", units, err, out)
	}
	out, err := exec.Command(analyze, "--root="+root, "verify", "procotel.service").CombinedOutput()
	// verify exits 0 on warnings (an unknown key, say); any output is a finding.
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify procotel.service: %v\n%s", err, out)
	}
}

// TestSysusersFile checks the sysusers.d file with systemd-sysusers'
// dry run and that it creates the user the unit runs as.
func TestSysusersFile(t *testing.T) {
	sysusers, err := exec.LookPath("systemd-sysusers")
	if err != nil {
		t.Skip("systemd-sysusers is not installed (Debian: apt-get install systemd)")
	}
	u := parseUnit(t, unitPath)
	user := u.one(t, "Service", "User")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	file, err := filepath.Abs("systemd/procotel.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	// With --root a relative file name is looked up inside the root.
	out, err := exec.Command(sysusers, "--root="+root, "--dry-run", file).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-sysusers --dry-run: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("Creating user '%s'", user); !strings.Contains(string(out), want) {
		t.Fatalf("systemd-sysusers --dry-run does not say %q (the unit's User=):\n%s", want, out)
	}
}

// TestDefaultConfigLoads loads the configuration every package installs
// through procotel's own loader, as --config would.
func TestDefaultConfigLoads(t *testing.T) {
	c := config.Default()
	if err := config.LoadFile(&c, "procotel.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("procotel.yaml: %v", err)
	}
	if c.OTLP.Endpoint == "" {
		t.Error("procotel.yaml sets no otlp.endpoint: the service would print every event to the journal")
	}
	u := parseUnit(t, unitPath)
	if got := u.one(t, "Service", "ExecStart"); !strings.Contains(got, "--config /etc/procotel/procotel.yaml") {
		t.Errorf("ExecStart %q does not read /etc/procotel/procotel.yaml", got)
	}
	if got := u.one(t, "Service", "EnvironmentFile"); got != "-/etc/procotel/procotel.env" {
		t.Errorf("EnvironmentFile=%s, want -/etc/procotel/procotel.env", got)
	}
}

// TestUnitHardening pins the settings whose absence or presence decides
// whether the service is both confined and able to work.
func TestUnitHardening(t *testing.T) {
	u := parseUnit(t, unitPath)
	s := u["Service"]
	for key, want := range map[string]string{
		"NoNewPrivileges":        "yes",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"PrivateTmp":             "yes",
		"PrivateDevices":         "yes",
		"ProtectKernelModules":   "yes",
		"ProtectKernelTunables":  "yes",
		"ProtectControlGroups":   "yes",
		"Restart":                "on-failure",
		"ConfigurationDirectory": "procotel",
		"StateDirectory":         "procotel",
	} {
		if got := s[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %s", key, got, want)
		}
	}
	// Each of these would blind or break the eBPF backend.
	for key, bad := range map[string]string{
		"ProtectProc":    "invisible", // hides other users' processes
		"ProcSubset":     "pid",       // hides /proc/sys/kernel/random/boot_id
		"PrivateUsers":   "yes",       // capabilities in a user namespace do not reach BPF
		"PrivateNetwork": "yes",       // no OTLP
	} {
		if slices.Contains(s[key], bad) {
			t.Errorf("%s=%s breaks procotel", key, bad)
		}
	}
	// tracefs must be mounted before procotel starts: it holds no
	// capability to mount it itself.
	for _, key := range []string{"Wants", "After"} {
		if !slices.Contains(u.list("Unit", key), "sys-kernel-tracing.mount") {
			t.Errorf("%s= lacks sys-kernel-tracing.mount", key)
		}
	}
	if user := u.one(t, "Service", "User"); user == "root" || user == "0" {
		t.Errorf("User=%s: the service must not run as root", user)
	}
	filter := u.list("Service", "SystemCallFilter")
	for _, call := range []string{"bpf", "perf_event_open"} {
		if len(filter) > 0 && !slices.Contains(filter, call) {
			t.Errorf("SystemCallFilter=%v lacks %s, which is in no group @system-service includes", filter, call)
		}
	}
}

// unitCaps returns the unit's ambient capabilities in setpriv's form
// ("bpf", "perfmon"), checking the bounding set is the same set.
func unitCaps(t *testing.T) []string {
	t.Helper()
	u := parseUnit(t, unitPath)
	ambient := u.list("Service", "AmbientCapabilities")
	bounding := u.list("Service", "CapabilityBoundingSet")
	slices.Sort(ambient)
	slices.Sort(bounding)
	if !slices.Equal(ambient, bounding) {
		t.Fatalf("AmbientCapabilities %v and CapabilityBoundingSet %v differ", ambient, bounding)
	}
	if len(ambient) == 0 {
		t.Fatal("the unit grants no capabilities: the eBPF backend cannot start as a non-root user")
	}
	var caps []string
	for _, c := range ambient {
		if !strings.HasPrefix(c, "CAP_") {
			t.Fatalf("capability %q: want the CAP_ form", c)
		}
		caps = append(caps, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	return caps
}

// nobody is the unprivileged uid and gid the capability tests run as.
const nobody = "65534"

// asNobody returns a command running procotel with args as uid and gid
// 65534, no supplementary groups, no_new_privs (NoNewPrivileges=yes) and
// exactly caps as its inheritable, ambient and bounding sets — what
// systemd gives the service's main process.
func asNobody(t *testing.T, caps []string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: to switch to uid 65534 and grant it capabilities")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed (Debian: util-linux)")
	}
	requireTracefs(t)
	set := "-all"
	for _, c := range caps {
		set += ",+" + c
	}
	cmd := exec.Command(setpriv, append([]string{
		"--reuid", nobody, "--regid", nobody, "--clear-groups", "--no-new-privs",
		"--inh-caps", set, "--ambient-caps", set, "--bounding-set", set,
		procotelBin}, args...)...)
	cmd.Dir = "/"
	return cmd
}

// requireTracefs mounts tracefs at /sys/kernel/tracing if no tracefs is
// mounted, as the unit's sys-kernel-tracing.mount does before the service
// starts: the service holds no capability to mount it, so without this a
// new machine's first test run would see only procotel's warning (and
// its attempt, a mount(2) the SystemCallFilter refuses). It stays mounted,
// as a systemd host has it.
func requireTracefs(t *testing.T) {
	t.Helper()
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "tracefs" {
			return
		}
	}
	if out, err := exec.Command("mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing").CombinedOutput(); err != nil {
		t.Fatalf("tracefs is not mounted, and mounting it as the unit's sys-kernel-tracing.mount would failed: %v\n%s", err, out)
	}
	t.Log("mounted tracefs at /sys/kernel/tracing, as sys-kernel-tracing.mount does before the service starts")
}

// event is the part of a `procotel --output json` line the tests read.
type event struct {
	Kind    string `json:"kind"`
	Process struct {
		PID int    `json:"pid"`
		UID int    `json:"uid"`
		Exe string `json:"exe"`
		Cwd string `json:"cwd"`

		ContainerID string `json:"container_id"`
	} `json:"process"`
	Exit struct {
		Code   int `json:"code"`
		Signal int `json:"signal"`
	} `json:"exit"`
}

func decodeEvents(t *testing.T, out []byte) []event {
	t.Helper()
	var evs []event
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("not a JSON event line: %v: %s", err, line)
		}
		evs = append(evs, e)
	}
	return evs
}

// TestUnitCapabilitiesSuffice runs procotel as the service would run it:
// as an unprivileged user holding exactly the unit's capabilities, with a
// child command whose pid and exit code are known.
func TestUnitCapabilitiesSuffice(t *testing.T) {
	caps := unitCaps(t)
	cmd := asNobody(t, caps, "--output", "json", "--", "sh", "-c", `echo "child-pid=$$" >&2; exit 7`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 7 {
		t.Fatalf("procotel as uid %s with %v: want exit code 7 passed on from the child, got %v\nstderr:\n%s", nobody, caps, err, &stderr)
	}
	pid := childPID(t, stderr.String())
	seen := map[string]event{}
	for _, e := range decodeEvents(t, stdout.Bytes()) {
		if e.Process.PID == pid {
			seen[e.Kind] = e
		}
	}
	for _, kind := range []string{"fork", "exec", "exit"} {
		if _, ok := seen[kind]; !ok {
			t.Errorf("no %s event for the child (pid %d); events for it: %v\nstdout:\n%s", kind, pid, seen, &stdout)
		}
	}
	if e := seen["exit"]; e.Exit.Code != 7 || e.Exit.Signal != 0 {
		t.Errorf("child's exit event: code %d signal %d, want code 7", e.Exit.Code, e.Exit.Signal)
	}
	if e := seen["exec"]; e.Process.UID != 65534 {
		t.Errorf("child's exec event: uid %d, want %s", e.Process.UID, nobody)
	}
}

func childPID(t *testing.T, stderr string) int {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if v, ok := strings.CutPrefix(line, "child-pid="); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("child printed %q", line)
			}
			return pid
		}
	}
	t.Fatalf("the child did not print its pid; stderr:\n%s", stderr)
	return 0
}

// TestUnitCapabilitiesAreNeeded drops each of the unit's capabilities in
// turn and checks that what its comment in the unit says fails does fail.
func TestUnitCapabilitiesAreNeeded(t *testing.T) {
	caps := unitCaps(t)
	without := func(c string) []string {
		if !slices.Contains(caps, c) {
			t.Fatalf("the unit does not grant CAP_%s", strings.ToUpper(c))
		}
		return slices.DeleteFunc(slices.Clone(caps), func(x string) bool { return x == c })
	}
	startFails := func(t *testing.T, caps []string, want string) {
		var stderr bytes.Buffer
		cmd := asNobody(t, caps, "--output", "json", "--", "true")
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil {
			t.Fatalf("procotel started with only %v", caps)
		}
		if !strings.Contains(strings.ToLower(stderr.String()), want) {
			t.Fatalf("with only %v: error does not mention %q:\n%s", caps, want, &stderr)
		}
	}
	t.Run("bpf", func(t *testing.T) { startFails(t, without("bpf"), "cap_bpf") })
	t.Run("perfmon", func(t *testing.T) { startFails(t, without("perfmon"), "cap_perfmon") })
	t.Run("dac_read_search", func(t *testing.T) {
		// /sys/kernel/tracing is 0700 root: the syscall tracepoint ids
		// cannot be read, so procotel starts without failed execs and
		// says which capability brings them back.
		var stdout, stderr bytes.Buffer
		cmd := asNobody(t, without("dac_read_search"), "--output", "json", "--", "sh", "-c", "/nonexistent/procotel-probe; exit 0")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("procotel without CAP_DAC_READ_SEARCH: %v\n%s", err, &stderr)
		}
		if msg := stderr.String(); !strings.Contains(msg, "failed execs are not reported") || !strings.Contains(msg, "CAP_DAC_READ_SEARCH") {
			t.Errorf("no warning naming CAP_DAC_READ_SEARCH:\n%s", msg)
		}
		if strings.Contains(stdout.String(), `"exec_failed"`) {
			t.Errorf("an exec_failed event without the syscall tracepoints:\n%s", &stdout)
		}
	})
	t.Run("sys_ptrace", func(t *testing.T) {
		sleep, err := exec.LookPath("sleep")
		if err != nil {
			t.Skip("no sleep(1)")
		}
		sleepExe, err := filepath.EvalSymlinks(sleep)
		if err != nil {
			t.Fatal(err)
		}
		with := seenExisting(t, caps, sleepExe)
		if with.Process.Exe != sleepExe || with.Process.Cwd == "" {
			t.Errorf("with %v: root's existing sleep has exe %q cwd %q, want %s and its cwd", caps, with.Process.Exe, with.Process.Cwd, sleepExe)
		}
		less := without("sys_ptrace")
		if e := seenExisting(t, less, sleepExe); e.Process.Exe != "" || e.Process.Cwd != "" {
			t.Errorf("with only %v, procotel read root's /proc/PID/exe (%q) and cwd (%q): CAP_SYS_PTRACE is not needed", less, e.Process.Exe, e.Process.Cwd)
		}
	})
}

// seenExisting starts a root-owned sleep in a directory of its own before
// procotel (as uid 65534 with caps) starts, kills it once procotel prints
// its first event, and returns sleep's exit event.
func seenExisting(t *testing.T, caps []string, sleepExe string) event {
	t.Helper()
	dir := t.TempDir()
	sleep := exec.Command(sleepExe, "60")
	sleep.Dir = dir
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Wait()
	defer sleep.Process.Kill()

	cmd := asNobody(t, caps, "--output", "json", "--duration", "30s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		io.Copy(io.Discard, stdout)
		cmd.Wait()
	}()
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	// The first line says procotel has attached; on a quiet host make
	// events until it comes.
	attached := make(chan struct{})
	defer func() {
		select {
		case <-attached:
		default:
			close(attached)
		}
	}()
	go func() {
		for {
			select {
			case <-attached:
				return
			case <-time.After(200 * time.Millisecond):
				_ = exec.Command("true").Run()
			}
		}
	}()

	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	killed := false
	for lines.Scan() {
		if !killed {
			// procotel seeded its table and attached: sleep already existed.
			close(attached)
			if err := sleep.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
		var e event
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON event line: %v: %s", err, lines.Bytes())
		}
		if e.Kind == "exit" && e.Process.PID == sleep.Process.Pid {
			if e.Exit.Signal != int(syscall.SIGKILL) {
				t.Errorf("sleep's exit event: signal %d, want %d", e.Exit.Signal, syscall.SIGKILL)
			}
			if e.Process.Cwd != "" && e.Process.Cwd != dir {
				t.Errorf("sleep's cwd %q, want %s", e.Process.Cwd, dir)
			}
			return e
		}
	}
	cmd.Wait()
	t.Fatalf("with %v: no exit event for the existing sleep (pid %d)\nstderr:\n%s", caps, sleep.Process.Pid, &stderr)
	return event{}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestSystemCallFilterCoversProcotel traces every system call procotel
// makes as the service (uid 65534, the unit's capabilities, exporting to
// an OTLP endpoint nobody listens on) and checks the unit's
// SystemCallFilter allows each: a call outside it would fail with EPERM
// (SystemCallErrorNumber) only in production.
func TestSystemCallFilterCoversProcotel(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (Debian: apt-get install strace)")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
	}
	u := parseUnit(t, unitPath)
	filter := u.list("Service", "SystemCallFilter")
	if len(filter) == 0 {
		t.Skip("the unit sets no SystemCallFilter")
	}
	groups, err := exec.Command(analyze, "syscall-filter", "--no-pager").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	allowed := expandSyscallGroups(string(groups), append(filter, "@default"))

	cmd := asNobody(t, unitCaps(t), "--output", "json", "--otlp-endpoint", "127.0.0.1:1", "--otlp-insecure", "--duration", "2s")
	log := filepath.Join(t.TempDir(), "strace")
	cmd = exec.Command(strace, append([]string{"-f", "-qq", "-o", log, cmd.Path}, cmd.Args[1:]...)...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_TIMEOUT=1000")
	// procotel exits 1 here, its last batches undelivered: that is the
	// exporter's error path, which the filter must allow too.
	out, err := cmd.CombinedOutput()
	t.Logf("strace procotel: %v\n%s", err, out)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	started := false // setpriv's own calls come before it executes procotel
	for _, line := range strings.Split(string(b), "\n") {
		_, call, _ := strings.Cut(strings.TrimSpace(line), " ")
		name, _, ok := strings.Cut(strings.TrimSpace(call), "(")
		// "<... x resumed>" ends a call already counted; "???" is a call
		// strace could not name, as when exit_group takes a thread down
		// on its way into the kernel: it names no call to check.
		if !ok || strings.HasPrefix(name, "<...") || name == "???" {
			continue
		}
		if name == "execve" && strings.Contains(call, procotelBin) {
			started = true
		}
		if started {
			used[name] = true
		}
	}
	if !started || !used["bpf"] {
		t.Fatalf("strace log shows no procotel run loading BPF:\n%.2000s\n%s", b, out)
	}
	for name := range used {
		if !allowed[name] {
			t.Errorf("procotel calls %s, which SystemCallFilter=%s does not allow", name, strings.Join(filter, " "))
		}
	}
}

// expandSyscallGroups resolves system call names and @groups (as listed
// by systemd-analyze syscall-filter) to the set of names they allow.
func expandSyscallGroups(listing string, items []string) map[string]bool {
	members := map[string][]string{}
	group := ""
	for _, line := range strings.Split(listing, "\n") {
		switch {
		case strings.HasPrefix(line, "@"):
			group = strings.Fields(line)[0]
		case group != "" && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "#"):
			members[group] = append(members[group], strings.TrimSpace(line))
		}
	}
	allowed := map[string]bool{}
	var add func(string)
	add = func(item string) {
		if !strings.HasPrefix(item, "@") {
			allowed[item] = true
			return
		}
		for _, m := range members[item] {
			if !allowed[m] {
				add(m)
			}
		}
	}
	for _, item := range items {
		add(item)
	}
	return allowed
}
