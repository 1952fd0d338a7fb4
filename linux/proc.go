package linux

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

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
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		switch key {
		case "Uid":
			if len(f) >= 2 {
				p.UID, p.EUID = parseU32(f[0]), parseU32(f[1])
			}
		case "Gid":
			if len(f) >= 2 {
				p.GID, p.EGID = parseU32(f[0]), parseU32(f[1])
			}
		case "NSpid":
			if len(f) >= 1 {
				p.NSPID = int32(parseU32(f[len(f)-1]))
			}
		}
	}
}

func parseU32(s string) uint32 {
	v, _ := strconv.ParseUint(s, 10, 32)
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
// (exe, cwd of other users' processes without privilege) stay empty.
func readProcesses(procRoot string) ([]semconv.Process, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("read processes: %w", err)
	}
	procs := make([]semconv.Process, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || pid <= 0 {
			continue
		}
		p, err := readProcess(filepath.Join(procRoot, e.Name()), int32(pid))
		if err != nil {
			continue // gone, or not readable: it is not alive to us
		}
		procs = append(procs, p)
	}
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

// readProcess reads one process from its /proc directory.
func readProcess(dir string, pid int32) (semconv.Process, error) {
	p := semconv.Process{PID: pid, TID: pid}
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
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
	if b, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		parseStatus(b, &p)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.Argv = splitCmdline(b)
	}
	p.Exe, _ = os.Readlink(filepath.Join(dir, "exe"))
	p.Cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		p.CgroupPath = parseCgroup(b)
	}
	return p, nil
}
