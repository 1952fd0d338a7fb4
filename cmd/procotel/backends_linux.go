//go:build linux

package main

import (
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/linux"
)

func platformBackends() []backends.Factory { return []backends.Factory{linux.Factory} }
