package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes the workload the reaper of every orphaned
// descendant (PR_SET_CHILD_SUBREAPER).
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// ignoreSIGUSR1 sets SIGUSR1's disposition to ignore and reports whether
// the kernel shows it ignored (SigIgn in /proc/self/status).
func ignoreSIGUSR1() (bool, error) {
	signal.Ignore(syscall.SIGUSR1)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false, fmt.Errorf("read signal dispositions: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mask, ok := strings.CutPrefix(sc.Text(), "SigIgn:")
		if !ok {
			continue
		}
		bits, err := strconv.ParseUint(strings.TrimSpace(mask), 16, 64)
		if err != nil {
			return false, fmt.Errorf("parse SigIgn %q: %w", mask, err)
		}
		return bits&(1<<(uint(syscall.SIGUSR1)-1)) != 0, nil
	}
	return false, fmt.Errorf("no SigIgn line in /proc/self/status: %v", sc.Err())
}

// kernelSigaction is the kernel's struct sigaction on amd64 and arm64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// defaultSIGABRT restores SIGABRT's default disposition (terminate and
// dump core) behind the Go runtime's back: the runtime's own handler would
// print a traceback and exit with status 2 instead.
func defaultSIGABRT() error {
	act := kernelSigaction{} // SIG_DFL
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGABRT),
		uintptr(unsafe.Pointer(&act)), 0, unsafe.Sizeof(act.mask), 0, 0)
	if errno != 0 {
		return fmt.Errorf("reset SIGABRT to default: %w", errno)
	}
	return nil
}

// gettid returns the id of the calling thread.
func gettid() int { return unix.Gettid() }

// coreNote says where the kernel writes core files (core_pattern).
func coreNote() (string, bool) {
	b, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("core_pattern %q", strings.TrimSpace(string(b))), true
}

// awaitExec waits until pid has finished its exec and blocks in a system
// call of the new program (sleep's nanosleep), as /proc/PID/syscall shows:
// fork-and-exec returns once the exec closed the close-on-exec pipe,
// before the kernel finished loading the image, and a fatal signal sent
// then kills the process inside execve, which the kernel reports as a
// failed exec (EFAULT), not the exec the ground truth records. It gives
// up after five seconds, or at once when the file cannot be read.
func awaitExec(pid int32) error {
	path := fmt.Sprintf("/proc/%d/syscall", pid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // no /proc/PID/syscall here: nothing to wait on
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		nr, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue // "running", or -1 outside a system call
		}
		if nr >= 0 && nr != unix.SYS_EXECVE && nr != unix.SYS_EXECVEAT {
			return nil
		}
	}
	return fmt.Errorf("pid %d did not finish its exec within 5s (/proc/%d/syscall)", pid, pid)
}
