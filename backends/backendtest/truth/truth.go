// Package truth holds the ground truth a conformance workload reports: the
// processes it created, what each executed, how each exec failed, how each
// exited and who reaped it, and the signals it sent. The workload program
// (backends/backendtest/workload) prints one Report as JSON on stdout; the
// conformance suite and the storm harness read it back and compare it with
// the events a backend produced. The package is plain data so that the
// workload binary does not link the testing package.
package truth

import "time"

// Report is everything one workload run did, as the workload itself saw it.
type Report struct {
	// Scenario is the subcommand that ran ("exit", "exec-ok", ...).
	Scenario string `json:"scenario"`
	// Root is the pid of the workload process itself. It is a child
	// subreaper, so every descendant is re-parented to it and reaped by it.
	Root int32 `json:"root"`
	// Procs lists every process of the run whose pid the workload knows,
	// the root first.
	Procs []Proc `json:"procs"`
	// Signals lists the signals the workload's processes sent.
	Signals []Signal `json:"signals,omitempty"`
	// OrphanExecFailures are exec failures in children whose pid the
	// workload could not learn: Go's syscall.ForkExec returns only the
	// errno when exec fails in the child, and the child exits by itself.
	// Such a child is known only as a child of Parent.
	OrphanExecFailures []ExecFailure `json:"orphan_exec_failures,omitempty"`
	// UID and GID are the workload's real ids.
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
	// Notes are remarks about the run, such as a core dump that the
	// kernel refused.
	Notes []string `json:"notes,omitempty"`

	// The fields below are filled by the driver that started the
	// workload, not by the workload.

	// Started and Finished bracket the workload's run, wall clock.
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// ParentComm is the kernel task name of the process that started the
	// workload root (the root's name until it executes).
	ParentComm string `json:"parent_comm,omitempty"`
}

// Proc is one process of a workload run.
type Proc struct {
	PID int32 `json:"pid"`
	// PPID is the parent at creation.
	PPID int32 `json:"ppid"`
	// Role says in words what the process was for, for failure messages.
	Role string `json:"role"`
	// Execs are the successful execs of the process, in order.
	Execs []Exec `json:"execs,omitempty"`
	// ExecFailures are the failed execs of the process, in order.
	ExecFailures []ExecFailure `json:"exec_failures,omitempty"`
	// Exit is how the process ended, decoded from the wait status its
	// reaper saw; nil when no one observed it.
	Exit *Exit `json:"exit,omitempty"`
	// Reaper is the pid of the process that waited for it; 0 if unknown.
	Reaper int32 `json:"reaper,omitempty"`
	// FinalPPID is the parent when the process exited, when it differs
	// from PPID because the process was re-parented; 0 when unchanged.
	FinalPPID int32 `json:"final_ppid,omitempty"`
	// SID is the session id the process reported; 0 when not checked.
	SID int32 `json:"sid,omitempty"`
}

// ParentAtExit returns the parent the process had when it exited.
func (p Proc) ParentAtExit() int32 {
	if p.FinalPPID != 0 {
		return p.FinalPPID
	}
	return p.PPID
}

// Exec is one successful exec.
type Exec struct {
	// Filename is the path passed to execve.
	Filename string `json:"filename"`
	// Argv is the argument vector passed to execve.
	Argv []string `json:"argv"`
	// Exe is Filename with every symbolic link resolved.
	Exe string `json:"exe"`
	// OldTID is the thread that called exec when it was not the thread
	// group leader; 0 when the leader called it.
	OldTID int32 `json:"old_tid,omitempty"`
}

// ExecFailure is one exec that failed.
type ExecFailure struct {
	// PID is the process whose exec failed; 0 when unknown (see
	// Report.OrphanExecFailures).
	PID int32 `json:"pid,omitempty"`
	// Parent is the parent of the process whose exec failed.
	Parent   int32    `json:"parent"`
	Filename string   `json:"filename"`
	Argv     []string `json:"argv"`
	// Errno is the error execve returned, as the workload saw it.
	Errno int32 `json:"errno"`
}

// Exit is the end of a process, from its wait status.
type Exit struct {
	// Code is the exit code of a normal exit; 0 when a signal killed it.
	Code int32 `json:"code"`
	// Signal is the terminating signal; 0 for a normal exit.
	Signal int32 `json:"signal,omitempty"`
	// CoreDumped is WCOREDUMP of the wait status.
	CoreDumped bool `json:"core_dumped,omitempty"`
}

// Signal is one signal a workload process sent.
type Signal struct {
	Sender int32 `json:"sender"`
	Target int32 `json:"target"`
	Signo  int32 `json:"signo"`
	// Ignored is true when the target had the signal's disposition set to
	// ignore when it was sent.
	Ignored bool `json:"ignored,omitempty"`
}

// Proc returns the process with the given pid and whether it is in r.
func (r *Report) Proc(pid int32) (Proc, bool) {
	for _, p := range r.Procs {
		if p.PID == pid {
			return p, true
		}
	}
	return Proc{}, false
}
