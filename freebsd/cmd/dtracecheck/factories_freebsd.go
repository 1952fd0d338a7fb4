//go:build freebsd

package main

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/freebsd"
)

func factories() []backends.Factory { return freebsd.Factories() }

func resolveJails(specs []string) ([]int32, error) {
	return freebsd.ResolveJails(specs, freebsd.JailID)
}
