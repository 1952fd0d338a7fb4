//go:build !linux && !freebsd

package main

import (
	"errors"

	"github.com/procotel/procotel/backends"
)

// platformBackends is empty here: procotel only watches processes on Linux
// and FreeBSD. The replay backend still works.
func platformBackends() []backends.Factory { return nil }

func resolveJails([]string) ([]int32, error) { return nil, errors.New("jails exist only on FreeBSD") }
