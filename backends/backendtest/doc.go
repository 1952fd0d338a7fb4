// Package backendtest is the conformance suite every backend passes. Run
// drives the workload program (backends/backendtest/workload), whose
// scenarios create processes with known ground truth (pids, parents, exec
// paths and argv, exec errnos, exit codes, signals, core dumps, thread
// execs, re-parenting), collects the raw events the backend produced
// meanwhile, and checks them with Check against the report the workload
// printed (package truth). The checking is pure: Check and CheckStats take
// events, capabilities and ground truth, so they are tested with
// hand-built events and reused by the storm harness through BuildWorkload
// and RunWorkload.
package backendtest
