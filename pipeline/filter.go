package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/procotel/procotel/semconv"
)

// Filter selects events by a small expression language, shared by the
// command line (--filter), the configuration file and the console:
//
//	kind=exec,exit exe=*/curl uid!=0
//	pid=1234+ code!=0
//	signal=SIGKILL,SIGSEGV
//
// An expression is terms separated by spaces, all of which must hold. A
// term is field, operator, value. Operators are = and !=, and for numeric
// fields also <, <=, > and >=. A value may be quoted with "…" (backslash
// escapes " and \ inside); a comma outside quotes separates alternatives,
// of which one must match for = and none for !=; * in a string value
// matches any run of characters. pid=N+ means pid N and every process it
// created, directly or not.
//
// Fields: kind, pid, ppid, uid, euid, gid, comm, exe (the full path or
// the base name), argv (a substring of the command line; with * a pattern
// over the whole space-joined command line), code (exit code of a normal
// exit), signal (terminating signal of an exit, 0 when it exited; signal
// number of a signal event; name or number), errno (of a failed exec, name
// or number), container (id prefix or name; "" is the host), jail (id or
// name; 0 is the host), cgroup (path, or numeric id). A term about a field
// the event does not have (code on a fork) is false whatever the operator.
//
// A Filter is immutable after parsing and safe for concurrent use.
type Filter struct {
	src   string
	terms []term
}

// FilterError is a syntax error in a filter expression. Col is the 1-based
// column (in characters) of the offending token.
type FilterError struct {
	Col int
	Msg string
}

// Error renders the error as "filter: column 9: unknown field ...".
func (e *FilterError) Error() string {
	return fmt.Sprintf("filter: column %d: %s", e.Col, e.Msg)
}

type field uint8

const (
	fieldKind field = iota
	fieldPID
	fieldPPID
	fieldUID
	fieldEUID
	fieldGID
	fieldComm
	fieldExe
	fieldArgv
	fieldCode
	fieldSignal
	fieldErrno
	fieldContainer
	fieldJail
	fieldCgroup
	fieldCount
)

var fieldNames = [fieldCount]string{
	fieldKind: "kind", fieldPID: "pid", fieldPPID: "ppid", fieldUID: "uid",
	fieldEUID: "euid", fieldGID: "gid", fieldComm: "comm", fieldExe: "exe",
	fieldArgv: "argv", fieldCode: "code", fieldSignal: "signal",
	fieldErrno: "errno", fieldContainer: "container", fieldJail: "jail",
	fieldCgroup: "cgroup",
}

// knownFields lists the field names alphabetically, for error messages.
const knownFields = "argv, cgroup, code, comm, container, errno, euid, exe, gid, jail, kind, pid, ppid, signal, uid"

func (f field) numeric() bool {
	switch f {
	case fieldPID, fieldPPID, fieldUID, fieldEUID, fieldGID, fieldCode, fieldSignal, fieldErrno:
		return true
	}
	return false
}

type op uint8

