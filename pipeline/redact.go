package pipeline

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces a secret in a command line.
const Redacted = "[REDACTED]"

// Redactor scrubs secrets from command lines before they leave the
// pipeline: values of secret-looking flags and variables (--password=x,
// --token x, GITHUB_TOKEN=x), authorization headers and bearer tokens,
// passwords in URLs (scheme://user:password@host) and in URL query
// parameters, AWS access key ids and other well-known token formats. Only
// the secret is replaced, by Redacted; the flag or key stays readable.
//
// Build one with DefaultRedactor or NewRedactor; a zero Redactor applies
// only the flag and variable rules. A Redactor is immutable after
// construction and safe for concurrent use.
type Redactor struct {
	// Disabled turns redaction off: argv passes unchanged.
	Disabled bool
	rules    []rule
	screen   *screen // which rules a string's byte pairs leave possible
}

// rule is one pattern. The secret is the pattern's first capture group,
// or the whole match when it has none. A rule with hints runs only on
// strings that contain one of them (ASCII case-insensitively), which keeps
// the regular expressions off most arguments. A rule with find instead of
// re finds its secrets in code, in the form FindAllStringSubmatchIndex
// returns.
type rule struct {
	name  string
	re    *regexp.Regexp
	find  func(s string) [][]int
	hints []string // lower case; one must occur
	needs []string // lower case; all must occur
}

