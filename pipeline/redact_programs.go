package pipeline

import "strings"

// program names a command whose own short flags carry a secret, where
// the same flag means something else to every other program (-p is
// mkdir's parents, ssh's port and cp's preserve). These rules apply only
// after an argument whose base name is the program (so also under sudo,
// env or xargs).
type program uint8

const (
	progNone     program = iota
	progMySQL            // mysql, mysqldump, mariadb…: -pSECRET (a bare -p prompts; the next argument is the database)
	progSSHPass          // sshpass -p SECRET, -pSECRET, until the command it runs
	progLogin            // docker, podman, nerdctl: after "login", -p SECRET and -pSECRET
	progRedisCLI         // redis-cli -a SECRET
	progHtpasswd         // htpasswd -b…: the last argument is the password
)

// programOf returns the program an argument names by its base name.
func programOf(a string) program {
	if len(a) < 5 { // the shortest name below
		return progNone
	}
	base := a[strings.LastIndexByte(a, '/')+1:]
	switch base {
	case "mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow", "mysqlcheck", "mysqlpump",
		"mariadb", "mariadb-dump", "mariadb-admin", "mariadb-import", "mariadb-show", "mariadb-check":
		return progMySQL
	case "sshpass":
		return progSSHPass
	case "docker", "podman", "nerdctl":
		return progLogin
	case "redis-cli", "valkey-cli":
		return progRedisCLI
	case "htpasswd":
		return progHtpasswd
	}
	return progNone
}

// argState is what the earlier arguments of a command line say about the
// next one. The zero value starts a command line.
type argState struct {
	secretNext bool // the previous argument is a secret flag (--password)
	userNext   bool // the previous argument is -u/--user (user:password)
	progNext   bool // the previous argument is the program's secret flag
	prog       program
	login      bool // a container tool's "login" was seen
	batch      bool // htpasswd -b was seen: the last argument is the password
}

// redact returns a redacted when the earlier arguments make it (or part
// of it) a secret; ok is false when they say nothing about it. last tells
// whether a is the command line's last argument. It then moves the state
// past a.
func (st *argState) redact(a string, last bool) (b string, ok bool) {
	b, ok = st.secretOf(a, last)
	st.advance(a)
	return b, ok
}

func (st *argState) secretOf(a string, last bool) (string, bool) {
	switch {
	case st.progNext && a != "":
		return Redacted, true
	case st.secretNext && a != "" && a[0] != '-':
		return Redacted, true
	case st.userNext:
		if j := strings.IndexByte(a, ':'); j >= 0 && j < len(a)-1 {
			return a[:j+1] + Redacted, true
		}
		return a, false
	}
	if st.prog == progNone || a == "" {
		return a, false
	}
	if st.attachedPassword(a) {
		return "-p" + Redacted, true
	}
	if st.prog == progHtpasswd {
		if st.batch && last && a[0] != '-' && a != Redacted {
			return Redacted, true
		}
	}
	return a, false
}

// attachedPassword reports whether a is -pSECRET for the program.
func (st *argState) attachedPassword(a string) bool {
	if len(a) <= 2 || a[0] != '-' || a[1] != 'p' {
		return false
	}
	return st.prog == progMySQL || st.prog == progSSHPass || (st.prog == progLogin && st.login)
}

func (st *argState) advance(a string) {
	wasNext := st.progNext || (st.secretNext && a != "" && a[0] != '-')
	st.secretNext = isSecretFlag(a)
	st.userNext = a == "-u" || a == "--user" || a == "--proxy-user" || a == "-U"
	st.progNext = false
	if p := programOf(a); p != progNone {
		*st = argState{prog: p}
		return
	}
	if st.attachedPassword(a) {
		st.secretNext = false // -ppw holds its value, whatever its letters spell
	}
	switch st.prog {
	case progSSHPass:
		switch {
		case a == "-p":
			st.progNext = true
		case !wasNext && a != "" && a[0] != '-':
			st.prog = progNone // the command sshpass runs: its flags are its own
		}
	case progLogin:
		if a == "login" {
			st.login = true
		} else if st.login && a == "-p" {
			st.progNext = true
		}
	case progRedisCLI:
		st.progNext = a == "-a"
	case progHtpasswd:
		if len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.IndexByte(a, 'b') > 0 && isName(a) {
			st.batch = true
		}
	}
}
