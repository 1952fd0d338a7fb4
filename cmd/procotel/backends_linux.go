//go:build linux

package main

import (
	"errors"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/linux"
)

func platformBackends() []backends.Factory { return []backends.Factory{linux.Factory} }

func resolveJails([]string) ([]int32, error) {
	return nil, errors.New("jails exist only on FreeBSD; on Linux filter containers with --filter container=…")
}
