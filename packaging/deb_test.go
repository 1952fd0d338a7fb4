package packaging

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDeb builds the .deb with `make deb` and checks it with dpkg-deb:
// what it installs where, with which modes, its conffiles and control
// fields, and that the installed tree is the repository's files, a static
// binary that runs, and a unit systemd-analyze verifies in place.
func TestDeb(t *testing.T) {
	dpkgDeb, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Skip("dpkg-deb is not installed (Debian: dpkg)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	nfpm := exec.Command("go", "tool", "-modfile=packaging/nfpm.mod", "nfpm", "--version")
	nfpm.Dir = ".."
	if out, err := nfpm.CombinedOutput(); err != nil {
		t.Skipf("nfpm (packaging/nfpm.mod) cannot be built here, no module proxy? %v\n%s", err, out)
	}
	if out, err := exec.Command("make", "-C", "..", "deb").CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob("../bin/deb/procotel_*.deb")
	if len(debs) != 1 {
		t.Fatalf("make deb left %d packages in bin/deb: %v", len(debs), debs)
	}
	deb := debs[0]

	out, err := exec.Command(dpkgDeb, "-c", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	t.Logf("dpkg-deb -c %s:\n%s", deb, out)
	listed := map[string]string{} // path → mode and owner
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 {
			listed[f[len(f)-1]] = f[0] + " " + f[1]
		}
	}
	for path, want := range map[string]string{
		"./usr/bin/procotel":                        "-rwxr-xr-x root/root",
		"./usr/lib/systemd/system/procotel.service": "-rw-r--r-- root/root",
		"./usr/lib/sysusers.d/procotel.conf":        "-rw-r--r-- root/root",
		"./etc/procotel/procotel.yaml":              "-rw-r--r-- root/root",
		"./etc/procotel/procotel.env":               "-rw------- root/root",
	} {
		if got, ok := listed[path]; !ok {
			t.Errorf("%s is not in the package", path)
		} else if got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}

	fields, err := exec.Command(dpkgDeb, "-f", deb, "Package", "Architecture", "Version", "Maintainer").Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v", err)
	}
	for _, want := range []string{"Package: procotel\n", "Architecture: " + runtime.GOARCH + "\n", "Version: "} {
		if !strings.Contains(string(fields), want) {
			t.Errorf("control fields lack %q:\n%s", strings.TrimSpace(want), fields)
		}
	}

	control := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "-e", deb, control).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	conffiles, err := os.ReadFile(filepath.Join(control, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/etc/procotel/procotel.yaml", "/etc/procotel/procotel.env"} {
		if !strings.Contains(string(conffiles), want+"\n") {
			t.Errorf("conffiles lacks %s (an upgrade would overwrite the administrator's edits):\n%s", want, conffiles)
		}
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(control, script)).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", script, err, out)
		}
	}

	root := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	for installed, src := range map[string]string{
		"usr/lib/systemd/system/procotel.service": "systemd/procotel.service",
		"usr/lib/sysusers.d/procotel.conf":        "systemd/procotel.sysusers",
		"etc/procotel/procotel.yaml":              "procotel.yaml",
		"etc/procotel/procotel.env":               "systemd/procotel.env",
	} {
		a, err1 := os.ReadFile(filepath.Join(root, installed))
		b, err2 := os.ReadFile(src)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("/%s is not packaging/%s (%v, %v)", installed, src, err1, err2)
		}
	}
	bin := filepath.Join(root, "usr/bin/procotel")
	if f, err := elf.Open(bin); err != nil {
		t.Error(err)
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/usr/bin/procotel is dynamically linked: the package declares no libc dependency")
			}
		}
		f.Close()
	}
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "procotel ") {
		t.Errorf("/usr/bin/procotel version: %v: %s", err, out)
	}
	verifyUnitInRoot(t, root)
}
