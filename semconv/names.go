package semconv

import (
	"fmt"
	"strconv"
	"strings"
)

// OS is the operating system an event was observed on. Signal and errno
// numbers differ between them, so names are looked up per OS.
type OS uint8

// Operating systems.
const (
	OSUnknown OS = iota
	OSLinux
	OSFreeBSD
)

// String returns the OTel os.type value: "linux" or "freebsd".
func (o OS) String() string {
	switch o {
	case OSLinux:
		return "linux"
	case OSFreeBSD:
		return "freebsd"
	}
	return "unknown"
}

var linuxSignals = map[int32]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
	7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
	13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
	18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
	23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF",
	28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}

var freebsdSignals = map[int32]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
	7: "SIGEMT", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGBUS", 11: "SIGSEGV", 12: "SIGSYS",
	13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGURG", 17: "SIGSTOP",
	18: "SIGTSTP", 19: "SIGCONT", 20: "SIGCHLD", 21: "SIGTTIN", 22: "SIGTTOU",
	23: "SIGIO", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF",
	28: "SIGWINCH", 29: "SIGINFO", 30: "SIGUSR1", 31: "SIGUSR2", 32: "SIGTHR",
	33: "SIGLIBRT",
}

// SignalName returns the name of signal n on os ("SIGTERM"), or "SIG<n>"
// (real-time signals "SIGRTMIN+k" on Linux) when it has none.
func SignalName(os OS, n int32) string {
	tbl := linuxSignals
	if os == OSFreeBSD {
		tbl = freebsdSignals
	}
	if s, ok := tbl[n]; ok {
		return s
	}
	if os != OSFreeBSD && n >= 32 && n <= 64 {
		return "SIGRTMIN+" + strconv.Itoa(int(n-34))
	}
	return "SIG" + strconv.Itoa(int(n))
}

// ParseSignal accepts "TERM", "SIGTERM", "sigterm" or "15" and returns the
// number on os.
func ParseSignal(os OS, s string) (int32, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 128 {
			return 0, fmt.Errorf("signal number %d out of range", n)
		}
		return int32(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	tbl := linuxSignals
	if os == OSFreeBSD {
		tbl = freebsdSignals
	}
	for n, v := range tbl {
		if v == name {
			return n, nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

var linuxErrnos = map[int32]string{
	1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG",
	8: "ENOEXEC", 9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
	14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
	23: "ENFILE", 24: "EMFILE", 26: "ETXTBSY", 36: "ENAMETOOLONG", 40: "ELOOP",
	79: "ELIBBAD", 80: "ELIBSCN", 95: "EOPNOTSUPP",
}

var freebsdErrnos = map[int32]string{
	1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG",
	8: "ENOEXEC", 9: "EBADF", 10: "ECHILD", 11: "EDEADLK", 12: "ENOMEM", 13: "EACCES",
	14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
	23: "ENFILE", 24: "EMFILE", 26: "ETXTBSY", 35: "EAGAIN", 62: "ELOOP",
	63: "ENAMETOOLONG", 45: "EOPNOTSUPP",
}

// ErrnoName returns the symbolic name of errno n on os ("ENOENT"), or
// "errno <n>".
func ErrnoName(os OS, n int32) string {
	tbl := linuxErrnos
	if os == OSFreeBSD {
		tbl = freebsdErrnos
	}
	if s, ok := tbl[n]; ok {
		return s
	}
	return "errno " + strconv.Itoa(int(n))
}
