// Package freebsd owns procotel's FreeBSD backends: the D program generator
// and the schema of the records it traces, the decoder that turns those
// records into semconv events, the jail resolver, kern.proc seeding, and the
// backends themselves — "dtrace" (libdtrace through the cgo shim in
// freebsd/shim) and "kqueue" (a pure-Go EVFILT_PROC fallback).
//
// Everything that can be pure Go is, and is tested on Linux: the generator,
// the decoder, the kinfo_proc decoder and the jail cache. The shim is
// exercised on Linux against a fake libdtrace (build tag dtracefake).
package freebsd
