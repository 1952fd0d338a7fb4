package linux

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/semconv"
)

// tickNS is the length of a /proc clock tick: USER_HZ is 100 on every
// Linux architecture, so start times in /proc/PID/stat are in 10 ms units.
const tickNS = 10_000_000

// procStat is what procotel reads from /proc/PID/stat.
type procStat struct {
	comm      string
	ppid      int32
	pgrp      int32
	session   int32
	ttyNr     uint32
	startTick uint64
}

// parseStat parses the contents of /proc/PID/stat. The command name is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var st procStat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return st, errors.New("parse stat: no command name")
	}
	st.comm = string(b[open+1 : end])
	// Fields after the name, numbered as in proc(5): 3 state, 4 ppid,
	// 5 pgrp, 6 session, 7 tty_nr, ..., 22 starttime.
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 {
		return st, fmt.Errorf("parse stat: %d fields after the name, want at least 20", len(f))
	}
	field := func(n int) string { return f[n-3] }
	var err error
	num := func(n int) int32 {
		v, e := strconv.ParseInt(field(n), 10, 32)
		if e != nil && err == nil {
			err = fmt.Errorf("parse stat field %d: %w", n, e)
		}
		return int32(v)
	}
	st.ppid = num(4)
	st.pgrp = num(5)
	st.session = num(6)
	st.ttyNr = uint32(num(7))
	start, e := strconv.ParseUint(field(22), 10, 64)
	if e != nil && err == nil {
		err = fmt.Errorf("parse stat field 22: %w", e)
	}
	st.startTick = start
	return st, err
}

// parseStatus fills credentials and the namespace pid from the contents
// of /proc/PID/status.
func parseStatus(b []byte, p *semconv.Process) {
	// Line by line on the bytes, without splitting the file: Uid, Gid
	// and NSpid are near its top, and it is read for every process at
	// start-up.
	const want = 3
	found := 0
	for len(b) > 0 && found < want {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(key) {
		case "Uid":
			found++
			if f, n := fields2(val); n >= 2 {
				p.UID, p.EUID = parseU32(f[0]), parseU32(f[1])
			}
		case "Gid":
			found++
			if f, n := fields2(val); n >= 2 {
				p.GID, p.EGID = parseU32(f[0]), parseU32(f[1])
			}
		case "NSpid":
			found++
			if last := lastField(val); last != nil {
				p.NSPID = int32(parseU32(last))
			}
		}
	}
}

// fields2 returns the first two whitespace-separated fields of b and how
// many fields it has, up to 2.
func fields2(b []byte) (f [2][]byte, n int) {
	for n < 2 {
		b = bytes.TrimLeft(b, " \t")
		if len(b) == 0 {
			break
		}
		end := bytes.IndexAny(b, " \t")
		if end < 0 {
			end = len(b)
		}
		f[n], b = b[:end], b[end:]
		n++
	}
	return f, n
}

// lastField returns the last whitespace-separated field of b, nil when
// there is none.
func lastField(b []byte) []byte {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return nil
	}
	return b[bytes.LastIndexAny(b, " \t")+1:]
}

func parseU32(b []byte) uint32 {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + uint64(c-'0')
		if v > 1<<32-1 {
			return 0
		}
	}
	return uint32(v)
}

