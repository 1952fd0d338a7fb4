package shim

// Sink receives what libdtrace reports. Its methods are called on the
// thread that called Work, during the call.
type Sink interface {
	// Frame receives one probe firing. frame is valid only during the
	// call; a sink that keeps it copies it.
	Frame(frame []byte)
	// Drop reports n records lost, of libdtrace's drop kind kind
	// (0 = principal buffer full, ... see DropKindName).
	Drop(kind int, n uint64)
	// Error reports a probe firing that faulted in the kernel (for example
	// a NULL pointer in a traced expression); its records are lost.
	Error(fault int, msg string)
	// Malformed reports a firing whose description the shim refused to
	// copy (too many or out-of-range records).
	Malformed()
}
