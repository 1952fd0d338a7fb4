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
}

// rule is one pattern. The secret is the pattern's first capture group,
// or the whole match when it has none. A rule with hints runs only on
// strings that contain one of them (ASCII case-insensitively), which keeps
// the regular expressions off most arguments.
type rule struct {
	name  string
	re    *regexp.Regexp
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
		re:    regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^/\s:@]*:([^@/\s]+)@`),
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
	return &Redactor{rules: defaultRules}
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
	return r, nil
}

// Argv returns argv with secrets replaced. When nothing is replaced it
// returns argv itself (no allocation); otherwise a new slice, so the
// caller's argv is never modified. Besides the patterns applied to each
// element, the element after a secret flag (--password VALUE) is replaced
// whole, and the password in the element after -u/--user (user:password).
func (r *Redactor) Argv(argv []string) []string {
	if r == nil || r.Disabled || len(argv) == 0 {
		return argv
	}
	var out []string
	secretNext, userNext := false, false
	for i, a := range argv {
		b := a
		switch {
		case secretNext && a != "" && a[0] != '-':
			b = Redacted
		case userNext:
			if j := strings.IndexByte(a, ':'); j >= 0 && j < len(a)-1 {
				b = a[:j+1] + Redacted
			}
		default:
			b = r.String(a)
		}
		secretNext = isSecretFlag(a)
		userNext = a == "-u" || a == "--user" || a == "--proxy-user" || a == "-U"
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
	lower, set := lowerASCII(buf[:0], s)
	for i := range r.rules {
		if out := r.rules[i].apply(s, lower, &set); out != s {
			s = out
			lower, set = lowerASCII(buf[:0], s)
		}
	}
	return s
}

// words applies the flag and variable rules to each white-space separated
// word of s: KEY=secret, --flag=secret and "--flag secret".
func (r *Redactor) words(s string) string {
	var b strings.Builder
	changed, redactNext := false, false
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
			j++
		}
		b.WriteString(s[i:j])
		i = j
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' {
			j++
		}
		if i == j {
			break
		}
		w := s[i:j]
		if redactNext && (w[0] == '\'' || w[0] == '"') {
			// A quoted value may hold spaces: it ends at its closing quote.
			if k := strings.IndexByte(s[i+1:], w[0]); k >= 0 {
				j = i + 1 + k + 1
				for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' {
					j++
				}
				w = s[i:j]
			}
		}
		// Shell quotes around a word or its value do not hide it.
		bare := strings.Trim(w, "'\"")
		switch {
		case redactNext:
			b.WriteString(Redacted)
			changed, redactNext = true, false
		case isSecretFlag(bare):
			b.WriteString(w)
			redactNext = true
		default:
			if key, value, ok := strings.Cut(bare, "="); ok && value != "" && isName(key) && secretName(key) {
				b.WriteString(key + "=" + Redacted)
				changed = true
			} else {
				b.WriteString(w)
			}
		}
		i = j
	}
	if !changed {
		return s
	}
	return b.String()
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (b *byteSet) add(c byte)      { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

// lowerASCII appends s to dst with ASCII letters in lower case, and
// returns the set of bytes in it.
func lowerASCII(dst []byte, s string) ([]byte, byteSet) {
	var set byteSet
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		set.add(c)
		dst = append(dst, c)
	}
	return dst, set
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
	locs := ru.re.FindAllStringSubmatchIndex(s, -1)
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
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
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
