package pipeline

import (
	"time"

	"github.com/procotel/procotel/semconv"
)

// maxAttempts bounds the exec attempts waiting for their result.
const maxAttempts = 4096

// attempt is a KindExecAttempt waiting for its KindExec or KindExecFailed.
type attempt struct {
	pid       int32
	bootNS    uint64
	filename  string
	argv      []string
	truncated bool
}

// attempts pairs exec attempts with their results by thread id. Backends
// that cannot pair in the kernel (FreeBSD's DTrace exec probe fires before
// the result probes, which lack the path and argv) send the attempt first;
// the result then arrives on the same thread.
type attempts struct {
	byTID     map[int32]attempt
	timeout   uint64 // kernel-clock nanoseconds an attempt may wait
	lastSweep uint64
	unpaired  uint64 // attempts that never met a result
}

func newAttempts(timeout time.Duration) *attempts {
	return &attempts{byTID: make(map[int32]attempt), timeout: uint64(timeout)}
}

// add records an attempt. A previous attempt on the same thread that got
// no result is counted as unpaired.
func (a *attempts) add(e *semconv.Event) {
	tid := e.Process.TID
	if tid == 0 {
		tid = e.Process.PID
	}
	if _, ok := a.byTID[tid]; ok {
		a.unpaired++
	} else if len(a.byTID) >= maxAttempts {
		a.unpaired++
		return
	}
	a.byTID[tid] = attempt{
		pid:       e.Process.PID,
		bootNS:    e.BootNS,
		filename:  e.Exec.Filename,
		argv:      e.Exec.Argv,
		truncated: e.Exec.ArgvTruncated,
	}
}

// merge fills the path and argv of an exec result from its attempt, if
// one is waiting, and reports whether it found one.
func (a *attempts) merge(e *semconv.Event) bool {
	if len(a.byTID) == 0 {
		return false
	}
	tids := [2]int32{e.Exec.OldTID, e.Process.TID}
	for _, tid := range tids {
		if tid == 0 {
			continue
		}
		at, ok := a.byTID[tid]
		if !ok || at.pid != e.Process.PID {
			continue
		}
		delete(a.byTID, tid)
		if e.Exec.Filename == "" {
			e.Exec.Filename = at.filename
		}
		if len(e.Exec.Argv) == 0 {
			e.Exec.Argv = at.argv
			e.Exec.ArgvTruncated = at.truncated
		}
		return true
	}
	return false
}

// dropProcess forgets the attempts of a process that exited.
func (a *attempts) dropProcess(pid int32) {
	if len(a.byTID) == 0 {
		return
	}
	for tid, at := range a.byTID {
		if at.pid == pid {
			delete(a.byTID, tid)
			a.unpaired++
		}
	}
}

// expire forgets attempts older than the timeout at kernel time now. It
// sweeps at most a few times per timeout.
func (a *attempts) expire(now uint64) {
	if len(a.byTID) == 0 || now < a.lastSweep+a.timeout/4 {
		return
	}
	a.lastSweep = now
	for tid, at := range a.byTID {
		if now > at.bootNS && now-at.bootNS > a.timeout {
			delete(a.byTID, tid)
			a.unpaired++
		}
	}
}

// flush forgets every waiting attempt, at shutdown.
func (a *attempts) flush() {
	a.unpaired += uint64(len(a.byTID))
	clear(a.byTID)
}
