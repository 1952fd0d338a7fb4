package layout

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/procotel/procotel"

// allowed maps a package (or a folder with "/..." for it and everything
// below) to the procotel packages its non-test code may import. A package
// may always import packages below itself. The most specific entry wins.
var allowed = map[string][]string{
	"semconv/...":  {},
	"config/...":   {},
	"backends":     {"semconv"},
	"backends/...": {"backends", "semconv"},
	"linux/...":    {"backends/...", "semconv"},
	"freebsd/...":  {"backends/...", "semconv"},
	"pipeline/...": {"semconv"},
	"export/...":   {"semconv"},
	"terminal/...": {"semconv", "pipeline"},
	"console/...":  {"backends", "pipeline", "semconv", "terminal"},
	"agent/...": {
		"backends/...", "config", "linux", "freebsd", "pipeline", "semconv",
	},
	"collector/...":        {"agent", "backends", "config", "pipeline", "semconv"},
	"internal/layout":      {},
	"internal/testenv":     {"backends/...", "semconv"},
	"internal/otelcoltest": {},
	"packaging":            {},
	"cmd/...":              {"*"},
	"e2e/...":              {"*"},
}

// rule returns the allowed imports of pkg (module-relative), the folder
// whose packages it may import freely ("" for an exact rule), and whether any
// rule names it. An exact entry beats a folder; a deeper folder beats a
// shallower one.
func rule(pkg string) (imports []string, tree string, found bool) {
	if imports, ok := allowed[pkg]; ok {
		return imports, "", true
	}
	for pat, imps := range allowed {
		base, isTree := strings.CutSuffix(pat, "/...")
		if !isTree || pkg != base && !strings.HasPrefix(pkg, base+"/") {
			continue
		}
		if !found || len(base) > len(tree) {
			imports, tree, found = imps, base, true
		}
	}
	return imports, tree, found
}

func permits(imports []string, tree, to string) bool {
	if tree != "" && (to == tree || strings.HasPrefix(to, tree+"/")) {
		return true
	}
	for _, a := range imports {
		base, isTree := strings.CutSuffix(a, "/...")
		if a == "*" || to == base || isTree && strings.HasPrefix(to, base+"/") {
			return true
		}
	}
	return false
}

func TestImportDirections(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not on PATH: the import check needs `go list`")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, goos := range []string{"linux", "freebsd"} {
		t.Run(goos, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, stderr.String())
			}
			checked := 0
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				fields := strings.Fields(line)
				pkg, ok := strings.CutPrefix(fields[0], module+"/")
				if !ok {
					continue
				}
				imports, tree, known := rule(pkg)
				if !known {
					t.Errorf("%s: no import rule; add it to the table in internal/layout (and to the design's package table)", pkg)
					continue
				}
				checked++
				for _, imp := range fields[1:] {
					to, ok := strings.CutPrefix(imp, module+"/")
					if !ok {
						continue
					}
					if !permits(imports, tree, to) {
						t.Errorf("%s imports %s, which the package table does not allow (allowed: %v)", pkg, to, imports)
					}
				}
			}
			if checked < 10 {
				t.Fatalf("only %d procotel packages listed; the check read nothing useful:\n%s", checked, out)
			}
		})
	}
}

func TestRuleTable(t *testing.T) {
	// The check itself: a forbidden edge is caught, a permitted one is not.
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"backends", "config", false},
		{"backends", "semconv", true},
		{"backends/replay", "backends", true},
		{"linux", "pipeline", false},
		{"pipeline", "export", false},
		{"collector", "backends/replay", false},
		{"collector", "linux", false},
		{"collector", "agent", true},
		{"collector", "collector/internal/metadata", true},
		{"backends/backendtest/workload", "backends/backendtest/truth", true},
		{"backends", "backends/replay", false},
		{"cmd/procotel", "linux", true},
		{"semconv", "backends", false},
	} {
		imports, tree, known := rule(c.from)
		if !known {
			t.Errorf("%s: no rule", c.from)
			continue
		}
		if got := permits(imports, tree, c.to); got != c.ok {
			t.Errorf("%s -> %s: permitted %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
