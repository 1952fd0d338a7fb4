//go:build (freebsd && cgo) || (linux && cgo && dtracefake)

package shim

/*
#cgo freebsd,!dtracefake LDFLAGS: -ldtrace
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// Consumer is one libdtrace consumer. It is not safe for concurrent use:
// libdtrace must be driven from one OS thread, so the caller locks one
// (runtime.LockOSThread) and makes every call from it.
type Consumer struct {
	c *C.pt_consumer_t
	h cgo.Handle
}

// ErrOpen is wrapped by the error of Open when libdtrace cannot open the
// DTrace device: no dtraceall module loaded, or not root.
var ErrOpen = errors.New("open dtrace")

// Open opens libdtrace and installs the drop and error handlers, which
// report to sink.
func Open(sink Sink) (*Consumer, error) {
	h := cgo.NewHandle(sink)
	var cerr C.int
	c := C.pt_open(C.uintptr_t(h), &cerr)
	if c == nil {
		h.Delete()
		return nil, fmt.Errorf("%w: %s", ErrOpen, C.GoString(C.pt_open_errmsg(cerr)))
	}
	return &Consumer{c: c, h: h}, nil
}

func (c *Consumer) lastError() string { return C.GoString(C.pt_errmsg(c.c)) }

// SetOption sets a libdtrace option ("bufsize", "4m"); an empty value sets
// a boolean option ("temporal").
func (c *Consumer) SetOption(name, value string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cval *C.char
	if value != "" {
		cval = C.CString(value)
		defer C.free(unsafe.Pointer(cval))
	}
	if C.pt_setopt(c.c, cname, cval) != 0 {
		return fmt.Errorf("set dtrace option %s=%q: %s", name, value, c.lastError())
	}
	return nil
}

// Enable compiles one D clause and enables it. It fails when the clause
// does not compile or matched no probe.
func (c *Consumer) Enable(src string) (matches int, err error) {
	csrc := C.CString(src)
	defer C.free(unsafe.Pointer(csrc))
	var m C.uint
	if C.pt_enable(c.c, csrc, &m) != 0 {
		return 0, fmt.Errorf("enable clause: %s", c.lastError())
	}
	if m == 0 {
		return 0, errors.New("enable clause: matched no probe")
	}
	return int(m), nil
}

// Go starts tracing.
func (c *Consumer) Go() error {
	if C.pt_go(c.c) != 0 {
		return fmt.Errorf("start tracing: %s", c.lastError())
	}
	return nil
}

// Work waits for the next switch interval, then hands everything the
// kernel buffered to the sink. done reports that tracing has stopped.
func (c *Consumer) Work() (done bool, err error) {
	switch C.pt_work(c.c) {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("consume dtrace buffers: %s", c.lastError())
}

// Close stops tracing and releases libdtrace. It is idempotent.
func (c *Consumer) Close() {
	if c.c == nil {
		return
	}
	C.pt_close(c.c)
	c.c = nil
	c.h.Delete()
}

func sinkOf(h C.uintptr_t) Sink { return cgo.Handle(h).Value().(Sink) }

//export procotelShimFrame
func procotelShimFrame(h C.uintptr_t, p *C.uchar, n C.size_t) {
	sinkOf(h).Frame(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

//export procotelShimDrop
func procotelShimDrop(h C.uintptr_t, kind C.int, n C.uint64_t) {
	sinkOf(h).Drop(int(kind), uint64(n))
}

//export procotelShimError
func procotelShimError(h C.uintptr_t, fault C.int, msg *C.char) {
	s := ""
	if msg != nil {
		s = C.GoString(msg)
	}
	sinkOf(h).Error(int(fault), s)
}

//export procotelShimMalformed
func procotelShimMalformed(h C.uintptr_t) { sinkOf(h).Malformed() }
