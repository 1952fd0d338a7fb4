package pipeline

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestRedactString(t *testing.T) {
	r := DefaultRedactor()
	cases := []struct {
		rule, in, want string
	}{
		// Secret flag and variable assignments.
		{"flag=value", "--password=hunter2", "--password=[REDACTED]"},
		{"flag=value", "-db-passwd=x", "-db-passwd=[REDACTED]"},
		{"flag=value", "--api-key=abc", "--api-key=[REDACTED]"},
		{"flag=value", "--client_secret=abc", "--client_secret=[REDACTED]"},
		{"flag=value", "--auth=u:p", "--auth=[REDACTED]"},
		{"env var", "GITHUB_TOKEN=abc123", "GITHUB_TOKEN=[REDACTED]"},
		{"env var", "AWS_SECRET_ACCESS_KEY=wJalr", "AWS_SECRET_ACCESS_KEY=[REDACTED]"},
		{"env var", "PGPASSWORD=pw", "PGPASSWORD=[REDACTED]"},
		{"flag=value neg", "--password-file=/run/secrets/pw", "--password-file=/run/secrets/pw"},
		{"flag=value neg", "--token-url=https://idp/token", "--token-url=https://idp/token"},
		{"flag=value neg", "--author=Jane", "--author=Jane"},
		{"flag=value neg", "--no-password=1", "--no-password=1"},
		{"flag=value neg", "--output=file", "--output=file"},
		{"flag=value neg", "--password=", "--password="},
		{"flag=value neg", "PATH=/usr/bin", "PATH=/usr/bin"},
		// Headers.
		{"authorization", "Authorization: Bearer abc.def", "Authorization: Bearer [REDACTED]"},
		{"authorization", "authorization:Basic dXNlcjpwYXNz", "authorization:Basic [REDACTED]"},
		{"authorization", "Proxy-Authorization: secret", "Proxy-Authorization: [REDACTED]"},
		{"authorization neg", "Accept: application/json", "Accept: application/json"},
		{"secret header", "X-Api-Key: 12345", "X-Api-Key: [REDACTED]"},
		{"secret header", "Cookie: session=abc", "Cookie: [REDACTED]"},
		{"secret header", "PRIVATE-TOKEN: glxyz", "PRIVATE-TOKEN: [REDACTED]"},
		{"secret header neg", "X-Request-Id: 12345", "X-Request-Id: 12345"},
		{"bearer", "bearer eyabc.def-ghi", "bearer [REDACTED]"},
		{"bearer neg", "bearers are here", "bearers are here"},
		// URLs.
		{"url password", "https://bob:hunter2@example.com/x", "https://bob:[REDACTED]@example.com/x"},
		{"url password", "redis://:pw@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"},
		{"url password", "postgres://app:s3cr%40t@db/app?sslmode=off", "postgres://app:[REDACTED]@db/app?sslmode=off"},
		{"url password neg", "ssh://git@github.com/x.git", "ssh://git@github.com/x.git"},
		{"url password neg", "https://example.com:8443/path", "https://example.com:8443/path"},
		{"url query", "https://api/x?access_token=abc&page=2", "https://api/x?access_token=[REDACTED]&page=2"},
		{"url query", "https://s3/obj?X-Amz-Signature=deadbeef", "https://s3/obj?X-Amz-Signature=[REDACTED]"},
		{"url query neg", "https://api/x?page=2&sort=asc", "https://api/x?page=2&sort=asc"},
		// Token formats.
		{"aws key id", "AKIAIOSFODNN7EXAMPLE", "[REDACTED]"},
		{"aws key id", "--id=ASIAIOSFODNN7EXAMPLE", "--id=[REDACTED]"},
		{"aws key id neg", "AKIAshort", "AKIAshort"},
		{"github", "ghp_" + strings.Repeat("a", 36), "[REDACTED]"},
		{"github", "x=github_pat_" + strings.Repeat("B", 30), "x=[REDACTED]"},
		{"github neg", "ghp_short", "ghp_short"},
		{"gitlab", "glpat-" + strings.Repeat("c", 20), "[REDACTED]"},
		{"gitlab neg", "glpat-short", "glpat-short"},
		{"slack", "xoxb-1234567890-abcdef", "[REDACTED]"},
		{"slack neg", "xoxo-hugs", "xoxo-hugs"},
		{"stripe", "sk_live_" + strings.Repeat("d", 24), "[REDACTED]"},
		{"stripe neg", "sk_live_", "sk_live_"},
		{"google", "AIza" + strings.Repeat("e", 35), "[REDACTED]"},
		{"google neg", "AIzaShort", "AIzaShort"},
		{"jwt", "eyJhbGciOi.eyJzdWIiOi.sig_nature", "[REDACTED]"},
		{"jwt neg", "eyJust-a-word", "eyJust-a-word"},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "[REDACTED]"},
		{"private key neg", "-----BEGIN PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----"},
		{"openssl pass", "pass:hunter2", "pass:[REDACTED]"},
		{"openssl pass neg", "file:/etc/pw", "file:/etc/pw"},
		// A command line inside one argument (sh -c "…").
		{"words", "curl --password=hunter2 http://x/", "curl --password=[REDACTED] http://x/"},
		{"words", "mysql -u root --password hunter2 db", "mysql -u root --password [REDACTED] db"},
		{"words", "env GITHUB_TOKEN=abc make; echo ok", "env GITHUB_TOKEN=[REDACTED] make; echo ok"},
		{"words", "run --token 'x y' --v", "run --token [REDACTED] --v"},
		{"words", `psql --password "a b c"`, `psql --password [REDACTED]`},
		{"words", `psql --password "-a b" -h db`, `psql --password [REDACTED] -h db`},
		{"words", `psql --password '-ab' -h db`, `psql --password [REDACTED] -h db`},
		{"words neg", "ls -l /tmp --color=auto", "ls -l /tmp --color=auto"},
		{"words neg", "echo password is secret", "echo password is secret"},
		// Key-value pairs in one argument: configuration, JSON, headers.
		{"key value", "password=x", "password=[REDACTED]"},
		{"key value", "password: x", "password: [REDACTED]"},
		{"key value", "password:x", "password:[REDACTED]"},
		{"key value", `{"password":"x"}`, `{"password":"[REDACTED]"}`},
		{"key value", `{"user":"bob","password": "a \"b\" c","port":5432}`, `{"user":"bob","password": "[REDACTED]","port":5432}`},
		{"key value", `{'api_key': 'k1', 'n': 2}`, `{'api_key': '[REDACTED]', 'n': 2}`},
		{"key value", "{token: abc, user: bob}", "{token: [REDACTED], user: bob}"},
		{"key value", "aws_secret_access_key = x", "aws_secret_access_key = [REDACTED]"},
		{"key value", "[default]\naws_secret_access_key=wJalr\nregion=eu", "[default]\naws_secret_access_key=[REDACTED]\nregion=eu"},
		{"key value", "db password: correct horse", "db password: [REDACTED]"},
		{"key value neg", "user: bob", "user: bob"},
		{"key value neg", `{"password_file":"/run/pw"}`, `{"password_file":"/run/pw"}`},
		{"key value neg", "password:", "password:"},
		{"key value neg", `{"password":""}`, `{"password":""}`},
		{"key value neg", "see token_url: https://idp/t", "see token_url: https://idp/t"},
		// The password in a URL ends at the last @ before the host.
		{"url password", "https://user:p@ss@host/x", "https://user:[REDACTED]@host/x"},
		{"url password", "https://user:p@ss@host", "https://user:[REDACTED]@host"},
		{"url password", "https://u:pw@host/users/@me", "https://u:[REDACTED]@host/users/@me"},
		// Program flags inside one argument (sh -c "…").
		{"words program", "mysql -u root -phunter2 db", "mysql -u root -p[REDACTED] db"},
		{"words program", "sshpass -p 'pw 2' ssh -p 22 host", "sshpass -p [REDACTED] ssh -p 22 host"},
		{"words program", "docker login -u bob -p pw reg.io", "docker login -u bob -p [REDACTED] reg.io"},
		{"words program", "htpasswd -b /etc/pw bob secret", "htpasswd -b /etc/pw bob [REDACTED]"},
		{"words program", "curl -u bob:pw http://x/", "curl -u bob:[REDACTED] http://x/"},
		{"words program neg", "mkdir -p /a/b && ssh -p 22 host", "mkdir -p /a/b && ssh -p 22 host"},
		// Ordinary arguments.
		{"plain", "/usr/bin/curl", "/usr/bin/curl"},
		{"plain", "-l", "-l"},
		{"plain", "", ""},
	}
	for _, c := range cases {
		if got := r.String(c.in); got != c.want {
			t.Errorf("%s: String(%q) = %q, want %q", c.rule, c.in, got, c.want)
		}
	}
}

