//go:build freebsd

package freebsd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// Factories returns the FreeBSD backends in the order "auto" tries them:
// dtrace, then kqueue.
func Factories() []backends.Factory {
	return []backends.Factory{
		{Name: "dtrace", Auto: true, New: func(_ string, o backends.Options) (backends.Backend, error) {
			return NewDTrace(o)
		}},
		{Name: "kqueue", Auto: true, New: func(_ string, o backends.Options) (backends.Backend, error) {
			return NewKqueue(o), nil
		}},
	}
}

func defaultHost() host {
	return host{
		open:     openShim,
		existing: existingProcesses,
		boot:     bootInfo,
		jailName: JailName,
	}
}

// bootTime reads kern.boottime.
func bootTime() (time.Time, error) {
	b, err := unix.SysctlRaw("kern.boottime")
	if err != nil {
		return time.Time{}, fmt.Errorf("read kern.boottime: %w", err)
	}
	if len(b) < 16 {
		return time.Time{}, fmt.Errorf("read kern.boottime: %d bytes", len(b))
	}
	sec := int64(binary.LittleEndian.Uint64(b))
	usec := int64(binary.LittleEndian.Uint64(b[8:]))
	return time.Unix(sec, usec*1000), nil
}

// bootInfo names this boot (host uuid and boot time) and its clock.
func bootInfo() (semconv.BootID, semconv.Clock, error) {
	boot, err := bootTime()
	if err != nil {
		return "", semconv.Clock{}, err
	}
	uuid, err := unix.Sysctl("kern.hostuuid")
	if err != nil {
		return "", semconv.Clock{}, fmt.Errorf("read kern.hostuuid: %w", err)
	}
	id := semconv.BootID(fmt.Sprintf("%s/%d.%06d", uuid, boot.Unix(), boot.Nanosecond()/1000))
	return id, semconv.Clock{BootWall: boot}, nil
}

// existingProcesses reads every process from kern.proc.all, with argv and
// executable path where the kernel gives them.
func existingProcesses() ([]semconv.Process, error) {
	boot, err := bootTime()
	if err != nil {
		return nil, err
	}
	b, err := unix.SysctlRaw("kern.proc.all")
	if err != nil {
		return nil, fmt.Errorf("read kern.proc.all: %w", err)
	}
	all, err := ParseKinfoProcs(b, boot)
	if err != nil {
		return nil, err
	}
	seen := make(map[int32]bool, len(all))
	out := all[:0]
	for _, p := range all {
		if seen[p.PID] {
			continue
		}
		seen[p.PID] = true
		enrichProcess(&p)
		out = append(out, p)
	}
	return out, nil
}

// processByPID reads one process from kern.proc.pid.
func processByPID(pid int32) (semconv.Process, error) {
	boot, err := bootTime()
	if err != nil {
		return semconv.Process{}, err
	}
	b, err := unix.SysctlRaw("kern.proc.pid", int(pid))
	if err != nil {
		return semconv.Process{}, fmt.Errorf("read kern.proc.pid.%d: %w", pid, err)
	}
	ps, err := ParseKinfoProcs(b, boot)
	if err != nil || len(ps) == 0 {
		return semconv.Process{}, fmt.Errorf("read kern.proc.pid.%d: %v", pid, err)
	}
	p := ps[0]
	enrichProcess(&p)
	return p, nil
}

// enrichProcess adds argv (kern.proc.args) and the executable path
// (kern.proc.pathname); either may be refused for a process of another
// user or one that already exited, which leaves the field empty.
func enrichProcess(p *semconv.Process) {
	if b, err := unix.SysctlRaw("kern.proc.args", int(p.PID)); err == nil {
		p.Argv = ParseProcArgs(b)
	}
	if b, err := unix.SysctlRaw("kern.proc.pathname", int(p.PID)); err == nil {
		if n := len(b); n > 0 && b[n-1] == 0 {
			b = b[:n-1]
		}
		p.Exe = string(b)
	}
}

// errNoJail is returned when jail_get finds no jail.
var errNoJail = errors.New("no such jail")

func jailGet(iov []unix.Iovec) (int32, error) {
	r, _, errno := unix.Syscall(unix.SYS_JAIL_GET, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), 0)
	if errno != 0 {
		if errno == unix.ENOENT {
			return 0, errNoJail
		}
		return 0, errno
	}
	return int32(r), nil
}

func iovBytes(b []byte) unix.Iovec {
	v := unix.Iovec{Base: &b[0]}
	v.SetLen(len(b))
	return v
}

// JailName returns the name of jail jid through jail_get(2).
func JailName(jid int32) (string, error) {
	id := jid
	name := make([]byte, 256) // MAXHOSTNAMELEN
	idv := unix.Iovec{Base: (*byte)(unsafe.Pointer(&id))}
	idv.SetLen(4)
	iov := []unix.Iovec{iovBytes([]byte("jid\x00")), idv, iovBytes([]byte("name\x00")), iovBytes(name)}
	if _, err := jailGet(iov); err != nil {
		return "", fmt.Errorf("jail_get jid %d: %w", jid, err)
	}
	s, _ := cString(name)
	return s, nil
}

// JailID returns the id of the jail named name through jail_get(2).
func JailID(name string) (int32, error) {
	iov := []unix.Iovec{iovBytes([]byte("name\x00")), iovBytes([]byte(name + "\x00"))}
	id, err := jailGet(iov)
	if err != nil {
		return 0, fmt.Errorf("jail_get name %q: %w", name, err)
	}
	return id, nil
}
