package pipeline

import (
	"strings"

	"github.com/procotel/procotel/semconv"
)

// fillSelf fills what dst (an event about a process) lacks from src (the
// table's record of the same process). With image false the executable,
// argv and comm are left alone: a successful exec brings its own.
func fillSelf(dst, src *semconv.Process, image, credsComplete bool) {
	fill(&dst.Start, src.Start)
	fill(&dst.PPID, src.PPID)
	if dst.ParentStart == 0 && dst.PPID == src.PPID {
		dst.ParentStart = src.ParentStart
	}
	fill(&dst.NSPID, src.NSPID)
	if image {
		fillImage(dst, src)
	}
	fillCommon(dst, src, credsComplete)
}

// inherit fills what a new child (dst) lacks from its parent (src): a fork
// copies the parent's image, working directory, credentials, groups,
// terminal, cgroup and jail.
func inherit(dst, src *semconv.Process, credsComplete bool) {
	fillImage(dst, src)
	fillCommon(dst, src, credsComplete)
}

// fill sets *dst to src when *dst is the zero value.
func fill[T comparable](dst *T, src T) {
	var zero T
	if *dst == zero {
		*dst = src
	}
}

// fillImage fills the executable, argv and task name dst lacks from src.
func fillImage(dst, src *semconv.Process) {
	fill(&dst.Exe, src.Exe)
	if len(dst.Argv) == 0 {
		dst.Argv = src.Argv
		dst.ArgvTruncated = src.ArgvTruncated
	}
	fill(&dst.Comm, src.Comm)
}

func fillCommon(dst, src *semconv.Process, credsComplete bool) {
	if !credsComplete {
		fill(&dst.Creds, src.Creds)
	}
	fill(&dst.PGID, src.PGID)
	fill(&dst.SID, src.SID)
	fill(&dst.TTY, src.TTY)
	fill(&dst.LoginUID, src.LoginUID)
	fill(&dst.AuditSessionID, src.AuditSessionID)
	fill(&dst.Cwd, src.Cwd)
	if dst.CgroupID == 0 && dst.CgroupPath == "" {
		dst.CgroupID = src.CgroupID
		dst.CgroupPath = src.CgroupPath
	}
	if dst.ContainerID == "" {
		dst.ContainerID = src.ContainerID
		fill(&dst.ContainerName, src.ContainerName)
		fill(&dst.ContainerRuntime, src.ContainerRuntime)
	}
	if dst.JailID == 0 && dst.JailName == "" {
		dst.JailID = src.JailID
		dst.JailName = src.JailName
	}
}

// commOf is the task name the kernel gives an executable: its base name,
// cut to the kernel's limit.
func commOf(os semconv.OS, exe string) string {
	name := exe[strings.LastIndexByte(exe, '/')+1:]
	limit := 15 // Linux TASK_COMM_LEN - 1
	if os == semconv.OSFreeBSD {
		limit = 19 // MAXCOMLEN
	}
	if len(name) > limit {
		name = name[:limit]
	}
	return name
}

// sameSlice reports whether a and b are the same slice (same array, same
// length), as when a backend puts one argv in both Process and Exec.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}