func TestRedactArgv(t *testing.T) {
	r := DefaultRedactor()
	cases := []struct {
		in, want []string
	}{
		{[]string{"mysql", "--password", "pw", "-h", "db"}, []string{"mysql", "--password", "[REDACTED]", "-h", "db"}},
		{[]string{"vault", "-token", "s.abc"}, []string{"vault", "-token", "[REDACTED]"}},
		{[]string{"app", "--api-key", "k", "--verbose"}, []string{"app", "--api-key", "[REDACTED]", "--verbose"}},
		{[]string{"curl", "-u", "bob:pw", "https://x"}, []string{"curl", "-u", "bob:[REDACTED]", "https://x"}},
		{[]string{"curl", "--user", "bob", "https://x"}, []string{"curl", "--user", "bob", "https://x"}},
		{[]string{"psql", "--no-password", "-h", "db"}, []string{"psql", "--no-password", "-h", "db"}},
		{[]string{"app", "--token", "--next"}, []string{"app", "--token", "--next"}},
		{[]string{"app", "--password-file", "/run/pw"}, []string{"app", "--password-file", "/run/pw"}},
		{[]string{"env", "TOKEN=x", "ls"}, []string{"env", "TOKEN=[REDACTED]", "ls"}},
		{[]string{"openssl", "enc", "-pass", "pass:pw"}, []string{"openssl", "enc", "-pass", "[REDACTED]"}},
		// Programs whose own short flags are secrets.
		{[]string{"mysql", "-u", "root", "-phunter2", "db"}, []string{"mysql", "-u", "root", "-p[REDACTED]", "db"}},
		{[]string{"/usr/bin/mysqldump", "-pS3cr3t", "--all-databases"}, []string{"/usr/bin/mysqldump", "-p[REDACTED]", "--all-databases"}},
		{[]string{"sudo", "mariadb", "-ppw"}, []string{"sudo", "mariadb", "-p[REDACTED]"}},
		{[]string{"mysql", "-p", "db"}, []string{"mysql", "-p", "db"}}, // -p prompts; db is the database
		{[]string{"sshpass", "-p", "pw", "ssh", "-p", "22", "host"}, []string{"sshpass", "-p", "[REDACTED]", "ssh", "-p", "22", "host"}},
		{[]string{"sshpass", "-p", "-dash-pw", "ssh", "host"}, []string{"sshpass", "-p", "[REDACTED]", "ssh", "host"}},
		{[]string{"sshpass", "-ppw", "scp", "-p", "a", "b:"}, []string{"sshpass", "-p[REDACTED]", "scp", "-p", "a", "b:"}},
		{[]string{"docker", "login", "-u", "bob", "-p", "pw", "reg.io"}, []string{"docker", "login", "-u", "bob", "-p", "[REDACTED]", "reg.io"}},
		{[]string{"podman", "login", "-ppw", "reg.io"}, []string{"podman", "login", "-p[REDACTED]", "reg.io"}},
		{[]string{"nerdctl", "--namespace", "k8s.io", "login", "-p", "pw"}, []string{"nerdctl", "--namespace", "k8s.io", "login", "-p", "[REDACTED]"}},
		{[]string{"redis-cli", "-h", "cache", "-a", "pw", "ping"}, []string{"redis-cli", "-h", "cache", "-a", "[REDACTED]", "ping"}},
		{[]string{"htpasswd", "-b", "/etc/nginx/pw", "bob", "pw"}, []string{"htpasswd", "-b", "/etc/nginx/pw", "bob", "[REDACTED]"}},
		{[]string{"htpasswd", "-bnB", "-C", "10", "bob", "pw"}, []string{"htpasswd", "-bnB", "-C", "10", "bob", "[REDACTED]"}},
		// Found by FuzzRedactArgv: a one-character password, and an
		// attached password spelling a secret flag name (-ppw, -pass).
		{[]string{"htpasswd", "-b", "/etc/pw", "bob", "0"}, []string{"htpasswd", "-b", "/etc/pw", "bob", "[REDACTED]"}},
		{[]string{"mysql", "-pW", "db"}, []string{"mysql", "-p[REDACTED]", "db"}},
		{[]string{"mysql", "-pass", "db"}, []string{"mysql", "-p[REDACTED]", "db"}},
		// The same flags elsewhere are not secrets.
		{[]string{"mkdir", "-p", "/a/b"}, []string{"mkdir", "-p", "/a/b"}},
		{[]string{"ssh", "-p", "22", "host"}, []string{"ssh", "-p", "22", "host"}},
		{[]string{"cp", "-p", "a", "b"}, []string{"cp", "-p", "a", "b"}},
		{[]string{"docker", "run", "-p", "8080:80", "nginx"}, []string{"docker", "run", "-p", "8080:80", "nginx"}},
		{[]string{"docker", "run", "-p8080:80", "nginx"}, []string{"docker", "run", "-p8080:80", "nginx"}},
		{[]string{"grep", "-a", "x", "f"}, []string{"grep", "-a", "x", "f"}},
		{[]string{"htpasswd", "-c", "/etc/pw", "bob"}, []string{"htpasswd", "-c", "/etc/pw", "bob"}},
		{[]string{"env", "mysql", "-h", "db"}, []string{"env", "mysql", "-h", "db"}},
	}
	for _, c := range cases {
		orig := append([]string(nil), c.in...)
		got := r.Argv(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Argv(%q) = %q, want %q", c.in, got, c.want)
		}
		if !reflect.DeepEqual(c.in, orig) {
			t.Errorf("Argv modified its input: %q", c.in)
		}
	}
	clean := []string{"ls", "-l", "/tmp"}
	if got := r.Argv(clean); &got[0] != &clean[0] {
		t.Errorf("Argv copied an argv with nothing to redact")
	}
	if allocs := testing.AllocsPerRun(100, func() { r.Argv(clean) }); allocs != 0 {
		t.Errorf("Argv on a clean argv allocates %v times", allocs)
	}
}

