// Package agent is procotel's one assembly: it turns a validated
// configuration into the options of each part once (Plan), starts the
// backend, owns the event channel between the backend and the pipeline and
// both goroutines, hands the pipeline's output to the caller's sinks, and
// owns the stop and drain sequence (Agent.Stop). The binary's commands, the
// Collector receiver and the storm harness all start procotel through it;
// none of them translates configuration or wires backend → pipeline → sinks
// itself.
package agent
