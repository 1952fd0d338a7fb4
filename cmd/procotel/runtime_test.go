package main

import (
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: procotel's soft memory limit applies unless
// GOMEMLIMIT sets one, which the runtime has then read and which stays.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(1 << 40)
	setMemoryLimit()
	if got := debug.SetMemoryLimit(-1); got != memoryLimit {
		t.Errorf("without GOMEMLIMIT: limit %d, want %d", got, memoryLimit)
	}

	t.Setenv("GOMEMLIMIT", "200MiB")
	debug.SetMemoryLimit(200 << 20) // what the runtime read at start-up
	setMemoryLimit()
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Errorf("with GOMEMLIMIT=200MiB: limit %d, want %d", got, 200<<20)
	}
}
