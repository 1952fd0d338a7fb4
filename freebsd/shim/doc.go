// Package shim is procotel's cgo consumer over libdtrace. It compiles one
// D clause at a time, runs the dtrace_sleep/dtrace_work loop, and hands
// every probe firing to Go as a length-prefixed frame of raw records (the
// format is documented in the freebsd package, which decodes it). It counts
// nothing and interprets nothing: drops and probe errors are passed to the
// Sink as libdtrace reports them.
//
// The ABI it relies on is declared in dtabi.h with static assertions on
// every field read. On FreeBSD it links against the system's libdtrace;
// with the dtracefake build tag on Linux it links against fake_dtrace.c, a
// replayer of recorded record streams for tests.
package shim
