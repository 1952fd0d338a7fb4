//go:build freebsd

package main

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/freebsd"
)

func platformBackends() []backends.Factory { return freebsd.Factories() }