// ttyFromDev names the terminal whose device number /proc/PID/stat gives
// in tty_nr, the way the kernel names it (pts/N, ttyN, ttySN); empty when
// there is none or its driver is not one of those.
func ttyFromDev(dev uint32) string {
	if dev == 0 {
		return ""
	}
	major := (dev >> 8) & 0xfff
	minor := (dev & 0xff) | ((dev >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.FormatUint(uint64((major-136)*256+minor), 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatUint(uint64(minor), 10)
	case major == 4:
		return "ttyS" + strconv.FormatUint(uint64(minor-64), 10)
	case major == 5 && minor == 1:
		return "console"
	}
	return ""
}

// parseCgroup returns the cgroup v2 path from the contents of
// /proc/PID/cgroup (the "0::" line).
func parseCgroup(b []byte) string {
	for _, line := range strings.Split(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path
		}
	}
	return ""
}

// splitCmdline splits /proc/PID/cmdline into arguments.
func splitCmdline(b []byte) []string { return splitArgv(b) }

// readProcesses reads every process under procRoot ("/proc") and returns
// them sorted by start time, parents before children. Processes that exit
// while being read are skipped. Fields /proc does not show to the caller
// (exe, cwd of other users' processes without privilege) stay empty. The
// processes are read by a few goroutines at once: most of the time goes
// to the kernel formatting /proc files, which runs on every core.
func readProcesses(procRoot string) ([]semconv.Process, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("read processes: %w", err)
	}
	pids := make([]int32, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || pid <= 0 {
			continue
		}
		pids = append(pids, int32(pid))
	}
	procs := make([]semconv.Process, len(pids))
	alive := make([]bool, len(pids))
	workers := min(2*runtime.GOMAXPROCS(0), len(pids)/64+1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := procReader{root: procRoot}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(pids) {
					return
				}
				p, err := r.readProcess(pids[i])
				if err != nil {
					continue // gone, or not readable: it is not alive to us
				}
				procs[i], alive[i] = p, true
			}
		}()
	}
	wg.Wait()
	n := 0
	for i := range procs {
		if alive[i] {
			procs[n] = procs[i]
			n++
		}
	}
	procs = procs[:n]
	start := make(map[int32]uint64, len(procs))
	for i := range procs {
		start[procs[i].PID] = procs[i].Start
	}
	for i := range procs {
		procs[i].ParentStart = start[procs[i].PPID]
	}
	sort.Slice(procs, func(i, j int) bool {
		if procs[i].Start != procs[j].Start {
			return procs[i].Start < procs[j].Start
		}
		return procs[i].PID < procs[j].PID
	})
	return procs, nil
}

// procReader reads /proc files into one reused buffer. It is not safe for
// concurrent use; the parsers copy what they keep. A process's files are
// opened relative to its directory, opened once (readProcess): the kernel
// looks up and checks root/PID once per process instead of once per file.
type procReader struct {
	root string
	buf  []byte
	path []byte
}

// file returns the contents of the file name in the process directory
// dir, valid until the next call.
func (r *procReader) file(dir int, name string) ([]byte, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if r.buf == nil {
		r.buf = make([]byte, 4096)
	}
	n := 0
	for {
		if n == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		m, err := unix.Read(fd, r.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return r.buf[:n], nil
		}
		n += m
	}
}

// link returns the target of the link name in the process directory dir,
// "" when it cannot be read.
func (r *procReader) link(dir int, name string) string {
	if r.buf == nil {
		r.buf = make([]byte, 4096)
	}
	for {
		n, err := unix.Readlinkat(dir, name, r.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < 0 {
			return ""
		}
		if n < len(r.buf) {
			return string(r.buf[:n])
		}
		// Possibly cut: try again with room for a longer target.
		r.buf = make([]byte, 2*len(r.buf))
	}
}

// readProcess reads one process from its /proc directory.
func (r *procReader) readProcess(pid int32) (semconv.Process, error) {
	p := semconv.Process{PID: pid, TID: pid}
	b := append(r.path[:0], r.root...)
	r.path = strconv.AppendInt(append(b, '/'), int64(pid), 10)
	dir, err := unix.Open(string(r.path), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return p, err
	}
	defer unix.Close(dir)
	b, err = r.file(dir, "stat")
	if err != nil {
		return p, err
	}
	st, err := parseStat(b)
	if err != nil {
		return p, fmt.Errorf("read process %d: %w", pid, err)
	}
	p.Comm = st.comm
	p.PPID = st.ppid
	p.PGID = st.pgrp
	p.SID = st.session
	p.TTY = ttyFromDev(st.ttyNr)
	p.Start = st.startTick * tickNS
	if b, err := r.file(dir, "status"); err == nil {
		parseStatus(b, &p)
	}
	if b, err := r.file(dir, "cmdline"); err == nil {
		p.Argv = splitCmdline(b)
	}
	p.Exe = r.link(dir, "exe")
	p.Cwd = r.link(dir, "cwd")
	if b, err := r.file(dir, "cgroup"); err == nil {
		p.CgroupPath = parseCgroup(b)
	}
	return p, nil
}
