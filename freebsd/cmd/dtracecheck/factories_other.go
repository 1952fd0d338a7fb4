//go:build !freebsd

package main

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/freebsd"
)

func factories() []backends.Factory { return nil }

func resolveJails(specs []string) ([]int32, error) { return freebsd.ResolveJails(specs, nil) }
