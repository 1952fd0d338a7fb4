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

// perOS returns freebsd's table on FreeBSD and linux's on every other OS.
func perOS(os OS, linux, freebsd map[int32]string) map[int32]string {
	if os == OSFreeBSD {
		return freebsd
	}
	return linux
}

// signalNumbers lists each signal once, with its number on Linux and on
// FreeBSD (0 where that OS has no such signal).
var signalNumbers = [...]struct {
	name           string
	linux, freebsd int32
}{
	{"SIGHUP", 1, 1}, {"SIGINT", 2, 2}, {"SIGQUIT", 3, 3}, {"SIGILL", 4, 4}, {"SIGTRAP", 5, 5},
	{"SIGABRT", 6, 6}, {"SIGBUS", 7, 10}, {"SIGFPE", 8, 8}, {"SIGKILL", 9, 9}, {"SIGUSR1", 10, 30},
	{"SIGSEGV", 11, 11}, {"SIGUSR2", 12, 31}, {"SIGPIPE", 13, 13}, {"SIGALRM", 14, 14},
	{"SIGTERM", 15, 15}, {"SIGSTKFLT", 16, 0}, {"SIGCHLD", 17, 20}, {"SIGCONT", 18, 19},
	{"SIGSTOP", 19, 17}, {"SIGTSTP", 20, 18}, {"SIGTTIN", 21, 21}, {"SIGTTOU", 22, 22},
	{"SIGURG", 23, 16}, {"SIGXCPU", 24, 24}, {"SIGXFSZ", 25, 25}, {"SIGVTALRM", 26, 26},
	{"SIGPROF", 27, 27}, {"SIGWINCH", 28, 28}, {"SIGIO", 29, 23}, {"SIGPWR", 30, 0},
	{"SIGSYS", 31, 12}, {"SIGEMT", 0, 7}, {"SIGINFO", 0, 29}, {"SIGTHR", 0, 32}, {"SIGLIBRT", 0, 33},
}

// linuxSignals and freebsdSignals map each OS's signal numbers to names.
var linuxSignals, freebsdSignals = func() (linux, freebsd map[int32]string) {
	linux, freebsd = map[int32]string{}, map[int32]string{}
	for _, s := range signalNumbers {
		if s.linux != 0 {
			linux[s.linux] = s.name
		}
		if s.freebsd != 0 {
			freebsd[s.freebsd] = s.name
		}
	}
	return linux, freebsd
}()

// SignalName returns the name of signal n on os ("SIGTERM"), or "SIG<n>"
// (real-time signals "SIGRTMIN+k" on Linux) when it has none.
func SignalName(os OS, n int32) string {
	if s, ok := perOS(os, linuxSignals, freebsdSignals)[n]; ok {
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
	for n, v := range perOS(os, linuxSignals, freebsdSignals) {
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
	if s, ok := perOS(os, linuxErrnos, freebsdErrnos)[n]; ok {
		return s
	}
	return "errno " + strconv.Itoa(int(n))
}