func TestRedactorOptions(t *testing.T) {
	off := &Redactor{Disabled: true}
	in := []string{"x", "--password=pw"}
	if got := off.Argv(in); !reflect.DeepEqual(got, in) {
		t.Errorf("disabled redactor changed %q to %q", in, got)
	}
	var nilR *Redactor
	if got := nilR.String("--password=pw"); got != "--password=pw" {
		t.Errorf("nil redactor changed its input")
	}

	r, err := NewRedactor(`ticket-(\d+)`, `internal-[a-z]+`)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.String("ticket-42 and internal-abc"); got != "ticket-[REDACTED] and [REDACTED]" {
		t.Errorf("extra patterns: %q", got)
	}
	if got := r.String("--password=pw"); got != "--password=[REDACTED]" {
		t.Errorf("defaults lost with extra patterns: %q", got)
	}
	if got := DefaultRedactor().String("ticket-42"); got != "ticket-42" {
		t.Errorf("extra pattern leaked into the defaults: %q", got)
	}
	if _, err := NewRedactor(`(`); err == nil || !strings.Contains(err.Error(), "compile redaction pattern 1") {
		t.Errorf("bad pattern: %v", err)
	}
}

// TestScreenKeepsEveryMatch checks that skipping the rules the byte-pair
// screen rules out changes nothing: a redactor with the screen and one
// without (every rule tried on every string) give the same output for a
// secret of each rule, in changed case and among other text, and for
// strings built from the hints' pieces.
func TestScreenKeepsEveryMatch(t *testing.T) {
	samples := []string{
		"Authorization: Bearer abc.def",
		"proxy-authorization: basic dXNlcjpwdw==",
		"X-Api-Key: 0123456789",
		"Cookie: session=abc",
		"bearer eyabc.def-ghi",
		"https://bob:pw@example.com/x",
		"https://example.com/?access_token=abc&x=1",
		"http://h/p?a=1&api_key=zzz#frag",
		"AKIAABCDEFGHIJKLMNOP",
		"ghp_" + strings.Repeat("a1", 18),
		"github_pat_" + strings.Repeat("B", 22),
		"glpat-" + strings.Repeat("x", 20),
		"xoxb-1234567890-abc",
		"sk_live_" + strings.Repeat("Z", 16),
		"AIza" + strings.Repeat("q", 35),
		"eyJhbGciOi.eyJzdWIiOi.sig",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
		"pass:hunter2",
	}
	screened := DefaultRedactor()
	every := &Redactor{rules: defaultRules}
	check := func(s string) {
		t.Helper()
		if got, want := screened.String(s), every.String(s); got != want {
			t.Errorf("String(%q): %q with the screen, %q with every rule", s, got, want)
		}
	}
	for _, s := range samples {
		if every.String(s) == s {
			t.Errorf("sample %q is not redacted: it tests no rule", s)
		}
		for _, v := range []string{s, strings.ToUpper(s), strings.ToLower(s), "x" + s + " y", "a=b " + s + "&c"} {
			check(v)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var pieces []string
	for _, ru := range defaultRules {
		pieces = append(pieces, ru.hints...)
		pieces = append(pieces, ru.needs...)
	}
	pieces = append(pieces, "a", "Z", "0", "_", "-", ".", " ", "x9", "https://", "bob:pw@")
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(6) {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(2) == 0 {
				p = strings.ToUpper(p)
			}
			b.WriteString(p)
			b.WriteString(strings.Repeat("A", rng.IntN(40)))
		}
		check(b.String())
	}
	// The screen does rule rules out.
	_, _, maybe := defaultScreen.lower(nil, "/usr/bin/python3")
	for i, ru := range defaultRules {
		if ru.name == "bearer token" && maybe&(1<<i) != 0 {
			t.Errorf("the screen keeps the bearer token rule for /usr/bin/python3")
		}
	}
}
