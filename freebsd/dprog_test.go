package freebsd

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestProgramGolden(t *testing.T) {
	cases := []struct {
		name string
		opts ProgramOptions
	}{
		{"default", ProgramOptions{}},
		{"jails", ProgramOptions{Jails: []int32{3, 7}, SignalsAll: true, StrSize: 256, ArgvMax: 1024}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProgram(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Source()
			path := filepath.Join("testdata", tc.name+".d")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if got != string(want) {
				t.Errorf("program differs from %s (run go test -update to accept):\n%s", path, got)
			}
		})
	}
}

func TestProgramShape(t *testing.T) {
	p, err := NewProgram(ProgramOptions{Jails: []int32{5}})
	if err != nil {
		t.Fatal(err)
	}
	src := p.Source()
	if strings.Contains(src, "printf") {
		t.Error("program uses printf; records must come from trace() only")
	}
	for _, probe := range []string{"create", "exec", "exec-success", "exec-failure", "exit",
		"signal-send", "signal-discard", "signal-clear"} {
		if !strings.Contains(src, "proc:::"+probe+"\n") {
			t.Errorf("no clause for proc:::%s", probe)
		}
	}
	seen := map[Tag]bool{}
	for _, c := range p.Schema.Clauses {
		if seen[c.Tag] {
			t.Errorf("tag %d used twice", c.Tag)
		}
		seen[c.Tag] = true
		if c.Fields[0].Name != "tag" || c.Fields[0].Expr != strconv.Itoa(int(c.Tag)) {
			t.Errorf("clause %s does not trace its tag first", c.Probe)
		}
		if !strings.Contains(c.Predicate, "pr_id == 5") {
			t.Errorf("clause %s: jail filter missing from predicate %q", c.Probe, c.Predicate)
		}
		if c.Tag != TagExecArgs && c.Index("start") < 0 {
			t.Errorf("clause %s has no process start time", c.Probe)
		}
	}
	send, _ := p.Schema.Clause(TagSignalSend)
	if !strings.Contains(send.Predicate, "args[1]->p_ucred->cr_prison->pr_id == 5") ||
		!strings.Contains(send.Predicate, "args[2] != 20") {
		t.Errorf("signal-send predicate %q: want target jail filter and SIGCHLD filter", send.Predicate)
	}
}

func TestProgramOptionsInvalid(t *testing.T) {
	for _, o := range []ProgramOptions{{StrSize: 8}, {ArgvMax: 1 << 30}, {Jails: []int32{-1}}} {
		if _, err := NewProgram(o); err == nil {
			t.Errorf("NewProgram(%+v) succeeded, want error", o)
		}
	}
}