const (
	opEq op = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

var opNames = [...]string{opEq: "=", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">="}

// opsLongestFirst orders the operators for parsing, so that "<=" is not
// read as "<" followed by a value starting with "=".
var opsLongestFirst = [...]op{opNe, opLe, opGe, opEq, opLt, opGt}

type term struct {
	field field
	op    op
	vals  []value
}

// value is one alternative of a term's value.
type value struct {
	s       string
	glob    bool // s contains *
	num     int64
	isNum   bool
	perOS   [3]int64 // signal and errno numbers by semconv.OS; -1 when the name is unknown there
	named   bool     // perOS is in use
	subtree bool     // pid=N+
}

// ParseFilter parses a filter expression. An empty expression matches
// everything. Errors are *FilterError.
func ParseFilter(s string) (*Filter, error) {
	p := filterParser{src: s}
	f := &Filter{src: s}
	for {
		p.skipSpace()
		if p.pos >= len(s) {
			break
		}
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		f.terms = append(f.terms, t)
	}
	return f, nil
}

// String returns the expression the filter was parsed from.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

type filterParser struct {
	src string
	pos int
}

func (p *filterParser) errAt(pos int, format string, args ...any) *FilterError {
	return &FilterError{Col: utf8.RuneCountInString(p.src[:pos]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *filterParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

func (p *filterParser) term() (term, error) {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			break
		}
		p.pos++
	}
	name := strings.ToLower(p.src[start:p.pos])
	if name == "" {
		return term{}, p.errAt(start, "expected a field name, found %q", p.token(start))
	}
	f := fieldCount
	for i, n := range fieldNames {
		if n == name {
			f = field(i)
		}
	}
	if f == fieldCount {
		return term{}, p.errAt(start, "unknown field %q (known: %s)", name, knownFields)
	}

	opPos := p.pos
	o, ok := op(0), false
	for _, cand := range opsLongestFirst {
		if strings.HasPrefix(p.src[p.pos:], opNames[cand]) {
			o, ok = cand, true
			p.pos += len(opNames[cand])
			break
		}
	}
	if !ok {
		if opPos >= len(p.src) || isSpace(p.src[opPos]) {
			return term{}, p.errAt(opPos, "expected an operator (=, !=, <, <=, >, >=) after %q", name)
		}
		return term{}, p.errAt(opPos, "expected an operator (=, !=, <, <=, >, >=) after %q, found %q", name, p.token(opPos))
	}
	if o >= opLt && !f.numeric() {
		return term{}, p.errAt(opPos, "operator %q needs a numeric field; %q is not one", opNames[o], name)
	}

	raws, err := p.values()
	if err != nil {
		return term{}, err
	}
	if o >= opLt && len(raws) > 1 {
		return term{}, p.errAt(raws[1].pos, "operator %q takes one value", opNames[o])
	}
	t := term{field: f, op: o, vals: make([]value, 0, len(raws))}
	for _, r := range raws {
		v, err := p.value(f, o, r)
		if err != nil {
			return term{}, err
		}
		t.vals = append(t.vals, v)
	}
	return t, nil
}

// token returns the text from pos to the next space, for messages.
func (p *filterParser) token(pos int) string {
	end := pos
	for end < len(p.src) && !isSpace(p.src[end]) {
		end++
	}
	return p.src[pos:end]
}

type rawValue struct {
	s      string
	pos    int  // byte offset of its first character
	quoted bool // some of it was quoted
}

// values reads a term's value up to the next unquoted space and splits it
// at unquoted commas.
func (p *filterParser) values() ([]rawValue, error) {
	var out []rawValue
	var b strings.Builder
	cur := rawValue{pos: p.pos}
	flush := func() error {
		if b.Len() == 0 && !cur.quoted {
			return p.errAt(cur.pos, "missing value")
		}
		cur.s = b.String()
		out = append(out, cur)
		b.Reset()
		return nil
	}
	for p.pos < len(p.src) && !isSpace(p.src[p.pos]) {
		c := p.src[p.pos]
		switch c {
		case ',':
			if err := flush(); err != nil {
				return nil, err
			}
			p.pos++
			cur = rawValue{pos: p.pos}
		case '"':
			qpos := p.pos
			cur.quoted = true
			p.pos++
			closed := false
			for p.pos < len(p.src) {
				c := p.src[p.pos]
				if c == '\\' && p.pos+1 < len(p.src) {
					b.WriteByte(p.src[p.pos+1])
					p.pos += 2
					continue
				}
				p.pos++
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return nil, p.errAt(qpos, "unterminated quote")
			}
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// value checks and converts one alternative for field f.
func (p *filterParser) value(f field, o op, r rawValue) (value, error) {
	v := value{s: r.s, glob: strings.IndexByte(r.s, '*') >= 0}
	name := fieldNames[f]
	if f == fieldPID && strings.HasSuffix(v.s, "+") {
		if o != opEq && o != opNe {
			return v, p.errAt(r.pos+len(r.s)-1, "subtree %q works only with = and !=", "+")
		}
		v.subtree = true
		v.s = strings.TrimSuffix(v.s, "+")
	} else if strings.HasSuffix(v.s, "+") && f.numeric() {
		return v, p.errAt(r.pos+len(r.s)-1, "subtree %q works only with pid", "+")
	}
	switch f {
	case fieldKind:
		k, err := semconv.ParseKind(v.s)
		if err != nil || k == semconv.KindExecAttempt || k == semconv.KindExisting {
			return v, p.errAt(r.pos, "unknown event kind %q (known: %s)", v.s, kindNames())
		}
		v.num, v.isNum = int64(k), true
	case fieldSignal, fieldErrno:
		if n, err := strconv.ParseInt(v.s, 10, 32); err == nil {
			if n < 0 {
				return v, p.errAt(r.pos, "%s %d is negative", name, n)
			}
			v.num, v.isNum = n, true
			break
		}
		v.named = true
		known := false
		for os := semconv.OSUnknown; os <= semconv.OSFreeBSD; os++ {
			n, ok := lookupNumber(f, os, v.s)
			v.perOS[os] = n
			known = known || ok
		}
		if !known {
			return v, p.errAt(r.pos, "unknown %s %q", name, v.s)
		}
	case fieldJail, fieldCgroup:
		if n, err := strconv.ParseInt(v.s, 10, 64); err == nil && !r.quoted {
			v.num, v.isNum = n, true
		}
	default:
		if f.numeric() {
			n, err := strconv.ParseInt(v.s, 10, 64)
			if err != nil {
				return v, p.errAt(r.pos, "%q is not a number (field %s)", r.s, name)
			}
			v.num, v.isNum = n, true
		}
	}
	return v, nil
}

func kindNames() string {
	var names []string
	for _, k := range semconv.Kinds() {
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}

// lookupNumber resolves a signal or errno name on os; -1 and false when os
// has no such name.
func lookupNumber(f field, os semconv.OS, s string) (int64, bool) {
	lookupOS := os
	if lookupOS == semconv.OSUnknown {
		lookupOS = semconv.OSLinux
	}
	if f == fieldSignal {
		n, err := semconv.ParseSignal(lookupOS, s)
		if err != nil {
			return -1, false
		}
		return int64(n), true
	}
	want := strings.ToUpper(s)
	for n := int32(1); n < 256; n++ {
		if semconv.ErrnoName(lookupOS, n) == want {
			return int64(n), true
		}
	}
	return -1, false
}

// Match reports whether e passes the filter. lineage answers pid=N+
// terms; with nil, such a term matches pid N only. A nil Filter matches
// everything.
func (f *Filter) Match(e *semconv.Event, lineage Lineage) bool {
	if f == nil {
		return true
	}
	for i := range f.terms {
		if !f.terms[i].match(e, lineage) {
			return false
		}
	}
	return true
}

// numbers reads the numeric fields of an event. ok is false where the
// event has no such number (the exit code of a process a signal killed,
// the errno of an exec that did not fail): a term on it does not match,
// whatever its operator.
var numbers = [fieldCount]func(e *semconv.Event) (n int64, ok bool){
	fieldKind: func(e *semconv.Event) (int64, bool) { return int64(e.Kind), true },
	fieldPID:  func(e *semconv.Event) (int64, bool) { return int64(e.Process.PID), true },
	fieldPPID: func(e *semconv.Event) (int64, bool) { return int64(e.Process.PPID), true },
	fieldUID:  func(e *semconv.Event) (int64, bool) { return int64(e.Process.UID), true },
	fieldEUID: func(e *semconv.Event) (int64, bool) { return int64(e.Process.EUID), true },
	fieldGID:  func(e *semconv.Event) (int64, bool) { return int64(e.Process.GID), true },
	fieldCode: func(e *semconv.Event) (int64, bool) {
		return int64(e.Exit.Code), e.Kind == semconv.KindExit && e.Exit.Signal == 0
	},
	fieldSignal: func(e *semconv.Event) (int64, bool) {
		switch e.Kind {
		case semconv.KindExit:
			return int64(e.Exit.Signal), true
		case semconv.KindSignal:
			return int64(e.Signal.Signo), true
		}
		return 0, false
	},
	fieldErrno: func(e *semconv.Event) (int64, bool) {
		return int64(e.Exec.Errno), e.Kind == semconv.KindExecFailed
	},
}

func (t *term) match(e *semconv.Event, lineage Lineage) bool {
	if number := numbers[t.field]; number != nil {
		num, ok := number(e)
		if !ok {
			return false
		}
		return t.matchNum(e, num, lineage)
	}
	pr := &e.Process
	var str string
	switch t.field {
	case fieldComm:
		str = pr.Comm
	case fieldExe:
		str = pr.Exe
	case fieldCgroup:
		str = pr.CgroupPath
	}
	hit := false
	for i := range t.vals {
		v := &t.vals[i]
		var ok bool
		switch t.field {
		case fieldExe:
			ok = matchString(v, str) || matchString(v, str[strings.LastIndexByte(str, '/')+1:])
		case fieldArgv:
			ok = matchArgv(v, pr.Argv)
		case fieldContainer:
			if v.s == "" {
				ok = pr.ContainerID == ""
			} else {
				ok = pr.ContainerID != "" && (strings.HasPrefix(pr.ContainerID, v.s) || matchString(v, pr.ContainerID) ||
					pr.ContainerName != "" && matchString(v, pr.ContainerName))
			}
		case fieldJail:
			if v.isNum {
				ok = int64(pr.JailID) == v.num
			} else {
				ok = matchString(v, pr.JailName)
			}
		case fieldCgroup:
			if v.isNum {
				ok = pr.CgroupID == uint64(v.num)
			} else {
				ok = matchString(v, str)
			}
		default:
			ok = matchString(v, str)
		}
		if ok {
			hit = true
			break
		}
	}
	if t.op == opNe {
		return !hit
	}
	return hit
}

func (t *term) matchNum(e *semconv.Event, num int64, lineage Lineage) bool {
	if t.op >= opLt {
		want, ok := t.vals[0].numberFor(e.OS)
		if !ok {
			return false
		}
		switch t.op {
		case opLt:
			return num < want
		case opLe:
			return num <= want
		case opGt:
			return num > want
		}
		return num >= want
	}
	hit := false
	for i := range t.vals {
		v := &t.vals[i]
		want, ok := v.numberFor(e.OS)
		if !ok {
			continue
		}
		if num == want || v.subtree && lineage != nil && lineage.Descends(&e.Process, int32(want)) {
			hit = true
			break
		}
	}
	if t.op == opNe {
		return !hit
	}
	return hit
}

func (v *value) numberFor(os semconv.OS) (int64, bool) {
	if v.named {
		if int(os) >= len(v.perOS) {
			os = semconv.OSUnknown
		}
		n := v.perOS[os]
		return n, n >= 0
	}
	return v.num, v.isNum
}

func matchString(v *value, s string) bool {
	if v.glob {
		return globMatch(v.s, s)
	}
	return v.s == s
}

// matchArgv matches a command line: without * the value is a substring of
// an argument (or, when it holds a space, of the space-joined command
// line); with * a pattern over the whole space-joined command line.
func matchArgv(v *value, argv []string) bool {
	if v.glob {
		return globMatch(v.s, strings.Join(argv, " "))
	}
	if strings.IndexByte(v.s, ' ') >= 0 {
		return strings.Contains(strings.Join(argv, " "), v.s)
	}
	for _, a := range argv {
		if strings.Contains(a, v.s) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern, in which * matches any run
// of characters (including /) and every other byte matches itself.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pattern) && pattern[px] == s[sx]:
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
