package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const rcScript = "freebsd/rc.d/procotel"

// TestRCScriptSyntax checks the rc.d script parses as a POSIX shell script.
func TestRCScriptSyntax(t *testing.T) {
	out, err := exec.Command("sh", "-n", rcScript).CombinedOutput()
	if err != nil {
		t.Fatalf("sh -n %s: %v\n%s", rcScript, err, out)
	}
}

// TestRCScriptConventions checks the rc.subr(8) conventions a port's
// rc.d script is expected to follow.
func TestRCScriptConventions(t *testing.T) {
	b, err := os.ReadFile(rcScript)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "#!/bin/sh\n") {
		t.Error("does not start with #!/bin/sh")
	}
	header := map[string][]string{}
	for _, line := range strings.Split(s, "\n") {
		for _, key := range []string{"PROVIDE", "REQUIRE", "BEFORE", "KEYWORD"} {
			if v, ok := strings.CutPrefix(line, "# "+key+":"); ok {
				header[key] = append(header[key], strings.Fields(v)...)
			}
		}
	}
	if !slices.Equal(header["PROVIDE"], []string{"procotel"}) {
		t.Errorf("# PROVIDE: %v, want procotel", header["PROVIDE"])
	}
	for _, dep := range []string{"LOGIN", "NETWORKING"} {
		if !slices.Contains(header["REQUIRE"], dep) {
			t.Errorf("# REQUIRE: %v lacks %s", header["REQUIRE"], dep)
		}
	}
	if !slices.Contains(header["KEYWORD"], "shutdown") {
		t.Errorf("# KEYWORD: %v lacks shutdown (stopped at shutdown)", header["KEYWORD"])
	}
	for _, want := range []string{
		"\n. /etc/rc.subr\n",
		"\nname=procotel\n",
		"\nrcvar=procotel_enable\n",
		"\nload_rc_config $name\n",
		`: ${procotel_enable:="NO"}`,
		`: ${procotel_config:="%%PREFIX%%/etc/procotel/procotel.yaml"}`,
		`: ${procotel_flags:=""}`,
		"\ncommand=\"/usr/sbin/daemon\"\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q", strings.TrimSpace(want))
		}
	}
	if !strings.HasSuffix(s, "\nrun_rc_command \"$1\"\n") {
		t.Error(`does not end with run_rc_command "$1"`)
	}
	if strings.Index(s, "load_rc_config") > strings.Index(s, ": ${procotel_enable") {
		t.Error("sets defaults before load_rc_config: rc.conf could not override them")
	}
	// rc.subr replaces $command with ${name}_program when it is set.
	if regexp.MustCompile(`(?m)^\s*:?\s*\$?\{?procotel_program\b`).MatchString(s) {
		t.Error("uses procotel_program, which rc.subr reserves for replacing $command")
	}
}

// fakeRCSubr does what rc.subr(8) does for `start`, in the same order:
// rc_flags from ${name}_flags, then start_precmd, then
// "$command $rc_flags $command_args" (rc.subr's _doit), here printed.
const fakeRCSubr = `
load_rc_config() { :; }
checkyesno() { eval _v=\$$1; case $_v in [Yy][Ee][Ss]) return 0;; esac; return 1; }
run_rc_command() {
	checkyesno $rcvar || { echo "disabled"; return 0; }
	eval rc_flags=\$${name}_flags
	[ -n "$start_precmd" ] && $start_precmd
	echo "$command $rc_flags $command_args"
	echo "pidfile=$pidfile required_files=$required_files required_modules=$required_modules"
}
`

