//go:build !linux && !(freebsd && (amd64 || arm64 || riscv64))

package main

import (
	"errors"
	"os/signal"
	"syscall"
)

// errNotPorted is returned by the scenario steps that have no port to this
// operating system yet.
var errNotPorted = errors.New("not yet ported to this operating system")

// becomeSubreaper would make the workload the reaper of orphaned
// descendants.
func becomeSubreaper() error { return errNotPorted }

// ignoreSIGUSR1 sets SIGUSR1's disposition to ignore.
func ignoreSIGUSR1() (bool, error) {
	signal.Ignore(syscall.SIGUSR1)
	return true, nil
}

// defaultSIGABRT would restore SIGABRT's default disposition.
func defaultSIGABRT() error { return errNotPorted }

// gettid would return the id of the calling thread.
func gettid() int { return 0 }

// coreNote would say where the kernel writes core files.
func coreNote() (string, bool) { return "", false }

// awaitExec returns at once: this system has no way here to see that an
// exec finished.
func awaitExec(int32) error { return nil }