// defaultRules are the built-in patterns, beyond the flag and variable
// names handled by secretName.
var defaultRules = []rule{
	{
		name:  "authorization header",
		re:    regexp.MustCompile(`(?i)\b(?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|token|digest|negotiate|apikey)\s+)?(\S.*)$`),
		hints: []string{"authorization"},
	},
	{
		name:  "secret header",
		re:    regexp.MustCompile(`(?i)\b(?:x-api-key|api-key|apikey|x-auth-token|x-access-token|private-token|x-vault-token|cookie)\s*:\s*(\S.*)$`),
		hints: []string{"key", "token", "cookie"},
		needs: []string{":"},
	},
	{
		name:  "bearer token",
		re:    regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9\-._~+/]+=*)`),
		hints: []string{"bearer"},
	},
	{
		name:  "url password",
		find:  urlPasswords,
		needs: []string{"://", "@"},
	},
	{
		name:  "url query secret",
		re:    regexp.MustCompile(`(?i)[?&](?:access_token|refresh_token|id_token|auth_token|token|api_key|apikey|key|password|passwd|pwd|secret|client_secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=([^&#\s]+)`),
		hints: []string{"?", "&"},
		needs: []string{"="},
	},
	{
		name:  "aws access key id",
		re:    regexp.MustCompile(`\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})\b`),
		hints: []string{"akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"},
	},
	{
		name:  "github token",
		re:    regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b`),
		hints: []string{"gh", "github_pat_"},
	},
	{
		name:  "gitlab token",
		re:    regexp.MustCompile(`\b(glpat-[A-Za-z0-9_\-]{20,})`),
		hints: []string{"glpat-"},
	},
	{
		name:  "slack token",
		re:    regexp.MustCompile(`\b(xox[abposr]-[A-Za-z0-9\-]{10,})`),
		hints: []string{"xox"},
	},
	{
		name:  "stripe key",
		re:    regexp.MustCompile(`\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,})`),
		hints: []string{"_live_", "_test_"},
	},
	{
		name:  "google api key",
		re:    regexp.MustCompile(`\b(AIza[0-9A-Za-z_\-]{35})`),
		hints: []string{"aiza"},
	},
	{
		name:  "jwt",
		re:    regexp.MustCompile(`\b(eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*)`),
		hints: []string{"eyj"},
	},
	{
		name:  "private key",
		re:    regexp.MustCompile(`-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)`),
		hints: []string{"private key"},
	},
	{
		name:  "openssl pass argument",
		re:    regexp.MustCompile(`^pass:(.+)$`),
		hints: []string{"pass:"},
	},
}

// DefaultRedactor returns a redactor with the built-in patterns.
func DefaultRedactor() *Redactor {
	return &Redactor{rules: defaultRules, screen: defaultScreen}
}

// NewRedactor returns a redactor with the built-in patterns and extra
// ones. In an extra pattern the secret is the first capture group, or the
// whole match when it has none.
func NewRedactor(extra ...string) (*Redactor, error) {
	r := &Redactor{rules: slices.Clone(defaultRules)}
	for i, pat := range extra {
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, fmt.Errorf("compile redaction pattern %d: %w", i+1, err)
		}
		r.rules = append(r.rules, rule{name: fmt.Sprintf("extra %d", i+1), re: re})
	}
	r.screen = newScreen(r.rules)
	return r, nil
}

// Argv returns argv with secrets replaced. When nothing is replaced it
// returns argv itself (no allocation); otherwise a new slice, so the
// caller's argv is never modified. Besides the patterns applied to each
// element, the element after a secret flag (--password VALUE) is replaced
// whole, and the password in the element after -u/--user (user:password).
// A few programs' own flags are secrets too, after an element naming the
// program: mysql and mariadb -pSECRET, sshpass -p, docker, podman and
// nerdctl login -p, redis-cli -a, and the last argument of htpasswd -b.
func (r *Redactor) Argv(argv []string) []string {
	if r == nil || r.Disabled || len(argv) == 0 {
		return argv
	}
	var out []string
	var st argState
	for i, a := range argv {
		b, ok := st.redact(a, i == len(argv)-1)
		if !ok {
			b = r.String(a)
		}
		if b != a {
			if out == nil {
				out = slices.Clone(argv)
			}
			out[i] = b
		}
	}
	if out == nil {
		return argv
	}
	return out
}

// String returns s with secrets replaced, treating s as one argument.
func (r *Redactor) String(s string) string {
	if r == nil || r.Disabled || s == "" {
		return s
	}
	if key, value, ok := strings.Cut(s, "="); ok && value != "" && isName(key) && secretName(key) {
		return key + "=" + Redacted
	}
	if strings.ContainsAny(s, " \t\n") {
		// A command line in one argument (sh -c "…", ssh host "…"): its
		// words get the flag and variable rules an argv gets.
		s = r.words(s)
	}
	var buf [256]byte
	lower, set, maybe := r.screen.lower(buf[:0], s)
	if set.has(':') || set.has('=') {
		if out := keyValues(s); out != s {
			s = out
			lower, set, maybe = r.screen.lower(buf[:0], s)
		}
	}
	for i := range r.rules {
		if i < 64 && maybe&(1<<i) == 0 {
			continue
		}
		if out := r.rules[i].apply(s, lower, &set); out != s {
			s = out
			lower, set, maybe = r.screen.lower(buf[:0], s)
		}
	}
	return s
}

// words applies the flag and variable rules to each white-space separated
// word of s: KEY=secret, --flag=secret and "--flag secret".
func (r *Redactor) words(s string) string {
	var b strings.Builder
	changed := false
	var st argState
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		b.WriteString(s[i:j])
		i = j
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		if i == j {
			break
		}
		w := s[i:j]
		if (st.secretNext || st.progNext) && (w[0] == '\'' || w[0] == '"') {
			// A quoted value may hold spaces: it ends at its closing quote.
			if k := strings.IndexByte(s[i+1:], w[0]); k >= 0 {
				j = i + 1 + k + 1
				for j < len(s) && !isSpace(s[j]) {
					j++
				}
				w = s[i:j]
			}
		}
		// Shell quotes around a word or its value do not hide it.
		bare := strings.Trim(w, "'\"")
		last := strings.TrimLeft(s[j:], " \t\n") == ""
		if st.secretNext && bare != w {
			// A quoted value is a value even when it starts with '-'.
			st.advance(bare)
			b.WriteString(Redacted)
			changed = true
		} else if out, ok := st.redact(bare, last); ok {
			if out != bare {
				b.WriteString(out)
				changed = true
			} else {
				b.WriteString(w)
			}
		} else if key, value, ok := strings.Cut(bare, "="); ok && value != "" && isName(key) && secretName(key) {
			b.WriteString(key + "=" + Redacted)
			changed = true
		} else {
			b.WriteString(w)
		}
		i = j
	}
	if !changed {
		return s
	}
	return b.String()
}

// keyValues replaces the values of secret keys in "key: value" and
// "key = value" pairs, as configuration, JSON and headers write them:
// password: x, {"password":"x"}, aws_secret_access_key = x. The key may be
// quoted. A quoted value ends at its closing quote; an unquoted one after
// ':' at the end of the line or a ',', ';' or '}', after '=' at white
// space or one of ',', ';', '&', '}'. Authorization headers are left to
// their rule, which keeps the scheme readable.
func keyValues(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is in b, or is to be
	for i := 0; i < len(s); i++ {
		sep := s[i]
		if sep != ':' && sep != '=' {
			continue
		}
		end := i
		for end > last && (s[end-1] == ' ' || s[end-1] == '\t') {
			end--
		}
		var quote byte
		if end > last && (s[end-1] == '"' || s[end-1] == '\'') {
			quote = s[end-1]
			end--
		}
		start := end
		for start > last && isNameByte(s[start-1]) {
			start--
		}
		if start == end || (quote != 0 && (start == last || s[start-1] != quote)) {
			continue
		}
		if key := s[start:end]; isAuthorization(key) || !secretName(key) {
			continue
		}
		v := i + 1
		for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
			v++
		}
		vs, ve := v, v
		if v < len(s) && (s[v] == '"' || s[v] == '\'') {
			q := s[v]
			vs, ve = v+1, v+1
			for ve < len(s) && s[ve] != q {
				if s[ve] == '\\' && q == '"' && ve+1 < len(s) {
					ve++
				}
				ve++
			}
		} else {
			for ve < len(s) && !endsValue(sep, s[ve]) {
				ve++
			}
		}
		if vs == ve || s[vs:ve] == Redacted {
			continue
		}
		b.WriteString(s[last:vs])
		b.WriteString(Redacted)
		last = ve
		i = ve - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// endsValue reports whether c ends an unquoted value after sep.
func endsValue(sep, c byte) bool {
	switch c {
	case ',', ';', '}', '\n':
		return true
	case ' ', '\t', '&':
		return sep == '='
	}
	return false
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// isAuthorization reports whether key is an Authorization or
// Proxy-Authorization header name.
func isAuthorization(key string) bool {
	key = strings.TrimLeft(key, "-")
	return strings.EqualFold(key, "authorization") || strings.EqualFold(key, "proxy-authorization")
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (b *byteSet) add(c byte)      { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

// screen tells, from the pairs of adjacent bytes in a string, which rules
// could match it, so that a clean argument is not searched for each
// rule's hints in turn. A rule with hints runs only on strings that
// contain one of them, and a string contains a hint only if it contains
// the hint's first two bytes side by side: pairs[i] has bit r set for
// each rule r with a hint whose first two bytes have index i (pairIndex).
// The index keeps 6 bits of each byte, so unrelated pairs share entries;
// that lets a rule run that need not, never skips one that could match.
// Rules without hints, with a one-byte hint, or past the 64th are always
// run.
type screen struct {
	pairs  [1 << 12]uint64
	always uint64
}

func pairIndex(a, b byte) int { return int(a&63)<<6 | int(b&63) }

func newScreen(rules []rule) *screen {
	sc := &screen{}
	for i := range rules {
		if i >= 64 {
			break
		}
		bit := uint64(1) << i
		if len(rules[i].hints) == 0 {
			sc.always |= bit
		}
		for _, h := range rules[i].hints {
			if len(h) < 2 {
				sc.always |= bit
				continue
			}
			sc.pairs[pairIndex(h[0], h[1])] |= bit
		}
	}
	return sc
}

// defaultScreen is the screen of defaultRules.
var defaultScreen = newScreen(defaultRules)

// lower appends s to dst with ASCII letters in lower case, and returns the
// set of bytes in it and the rules that could match it (bit i: rule i).
// A nil screen reports every rule.
func (sc *screen) lower(dst []byte, s string) ([]byte, byteSet, uint64) {
	var set byteSet
	maybe := ^uint64(0)
	if sc != nil {
		maybe = sc.always
	}
	var prev byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		set.add(c)
		dst = append(dst, c)
		if sc != nil && i > 0 {
			maybe |= sc.pairs[pairIndex(prev, c)]
		}
		prev = c
	}
	return dst, set, maybe
}

// contains reports whether lower (whose bytes are in set) contains the
// lower-case string sub; the set rejects most strings without a search.
func contains(lower []byte, set *byteSet, sub string) bool {
	for i := 0; i < len(sub); i++ {
		if !set.has(sub[i]) {
			return false
		}
	}
	return bytes.Contains(lower, []byte(sub))
}

// apply runs the rule on s; lower is s in lower case and set its bytes,
// to test the hints and needs before running the expression.
func (ru *rule) apply(s string, lower []byte, set *byteSet) string {
	for _, n := range ru.needs {
		if !contains(lower, set, n) {
			return s
		}
	}
	if len(ru.hints) > 0 {
		found := false
		for _, h := range ru.hints {
			if contains(lower, set, h) {
				found = true
				break
			}
		}
		if !found {
			return s
		}
	}
	var locs [][]int
	if ru.find != nil {
		locs = ru.find(s)
	} else {
		locs = ru.re.FindAllStringSubmatchIndex(s, -1)
	}
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range locs {
		start, end := m[0], m[1]
		if len(m) >= 4 && m[2] >= 0 {
			start, end = m[2], m[3]
		}
		if start < last || start == end {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// urlPasswords finds the passwords in URLs (scheme://user:password@host).
// The user information ends at the last @ before the path, so a password
// may hold an @ (user:p@ss@host); the user name holds no ':'.
func urlPasswords(s string) [][]int {
	var locs [][]int
	for i := 0; i+3 <= len(s); {
		k := strings.Index(s[i:], "://")
		if k < 0 {
			break
		}
		sep := i + k
		i = sep + 3
		if !isScheme(s, sep) {
			continue
		}
		auth := i
		for auth < len(s) && s[auth] != '/' && !isSpace(s[auth]) {
			auth++
		}
		at := strings.LastIndexByte(s[i:auth], '@')
		if at < 0 {
			continue
		}
		at += i
		colon := strings.IndexByte(s[i:at], ':')
		if colon < 0 || i+colon+1 == at {
			continue
		}
		locs = append(locs, []int{i, at, i + colon + 1, at})
		i = auth
	}
	return locs
}

// isScheme reports whether the text before s[sep:] ("://") ends in a URL
// scheme: a letter, then letters, digits, '+', '-', '.'.
func isScheme(s string, sep int) bool {
	j := sep
	for j > 0 && isSchemeByte(s[j-1]) {
		j--
	}
	for j < sep && !isLetter(s[j]) { // a scheme starts with a letter
		j++
	}
	return j < sep
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSchemeByte(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// isSecretFlag reports whether a is a flag whose value, in the next
// argument, is a secret: --password, -token, --api-key.
func isSecretFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' || strings.IndexByte(a, '=') >= 0 {
		return false
	}
	return isName(a) && secretName(a)
}

// isName reports whether s looks like a flag or variable name: optional
// dashes, then letters, digits, '_', '-', '.'.
func isName(s string) bool {
	s = strings.TrimLeft(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// Words that make a name secret when they occur in it, and short names
// that are secret only on their own.
var (
	secretWords = []string{
		"password", "passwd", "passphrase", "secret", "token", "apikey",
		"accesskey", "privatekey", "credential", "authorization", "signingkey",
		"encryptionkey", "masterkey", "sessionkey",
	}
	secretExact = []string{"pass", "pwd", "pw", "auth", "passin", "passout"}
	// Names ending so hold where a secret is, not the secret itself.
	secretNotSuffix = []string{"file", "files", "path", "dir", "env", "type", "length", "len", "size", "url", "uri", "endpoint", "name", "id"}
)

// secretName reports whether a flag or variable name (--db-password,
// GITHUB_TOKEN, api.key) names a secret.
func secretName(name string) bool {
	name = strings.TrimLeft(name, "-")
	if strings.HasPrefix(name, "no-") || strings.HasPrefix(name, "no_") {
		return false // --no-password and friends are switches
	}
	var buf [64]byte
	n := 0
	for i := 0; i < len(name) && n < len(buf); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	norm := string(buf[:n])
	for _, s := range secretNotSuffix {
		if strings.HasSuffix(norm, s) && norm != s {
			return false
		}
	}
	if slices.Contains(secretExact, norm) {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(norm, w) {
			return true
		}
	}
	return false
}
