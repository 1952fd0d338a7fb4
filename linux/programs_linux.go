package linux

import "sort"

// ProgramNames lists the names of the backend's BPF programs, as the
// kernel reports them (bpftool, bpf_stats), for tools that measure them.
func ProgramNames() []string {
	spec, err := loadProcotel()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
