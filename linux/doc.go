// Package linux is procotel's Linux backend. It loads the eBPF programs in
// bpf/ (compiled by bpf2go into the committed procotel_bpf*.o), attaches
// them to the scheduler, syscall and signal tracepoints, and turns the
// records of its one ring buffer into semconv.Event values. It also seeds
// the processes alive at start from /proc and resolves cgroup ids into
// paths and container ids.
//
// The decoder, the /proc parsers and the cgroup path parser are pure Go
// and build on every operating system; only the loader needs Linux.
package linux
