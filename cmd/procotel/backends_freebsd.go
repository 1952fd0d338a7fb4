//go:build freebsd

package main

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/freebsd"
)

func platformBackends() []backends.Factory { return freebsd.Factories() }

// resolveJails turns jail ids, names and "host" into ids.
func resolveJails(specs []string) ([]int32, error) {
	return freebsd.ResolveJails(specs, freebsd.JailID)
}
