//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/semconv"
)

// lineMonitor runs a peer whose output has one line per event; count
// turns a line into the kind of a storm event (ok false for other lines).
type lineMonitor struct {
	label string
	argv  []string
	ready string // a line the peer prints once attached
	ks    []semconv.Kind
	count func(line string) (semconv.Kind, bool)

	cmd  *exec.Cmd
	mu   sync.Mutex
	seen map[semconv.Kind]int64
	n    int64
	done chan struct{}
	cpu0 time.Duration
}

func (m *lineMonitor) name() string          { return m.label }
func (m *lineMonitor) kinds() []semconv.Kind { return m.ks }

func (m *lineMonitor) start() error {
	m.seen = map[semconv.Kind]int64{}
	m.n = 0
	m.cmd = exec.Command(m.argv[0], m.argv[1:]...)
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var errBuf bytes.Buffer
	m.cmd.Stderr = &errBuf
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", m.label, err)
	}
	ready := make(chan struct{})
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		r := bufio.NewReaderSize(out, 1<<20)
		isReady := m.ready == ""
		if isReady {
			close(ready)
		}
		for {
			line, err := r.ReadString('\n')
			if len(line) > 0 {
				if !isReady && strings.Contains(line, m.ready) {
					isReady = true
					close(ready)
				} else if k, ok := m.count(line); ok {
					m.mu.Lock()
					m.seen[k]++
					m.n++
					m.mu.Unlock()
				}
			}
			if err != nil {
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-m.done:
		_ = m.cmd.Wait()
		return fmt.Errorf("%s exited at start: %s", m.label, errBuf.String())
	case <-time.After(60 * time.Second):
		_ = m.cmd.Process.Kill()
		return fmt.Errorf("%s did not get ready", m.label)
	}
	time.Sleep(300 * time.Millisecond) // let its start-up settle before measuring
	resetPeakRSS(strconv.Itoa(m.cmd.Process.Pid))
	m.cpu0 = pidCPU(m.cmd.Process.Pid)
	return nil
}

func (m *lineMonitor) stop() (observed, error) {
	last := int64(-1)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		m.mu.Lock()
		n := m.n
		m.mu.Unlock()
		if n == last {
			break
		}
		last = n
	}
	pid := m.cmd.Process.Pid
	o := observed{cpu: pidCPU(pid) - m.cpu0, rssKiB: peakRSS(strconv.Itoa(pid)), seen: map[semconv.Kind]int64{}}
	otelcoltest.StopProcess(m.cmd.Process, syscall.SIGINT, m.done, 10*time.Second)
	_ = m.cmd.Wait()
	m.mu.Lock()
	for k, n := range m.seen {
		o.seen[k] = n
	}
	m.mu.Unlock()
	return o, nil
}

// bpftraceProgram prints one line per event: kind, then the comm of the
// process (for fork: of the parent, which the child shares).
const bpftraceProgram = `
BEGIN { printf("ready\n"); }
tracepoint:sched:sched_process_fork { printf("fork %s %d\n", comm, args->child_pid); }
tracepoint:sched:sched_process_exec { printf("exec %s %d %s\n", comm, pid, str(args->filename)); }
tracepoint:syscalls:sys_exit_execve /args->ret < 0/ { printf("exec_failed %s %d %d\n", comm, pid, -args->ret); }
tracepoint:sched:sched_process_exit /pid == tid/ { printf("exit %s %d\n", comm, pid); }
tracepoint:signal:signal_generate /args->sig != 17/ { printf("signal %s %d %d\n", comm, args->sig, args->pid); }
`

func newBpftrace() monitor {
	return &lineMonitor{
		label: "bpftrace",
		argv:  []string{"bpftrace", "-e", bpftraceProgram}, // default (line) buffering
		ready: "ready",
		ks: []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed,
			semconv.KindExit, semconv.KindSignal},
		count: func(line string) (semconv.Kind, bool) {
			f := strings.Fields(line)
			if len(f) < 2 || !isStorm(f[1]) {
				return 0, false
			}
			k, ok := semconv.ParseKind(f[0])
			return k, ok == nil
		},
	}
}

// newForkstat watches with forkstat (proc connector): fork, exec, exit.
// It names processes by reading /proc after the event, so a process gone
// by then is "<unknown>" and not counted as the storm's.
func newForkstat() monitor {
	return &lineMonitor{
		label: "forkstat",
		argv:  []string{"forkstat", "-c", "-l", "-e", "fork,exec,exit"},
		ready: "Event",
		ks:    []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExit},
		count: func(line string) (semconv.Kind, bool) {
			f := strings.Fields(line)
			if len(f) < 4 || !isStorm(f[len(f)-1]) {
				return 0, false
			}
			switch f[1] {
			case "fork":
				return semconv.KindFork, f[3] == "child"
			case "exec":
				return semconv.KindExec, true
			case "exit":
				return semconv.KindExit, true
			}
			return 0, false
		},
	}
}

// auditd runs the audit daemon for the whole harness run; its rounds add
// syscall rules for the storm's executable and count the records it logs.
type auditd struct {
	storm   string
	dir     string // holds auditd.conf and the log
	cmd     *exec.Cmd
	log     string
	off     int64
	lost0   uint64
	cpu0    time.Duration
	kaudit  int
	kcpu0   time.Duration
	started bool
}

