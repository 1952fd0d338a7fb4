//go:build !linux

package linux

import (
	"fmt"

	"github.com/procotel/procotel/backends"
)

const (
	backendName = "ebpf"
	autoSelect  = false
)

// New reports that the eBPF backend needs Linux.
func New(source string, opts backends.Options) (backends.Backend, error) {
	return nil, fmt.Errorf("ebpf backend: %w", backends.ErrNotSupported)
}
