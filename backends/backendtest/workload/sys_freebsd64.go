//go:build freebsd && (amd64 || arm64 || riscv64)

// The 64-bit FreeBSD ports only: procctl's id_t is 64 bits, which the
// 32-bit ABIs pass in a register pair (with padding on arm).

package main

import (
	"fmt"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procctl(2) arguments, from FreeBSD's sys/sys/wait.h (idtype_t) and
// sys/sys/procctl.h; x/sys/unix has the system call number only.
const (
	idtypePID       = 0 // P_PID; with id 0, the calling process
	procReapAcquire = 2 // PROC_REAP_ACQUIRE
)

// becomeSubreaper makes the workload the reaper of every orphaned
// descendant: procctl(P_PID, 0, PROC_REAP_ACQUIRE, NULL).
func becomeSubreaper() error {
	_, _, errno := unix.Syscall6(unix.SYS_PROCCTL, idtypePID, 0, procReapAcquire, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("procctl PROC_REAP_ACQUIRE: %w", errno)
	}
	return nil
}

// kernelSigaction is FreeBSD's struct sigaction (sys/sys/signal.h; the Go
// runtime's sigactiont): handler, flags, then a 128-bit mask.
type kernelSigaction struct {
	handler uintptr
	flags   int32
	mask    [4]uint32
}

const sigIgn = 1 // SIG_IGN

func sigaction(sig syscall.Signal, act, old *kernelSigaction) error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)))
	if errno != 0 {
		return errno
	}
	return nil
}

// ignoreSIGUSR1 sets SIGUSR1's disposition to ignore and reports whether
// the kernel shows it ignored (sigaction with no new action).
func ignoreSIGUSR1() (bool, error) {
	signal.Ignore(syscall.SIGUSR1)
	var old kernelSigaction
	if err := sigaction(syscall.SIGUSR1, nil, &old); err != nil {
		return false, fmt.Errorf("read SIGUSR1 disposition: %w", err)
	}
	return old.handler == sigIgn, nil
}

// defaultSIGABRT restores SIGABRT's default disposition (terminate and
// dump core) behind the Go runtime's back: the runtime's own handler would
// print a traceback and exit with status 2 instead.
func defaultSIGABRT() error {
	act := kernelSigaction{} // SIG_DFL
	if err := sigaction(syscall.SIGABRT, &act, nil); err != nil {
		return fmt.Errorf("reset SIGABRT to default: %w", err)
	}
	return nil
}

// gettid returns the id of the calling thread (thr_self(2)).
func gettid() int {
	var id int64
	_, _, errno := unix.RawSyscall(unix.SYS_THR_SELF, uintptr(unsafe.Pointer(&id)), 0, 0)
	if errno != 0 {
		return 0
	}
	return int(id)
}

// coreNote says where the kernel writes core files (kern.corefile).
func coreNote() (string, bool) {
	pattern, err := unix.Sysctl("kern.corefile")
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("kern.corefile %q", pattern), true
}

// awaitExec returns at once: FreeBSD's execve closes close-on-exec
// descriptors only once the new image is in place (do_execve calls
// fdcloseexec after the image activator and the new stack are done), and
// a signal sent after that is delivered to the new program, so the exec
// the ground truth records happens.
func awaitExec(int32) error { return nil }