const auditKey = "procotel_storm"

// auditdConf is Debian's auditd.conf with the log file replaced and
// rotation and space checks off.
const auditdConf = `local_events = yes
write_logs = yes
log_file = %s
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 0
num_logs = 0
priority_boost = 4
name_format = NONE
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = SYSLOG
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = /etc/audit/plugins.d
end_of_event_timeout = 2
`

func (a *auditd) name() string { return "auditd" }
func (a *auditd) kinds() []semconv.Kind {
	return []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed,
		semconv.KindExit, semconv.KindSignal}
}

func auditctl(args ...string) error {
	out, err := exec.Command("auditctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("auditctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// setup starts auditd with no rule but "never,task": a task created while
// audit is enabled otherwise carries a syscall audit context for good,
// which would slow the other monitors' rounds too.
func (a *auditd) setup() error {
	if findPID("auditd") != 0 {
		return fmt.Errorf("auditd already runs; stop it first")
	}
	_ = auditctl("-d", "never,task") // it may be left from an earlier run
	if err := auditctl("-a", "never,task"); err != nil {
		return err
	}
	// Debian's configuration, but logging into the harness's directory
	// without rotation (a rotated log would hide records from the count).
	a.log = filepath.Join(a.dir, "audit.log")
	conf := fmt.Sprintf(auditdConf, a.log)
	if err := os.WriteFile(filepath.Join(a.dir, "auditd.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	a.cmd = exec.Command("auditd", "-n", "-c", a.dir)
	a.cmd.Stdout, a.cmd.Stderr = io.Discard, io.Discard
	if err := a.cmd.Start(); err != nil {
		return fmt.Errorf("start auditd: %w", err)
	}
	for i := 0; i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		if st := auditStatus(); st["pid"] == uint64(a.cmd.Process.Pid) {
			a.kaudit = findPID("kauditd")
			a.started = true
			return nil
		}
	}
	return fmt.Errorf("auditd did not register with the kernel")
}

// teardown stops auditd and disables audit. It leaves the "never,task"
// rule: once audit has been enabled the kernel gives every new task an
// audit context unless a task rule says never, so removing it would slow
// every process on the host until reboot.
func (a *auditd) teardown() {
	if a.started {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		_ = a.cmd.Wait()
	}
	_ = auditctl("-e", "0")
}

func auditStatus() map[string]uint64 {
	out, _ := exec.Command("auditctl", "-s").Output()
	st := map[string]uint64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				st[f[0]] = n
			}
		}
	}
	return st
}

func (a *auditd) rules(op string) error {
	for _, sc := range []string{"clone,clone3,fork,vfork", "execve,execveat", "exit_group", "kill"} {
		if err := auditctl(op, "always,exit", "-F", "arch=b64", "-S", sc, "-F", "exe="+a.storm, "-k", auditKey); err != nil {
			return err
		}
	}
	return nil
}

func (a *auditd) start() error {
	if err := auditctl("-d", "never,task"); err != nil {
		return err
	}
	if err := a.rules("-a"); err != nil {
		return err
	}
	if st, err := os.Stat(a.log); err == nil {
		a.off = st.Size()
	}
	a.lost0 = auditStatus()["lost"]
	resetPeakRSS(strconv.Itoa(a.cmd.Process.Pid))
	a.cpu0 = pidCPU(a.cmd.Process.Pid)
	if a.kaudit != 0 {
		a.kcpu0 = pidCPU(a.kaudit)
	}
	return nil
}

func (a *auditd) stop() (observed, error) {
	// Wait for the backlog to drain into the log.
	var last int64 = -1
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		st, err := os.Stat(a.log)
		if err != nil {
			break
		}
		if st.Size() == last && auditStatus()["backlog"] == 0 {
			break
		}
		last = st.Size()
	}
	o := observed{seen: map[semconv.Kind]int64{}, cpu: pidCPU(a.cmd.Process.Pid) - a.cpu0,
		rssKiB: peakRSS(strconv.Itoa(a.cmd.Process.Pid))}
	if a.kaudit != 0 {
		o.extraCPU = pidCPU(a.kaudit) - a.kcpu0
	}
	o.lost = auditStatus()["lost"] - a.lost0
	errR := a.rules("-d")
	errN := auditctl("-a", "never,task")
	f, err := os.Open(a.log)
	if err != nil {
		return o, err
	}
	defer f.Close()
	if _, err := f.Seek(a.off, io.SeekStart); err != nil {
		return o, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	key := `key="` + auditKey + `"`
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "type=SYSCALL") || !strings.Contains(line, key) {
			continue
		}
		switch field(line, "syscall") {
		case "56", "57", "58", "435": // clone, fork, vfork, clone3
			if strings.Contains(line, " success=yes") {
				o.seen[semconv.KindFork]++
			}
		case "59", "322": // execve, execveat
			if strings.Contains(line, " success=yes") {
				o.seen[semconv.KindExec]++
			} else {
				o.seen[semconv.KindExecFailed]++
			}
		case "231": // exit_group
			o.seen[semconv.KindExit]++
		case "62": // kill
			o.seen[semconv.KindSignal]++
		}
	}
	if err := sc.Err(); err != nil {
		return o, err
	}
	if errR != nil {
		return o, errR
	}
	return o, errN
}

// field returns the value of key=value in an audit record line.
func field(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}
