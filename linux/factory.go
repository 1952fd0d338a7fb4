package linux

import "github.com/procotel/procotel/backends"

// Factory makes the eBPF backend under the name "ebpf". On Linux "auto"
// may pick it; elsewhere its New reports backends.ErrNotSupported.
var Factory = backends.Factory{Name: backendName, Auto: autoSelect, New: New}
