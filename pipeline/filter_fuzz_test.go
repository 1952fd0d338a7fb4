package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/procotel/procotel/semconv"
)

// renderFilter writes parsed terms back as an expression: every string
// value quoted (so commas, spaces, quotes and backslashes in it survive),
// pid subtrees as "N"+, and jail and cgroup numbers bare (quoting makes
// them names).
func renderFilter(terms []term) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fieldNames[t.field])
		b.WriteString(opNames[t.op])
		for j, v := range t.vals {
			if j > 0 {
				b.WriteByte(',')
			}
			if (t.field == fieldJail || t.field == fieldCgroup) && v.isNum {
				b.WriteString(v.s)
				continue
			}
			b.WriteByte('"')
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v.s))
			b.WriteByte('"')
			if v.subtree {
				b.WriteByte('+')
			}
		}
	}
	return b.String()
}

// FuzzFilterParse checks the filter parser on any input: it never panics;
// an expression it accepts, written back with every value quoted, parses
// to the same terms; and an error it returns is a *FilterError whose
// column lies within the expression (or just past its end) and which its
// message states.
func FuzzFilterParse(f *testing.F) {
	for _, s := range []string{
		"kind=exec,exit exe=*/curl uid!=0",
		"pid=1234+ code!=0",
		"signal=SIGKILL,SIGSEGV errno=ENOENT",
		`argv="a b,c" comm="x\"y\\z"`,
		"jail=0 cgroup=/sys/fs cgroup=123 container=\"\"",
		"uid>=1000 gid<5 euid<=0 ppid>1",
		`pid="5"+ exx=1`,
		"comm=é exx=1",
		"pid= uid=1",
		`argv="abc`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		flt, err := ParseFilter(src)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFilter(%q): error %v (%T) is not a *FilterError", src, err, err)
			}
			if n := utf8.RuneCountInString(src); fe.Col < 1 || fe.Col > n+1 {
				t.Fatalf("ParseFilter(%q): column %d outside 1..%d", src, fe.Col, n+1)
			}
			if fe.Msg == "" || !strings.HasPrefix(err.Error(), fmt.Sprintf("filter: column %d: ", fe.Col)) {
				t.Fatalf("ParseFilter(%q): error %q does not name its column %d", src, err, fe.Col)
			}
			return
		}
		if flt.String() != src {
			t.Fatalf("String() = %q, want the source %q", flt.String(), src)
		}
		again := renderFilter(flt.terms)
		g, err := ParseFilter(again)
		if err != nil {
			t.Fatalf("ParseFilter(%q) ok, but its rendering %q: %v", src, again, err)
		}
		if !reflect.DeepEqual(g.terms, flt.terms) {
			t.Fatalf("%q and its rendering %q parse differently:\n %+v\n %+v", src, again, flt.terms, g.terms)
		}
		// Matching a parsed filter never panics either.
		e := execOK(1000*ms, 200, "/usr/bin/curl", "curl", "-s", "x")
		for _, k := range []semconv.Kind{semconv.KindExec, semconv.KindExit, semconv.KindSignal, semconv.KindExecFailed} {
			e.Kind = k
			flt.Match(&e, fakeLineage{})
			flt.Match(&e, nil)
		}
	})
}
