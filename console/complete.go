package console

import (
	"slices"
	"strconv"
	"strings"

	"github.com/chzyer/readline"

	"github.com/procotel/procotel/semconv"
	"github.com/procotel/procotel/terminal"
)

// maxCandidates bounds the completions offered at once (pids on a busy
// host).
const maxCandidates = 200

// completer completes commands, filter fields and values, and live pids.
type completer struct{ c *Console }

var _ readline.AutoCompleter = completer{}

// Do returns the candidates for the word before pos, as the suffixes to
// add, and the length of the word they complete.
func (cp completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	i := strings.LastIndexAny(before, " \t") + 1
	word := before[i:]
	done := strings.Fields(before[:i])
	var cands []string
	switch {
	case len(done) == 0:
		for _, cmd := range commands {
			cands = append(cands, cmd.name+" ")
		}
	default:
		cmd := findCommand(strings.ToLower(done[0]))
		if cmd == nil {
			return nil, 0
		}
		switch cmd.name {
		case "help":
			if len(done) == 1 {
				for _, c := range commands {
					cands = append(cands, c.name)
				}
			}
		case "show", "tree":
			if len(done) == 1 {
				cands = cp.pids()
			}
		case "tail", "ps":
			return cp.filter(word)
		}
	}
	return suffixes(cands, word), len([]rune(word))
}

// filter completes one filter term: a field name, or a value after the
// operator (after the last comma for alternatives).
func (cp completer) filter(word string) ([][]rune, int) {
	opAt := strings.IndexAny(word, "=<>!")
	if opAt < 0 {
		var cands []string
		for _, f := range filterFields {
			cands = append(cands, f+"=")
		}
		return suffixes(cands, word), len([]rune(word))
	}
	field := strings.ToLower(word[:opAt])
	val := word[opAt:]
	val = strings.TrimLeft(val, "=<>!")
	if i := strings.LastIndexByte(val, ','); i >= 0 {
		val = val[i+1:]
	}
	var cands []string
	switch field {
	case "kind":
		for _, k := range semconv.Kinds() {
			cands = append(cands, k.String())
		}
	case "pid", "ppid":
		cands = cp.pids()
	case "exe", "comm":
		seen := map[string]bool{}
		for _, p := range cp.c.opts.Pipeline.Snapshot() {
			n := p.Comm
			if field == "exe" {
				n = rawName(&p)
			}
			// A name the terminal would act on is not offered: the
			// list of candidates is printed as it is.
			if n != "" && !seen[n] && !terminal.NeedsEscape(n) {
				seen[n] = true
				cands = append(cands, n)
			}
		}
	case "container":
		seen := map[string]bool{}
		for _, p := range cp.c.opts.Pipeline.Snapshot() {
			if id := shortID(p.ContainerID); id != "" && !seen[id] && !terminal.NeedsEscape(id) {
				seen[id] = true
				cands = append(cands, id)
			}
		}
	case "jail":
		seen := map[int32]bool{}
		for _, p := range cp.c.opts.Pipeline.Snapshot() {
			if p.JailID != 0 && !seen[p.JailID] {
				seen[p.JailID] = true
				cands = append(cands, strconv.Itoa(int(p.JailID)))
			}
		}
	}
	slices.Sort(cands)
	return suffixes(cands, val), len([]rune(val))
}

// pids returns the live pids, as text.
func (cp completer) pids() []string {
	procs := cp.c.opts.Pipeline.Snapshot()
	out := make([]string, 0, len(procs))
	for _, p := range procs {
		out = append(out, strconv.Itoa(int(p.PID)))
	}
	return out
}

// suffixes returns what each candidate that starts with word adds to it,
// at most maxCandidates of them.
func suffixes(cands []string, word string) [][]rune {
	var out [][]rune
	for _, c := range cands {
		if strings.HasPrefix(c, word) {
			out = append(out, []rune(c[len(word):]))
			if len(out) == maxCandidates {
				break
			}
		}
	}
	return out
}
