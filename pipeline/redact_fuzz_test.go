package pipeline

import (
	"reflect"
	"strings"
	"testing"
)

// secretPositions are command lines with one secret in a known place:
// "S" stands for the secret, and want is the line with it redacted.
var secretPositions = []struct{ in, want []string }{
	{[]string{"mysql", "-u", "root", "-pS", "db"}, []string{"mysql", "-u", "root", "-p" + Redacted, "db"}},
	{[]string{"sshpass", "-p", "S", "ssh", "-p", "22", "host"}, []string{"sshpass", "-p", Redacted, "ssh", "-p", "22", "host"}},
	{[]string{"docker", "login", "-u", "bob", "-p", "S", "reg.io"}, []string{"docker", "login", "-u", "bob", "-p", Redacted, "reg.io"}},
	{[]string{"redis-cli", "-h", "cache", "-a", "S", "ping"}, []string{"redis-cli", "-h", "cache", "-a", Redacted, "ping"}},
	{[]string{"htpasswd", "-b", "/etc/pw", "bob", "S"}, []string{"htpasswd", "-b", "/etc/pw", "bob", Redacted}},
	{[]string{"app", "--password", "S", "-v"}, []string{"app", "--password", Redacted, "-v"}},
	{[]string{"app", "--token=S"}, []string{"app", "--token=" + Redacted}},
	{[]string{"env", "GITHUB_TOKEN=S", "make"}, []string{"env", "GITHUB_TOKEN=" + Redacted, "make"}},
	{[]string{"curl", "-u", "bob:S", "https://x/"}, []string{"curl", "-u", "bob:" + Redacted, "https://x/"}},
	{[]string{"curl", "https://bob:S@host/x"}, []string{"curl", "https://bob:" + Redacted + "@host/x"}},
	{[]string{"app", "password: S"}, []string{"app", "password: " + Redacted}},
	{[]string{"app", `{"user":"bob","password":"S"}`}, []string{"app", `{"user":"bob","password":"` + Redacted + `"}`}},
	{[]string{"app", "aws_secret_access_key = S"}, []string{"app", "aws_secret_access_key = " + Redacted}},
	{[]string{"curl", "-H", "Authorization: Bearer S"}, []string{"curl", "-H", "Authorization: Bearer " + Redacted}},
	{[]string{"sh", "-c", "mysql -pS db"}, []string{"sh", "-c", "mysql -p" + Redacted + " db"}},
	{[]string{"sh", "-c", "app --password S && echo ok"}, []string{"sh", "-c", "app --password " + Redacted + " && echo ok"}},
}

// secretOf makes a secret that can stand in every position above out of
// fuzz bytes: printable, without white space, quotes or the characters
// that end a value (, ; & } /), not starting with '-' (a flag), and not
// the marker itself.
func secretOf(b string) string {
	var s strings.Builder
	for i := 0; i < len(b) && s.Len() < 40; i++ {
		c := b[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"'\\,;&}/`", c) >= 0 || (c == '-' && s.Len() == 0) {
			continue
		}
		s.WriteByte(c)
	}
	if s.Len() == 0 || strings.Contains(s.String(), Redacted) {
		return "hunter2"
	}
	return s.String()
}

// benignWord makes a word with nothing secret in it: lower-case letters,
// digits, '.', '/' and '_', no secret name, no program whose flags are
// secrets.
func benignWord(b string) string {
	var s strings.Builder
	for i := 0; i < len(b) && s.Len() < 24; i++ {
		c := b[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '/' || c == '_' {
			s.WriteByte(c)
		}
	}
	w := s.String()
	if w == "" || secretName(w) || programOf(w) != progNone || hasSecretWord(w) {
		return "x"
	}
	return w
}

// hasSecretWord reports whether w holds a word that makes a name secret,
// or a token prefix (gh?_, glpat-, xox…, AIza, eyJ, bearer).
func hasSecretWord(w string) bool {
	for _, s := range append(append(append([]string{}, secretWords...), secretExact...), "auth", "bearer", "key", "cookie", "gh", "xox", "login") {
		if strings.Contains(w, s) {
			return true
		}
	}
	return false
}

// FuzzRedactArgv checks the redactor on arbitrary argv (split at NUL) and
// on command lines with a secret planted in a known place: it never
// panics, redacting twice changes nothing more, a planted secret is
// replaced (and nothing else), and an argv of benign words and flags
// passes unchanged.
func FuzzRedactArgv(f *testing.F) {
	f.Add("mysql\x00-phunter2", "p@ss@w0rd", "ls -l /tmp", uint8(0))
	f.Add(`{"password":"x"}`+"\x00password: x", "s3cr3t", "ssh -p 22 host", uint8(3))
	f.Add("https://user:p@ss@host/x\x00aws_secret_access_key = x", "AKIAIOSFODNN7EXAMPLE", "mkdir -p a/b", uint8(9))
	f.Add("sh\x00-c\x00sshpass -p 'a b' ssh -p 22 h", "eyJhbGciOi.eyJzdWIiOi.sig", "cp -p a b", uint8(14))
	r := DefaultRedactor()
	f.Fuzz(func(t *testing.T, raw, secret, benign string, pos uint8) {
		// Arbitrary input: no panic, idempotent, input untouched.
		argv := strings.Split(raw, "\x00")
		orig := append([]string(nil), argv...)
		once := r.Argv(argv)
		if !reflect.DeepEqual(argv, orig) {
			t.Fatalf("Argv modified its input %q", orig)
		}
		if twice := r.Argv(once); !reflect.DeepEqual(twice, once) {
			t.Fatalf("not idempotent:\n in    %q\n once  %q\n twice %q", argv, once, twice)
		}
		for _, a := range argv {
			if s := r.String(a); r.String(s) != s {
				t.Fatalf("String not idempotent: %q -> %q -> %q", a, s, r.String(s))
			}
		}

		// A planted secret is replaced, and only it.
		sp := secretPositions[int(pos)%len(secretPositions)]
		sec := secretOf(secret)
		in := make([]string, len(sp.in))
		for i, a := range sp.in {
			in[i] = strings.ReplaceAll(a, "S", sec) // no other capital S in the lines
		}
		if got := r.Argv(in); !reflect.DeepEqual(got, sp.want) {
			t.Fatalf("secret %q in %q:\n got  %q\n want %q", sec, in, got, sp.want)
		}

		// Benign words and flags pass unchanged.
		var clean []string
		for i, w := range strings.Fields(benign) {
			w = benignWord(w)
			other := benignWord(strings.ToLower(secret))
			switch i % 7 {
			case 1:
				w = "-" + w[:1] // -p, -a, -u…
			case 2:
				w = "--" + w
			case 3:
				w = "--" + w + "=" + other
			case 4:
				w = w + ": " + other // a key: value pair
			case 5:
				w = "mkdir -" + w[:1] + " " + other + " && ssh -p 22 " + w // a command line in one argument
			case 6:
				w = "https://" + w + ":8443/" + other + "?q=" + w
			}
			clean = append(clean, w)
		}
		if len(clean) > 0 {
			clean[0] = []string{"ssh", "mkdir", "cp", "rsync", "python3", "/usr/bin/ls"}[int(pos)%6]
			if got := r.Argv(clean); !reflect.DeepEqual(got, clean) {
				t.Fatalf("benign argv changed:\n in  %q\n got %q", clean, got)
			}
		}
	})
}