// rcStart runs the rc script's start with the fake rc.subr and the given
// rc.conf lines, with %%PREFIX%% replaced as the port does.
func rcStart(t *testing.T, rcConf string) []string {
	t.Helper()
	b, err := os.ReadFile(rcScript)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	subr := filepath.Join(dir, "rc.subr")
	if err := os.WriteFile(subr, []byte(fakeRCSubr+rcConf+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(string(b), "%%PREFIX%%", "/usr/local")
	script = strings.Replace(script, ". /etc/rc.subr", ". "+subr, 1)
	out, err := exec.Command("sh", "-c", script, "procotel", "start").CombinedOutput()
	if err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// TestRCScriptStartCommand checks the command line start builds: daemon(8)
// with a supervisor pidfile and restarts, and procotel_flags given to
// procotel, not to daemon.
func TestRCScriptStartCommand(t *testing.T) {
	if got := rcStart(t, ""); len(got) == 0 || got[0] != "disabled" {
		t.Fatalf("without procotel_enable=YES start ran: %q", got)
	}
	lines := rcStart(t, `procotel_enable=YES
procotel_flags="--jail www --filter kind=exec"`)
	if len(lines) != 2 {
		t.Fatalf("start printed %q", lines)
	}
	args := strings.Fields(lines[0])
	bin := slices.Index(args, "/usr/local/bin/procotel")
	if bin < 0 || args[0] != "/usr/sbin/daemon" {
		t.Fatalf("start runs %q, want /usr/sbin/daemon ... /usr/local/bin/procotel ...", lines[0])
	}
	daemonArgs, procotelArgs := args[1:bin], args[bin+1:]
	for _, a := range daemonArgs {
		if strings.HasPrefix(a, "--") || a == "www" {
			t.Errorf("daemon(8) gets procotel_flags: %q", daemonArgs)
			break
		}
	}
	if i := slices.Index(daemonArgs, "-P"); i < 0 || i+1 >= len(daemonArgs) || daemonArgs[i+1] != "/var/run/procotel.pid" {
		t.Errorf("daemon %q: want -P /var/run/procotel.pid (the supervisor's pid, which stop signals)", daemonArgs)
	}
	if !slices.Contains(daemonArgs, "-r") {
		t.Errorf("daemon %q: want -r (restart procotel when it dies)", daemonArgs)
	}
	want := []string{"run", "--config", "/usr/local/etc/procotel/procotel.yaml", "--jail", "www", "--filter", "kind=exec"}
	if !slices.Equal(procotelArgs, want) {
		t.Errorf("procotel gets %q, want %q", procotelArgs, want)
	}
	if want := "pidfile=/var/run/procotel.pid required_files=/usr/local/etc/procotel/procotel.yaml required_modules=dtraceall"; lines[1] != want {
		t.Errorf("got %q, want %q", lines[1], want)
	}
}

// makeVars reads a BSD make file's "VAR=	value" assignments (with
// backslash continuations).
func makeVars(t *testing.T, path string) (map[string]string, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	assign := regexp.MustCompile(`^([A-Z_]+)[+?]?=\s*(.*)$`)
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		if m := assign.FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return vars, string(b)
}

// TestFreeBSDPort checks the port skeleton against the module and the
// files it installs.
func TestFreeBSDPort(t *testing.T) {
	vars, text := makeVars(t, "freebsd/port/Makefile")
	for key, want := range map[string]string{
		"PORTNAME":    "procotel",
		"USES":        "go:modules",
		"USE_RC_SUBR": "procotel",
		"GO_TARGET":   "./cmd/procotel",
		"GO_MODULE":   modulePath(t),
	} {
		if vars[key] != want {
			t.Errorf("%s=%q, want %q", key, vars[key], want)
		}
	}
	for _, key := range []string{"DISTVERSION", "CATEGORIES", "MAINTAINER", "COMMENT", "WWW"} {
		if vars[key] == "" {
			t.Errorf("%s is not set", key)
		}
	}
	if _, err := os.Stat(filepath.Join("..", vars["GO_TARGET"])); err != nil {
		t.Errorf("GO_TARGET: %v", err)
	}
	if !strings.HasSuffix(strings.TrimSpace(text), ".include <bsd.port.mk>") {
		t.Error("does not end with .include <bsd.port.mk>")
	}
	// USE_RC_SUBR=procotel installs files/procotel.in: the rc.d script.
	in, err := os.ReadFile("freebsd/port/files/procotel.in")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := os.ReadFile(rcScript)
	if err != nil {
		t.Fatal(err)
	}
	if string(in) != string(rc) {
		t.Error("files/procotel.in is not the rc.d script")
	}
	// The sample configuration: installed by post-install, listed with
	// @sample, and a file of this tree.
	plist, err := os.ReadFile("freebsd/port/pkg-plist")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bin/procotel", "@sample etc/procotel/procotel.yaml.sample"} {
		if !slices.Contains(strings.Split(string(plist), "\n"), want) {
			t.Errorf("pkg-plist lacks %q", want)
		}
	}
	if !strings.Contains(text, "${WRKSRC}/packaging/procotel.yaml") || !strings.Contains(text, "${STAGEDIR}${PREFIX}/etc/procotel/procotel.yaml.sample") {
		t.Error("post-install does not install packaging/procotel.yaml as etc/procotel/procotel.yaml.sample")
	}
	if descr, err := os.ReadFile("freebsd/port/pkg-descr"); err != nil || len(strings.TrimSpace(string(descr))) == 0 {
		t.Errorf("pkg-descr: empty or unreadable (%v)", err)
	}
}

func modulePath(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(line, "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("go.mod names no module")
	return ""
}
