package linux

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/procotel/procotel/semconv"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses, as a process may choose.
	line := "4242 (my (odd) name) S 1 4242 4000 34816 4242 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 200 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{comm: "my (odd) name", ppid: 1, pgrp: 4242, session: 4000, ttyNr: 34816, startTick: 12345}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "4242 no name", "1 (x) S 1 2", "1 (x) S a 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func TestTTYFromDev(t *testing.T) {
	tests := map[uint32]string{
		0:                                  "",
		136<<8 | 3:                         "pts/3",
		137<<8 | 4:                         "pts/260",
		136<<8 | (300&0xff | (300>>8)<<20): "pts/300",
		4<<8 | 1:                           "tty1",
		4<<8 | 65:                          "ttyS1",
		5<<8 | 1:                           "console",
		200 << 8:                           "",
	}
	for dev, want := range tests {
		if got := ttyFromDev(dev); got != want {
			t.Errorf("ttyFromDev(%#x) = %q, want %q", dev, got, want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tsh\nUid:\t1000\t0\t0\t0\nGid:\t100\t101\t101\t101\nNSpid:\t4242\t7\n"
	var p semconv.Process
	parseStatus([]byte(status), &p)
	if p.Creds != (semconv.Creds{UID: 1000, EUID: 0, GID: 100, EGID: 101}) || p.NSPID != 7 {
		t.Errorf("got %+v", p)
	}

	// This process's own status, as the kernel writes it, against what
	// the system calls say.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var self semconv.Process
	parseStatus(b, &self)
	want := semconv.Creds{UID: uint32(os.Getuid()), EUID: uint32(os.Geteuid()), GID: uint32(os.Getgid()), EGID: uint32(os.Getegid())}
	if self.Creds != want {
		t.Errorf("own status: creds %+v, want %+v", self.Creds, want)
	}
	if self.NSPID != int32(os.Getpid()) && !strings.Contains(string(b), "NSpid:\t"+strconv.Itoa(os.Getpid())+"\t") {
		t.Errorf("own status: NSpid %d, pid %d", self.NSPID, os.Getpid())
	}

	// Fields cut short or not numbers leave zero; the last NSpid level
	// is the process's own namespace's.
	var q semconv.Process
	parseStatus([]byte("Uid:\t5\nGid:  7   8 \nNSpid:\t100\t20\t3 \nUid:\t9\t9\n"), &q)
	if q.Creds != (semconv.Creds{GID: 7, EGID: 8}) || q.NSPID != 3 {
		t.Errorf("short fields: got %+v", q)
	}
	var r semconv.Process
	parseStatus([]byte("Uid:\tx\t4294967296\t0\t0\nNSpid:\n"), &r)
	if r.Creds != (semconv.Creds{}) || r.NSPID != 0 {
		t.Errorf("bad numbers: got %+v", r)
	}
}

func TestParseCgroup(t *testing.T) {
	if got := parseCgroup([]byte("1:name=systemd:/x\n0::/system.slice/sshd.service\n")); got != "/system.slice/sshd.service" {
		t.Errorf("got %q", got)
	}
	if got := parseCgroup([]byte("1:cpu:/x\n")); got != "" {
		t.Errorf("got %q for cgroup v1 only", got)
	}
}

// TestReadProcesses reads a constructed /proc tree.
func TestReadProcesses(t *testing.T) {
	root := t.TempDir()
	write := func(pid, name, content string) {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stat := func(pid, comm, ppid, start string) string {
		return pid + " (" + comm + ") S " + ppid + " " + pid + " " + pid + " 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " + start + " 0 0\n"
	}
	write("1", "stat", stat("1", "init", "0", "5"))
	write("20", "stat", stat("20", "sh", "1", "300"))
	write("20", "cmdline", "/bin/sh\x00-c\x00sleep 1\x00")
	write("20", "status", "Uid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nNSpid:\t20\n")
	write("20", "cgroup", "0::/system.slice/docker-0123456789ab.scope\n")
	if err := os.Symlink("/usr/bin/dash", filepath.Join(root, "20", "exe")); err != nil {
		t.Fatal(err)
	}
	write("self", "stat", "ignored")
	write("31", "stat", "garbage")

	procs, err := readProcesses(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 2 {
		t.Fatalf("got %d processes, want 2: %+v", len(procs), procs)
	}
	want := semconv.Process{
		PID: 20, TID: 20, PPID: 1, NSPID: 20, Start: 300 * tickNS, ParentStart: 5 * tickNS,
		Creds: semconv.Creds{UID: 1, EUID: 2, GID: 5, EGID: 6}, PGID: 20, SID: 20, Comm: "sh",
		Exe: "/usr/bin/dash", Argv: []string{"/bin/sh", "-c", "sleep 1"},
		CgroupPath: "/system.slice/docker-0123456789ab.scope",
	}
	if procs[0].PID != 1 || !reflect.DeepEqual(procs[1], want) {
		t.Errorf("got %+v\nwant %+v", procs[1], want)
	}
}
