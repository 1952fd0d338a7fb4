//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/exeid"
	"github.com/procotel/procotel/semconv"
)

// DefaultBufferSize is the ring buffer size when Options.BufferSize is 0.
const DefaultBufferSize = 4 << 20

const (
	backendName = "ebpf"
	autoSelect  = true
	btfPath     = "/sys/kernel/btf/vmlinux"
	cgroupRoot  = "/sys/fs/cgroup"
	procRoot    = "/proc"
	bootIDPath  = "/proc/sys/kernel/random/boot_id"
)

// Backend is the eBPF backend. Its methods follow the backends.Backend
// contract: Start, then Run once, then Close; Stats and Capabilities may
// be called at any time from any goroutine.
type Backend struct {
	opts backends.Options

	mu     sync.Mutex // guards the fields below against Close racing Start
	coll   *ebpf.Collection
	links  []link.Link
	rings  *ringSet
	waiter *ringWaiter
	caps   backends.Capabilities
	closed bool

	cgroups *cgroupResolver
	tracefs tracefsHost
	env     *envFilter   // the environment allowlist; nil: none
	hashes  *exeid.Cache // executables' content ids
	// execFailures says whether the syscall tracepoints are attached;
	// set by Start.
	execFailures bool
	// closing is closed by Close: it ends a Run blocked on its output.
	closing   chan struct{}
	closeOnce sync.Once

	received     [semconv.NumKinds]atomic.Uint64
	decodeErrors atomic.Uint64
	truncated    atomic.Uint64
	// reapsInferred and lateReaps count reaps inferred because the kernel
	// did not report them in time, and the kernel's late reports left out.
	reapsInferred, lateReaps atomic.Uint64
	existing                 atomic.Uint64
	lostAtClose              [semconv.NumKinds]uint64 // lost counters read at Close
	throttledAtClose         uint64
}

var _ backends.Backend = (*Backend)(nil)

// New returns an eBPF backend that has not attached yet. Source must be
// empty: the backend reads the running kernel.
func New(source string, opts backends.Options) (backends.Backend, error) {
	if source != "" {
		return nil, fmt.Errorf("ebpf backend: takes no source, got %q", source)
	}
	if opts.BufferSize < 0 {
		return nil, fmt.Errorf("ebpf backend: negative buffer size %d", opts.BufferSize)
	}
	if opts.ExecRateLimit < 0 || opts.ExecRateLimit > maxExecRateLimit {
		return nil, fmt.Errorf("ebpf backend: exec rate limit %d out of range: want 0 (off) to %d execs per cgroup per second", opts.ExecRateLimit, maxExecRateLimit)
	}
	env, err := newEnvFilter(opts.Env)
	if err != nil {
		return nil, fmt.Errorf("ebpf backend: %w", err)
	}
	shaMax := opts.ExecSHA256Max
	if shaMax <= 0 {
		shaMax = backends.DefaultExecSHA256Max
	}
	return &Backend{opts: opts, cgroups: newCgroupResolver(cgroupRoot, dirInode), tracefs: hostTracefs,
		env: env, hashes: exeid.NewCache(opts.ExecSHA256, shaMax), closing: make(chan struct{})}, nil
}

// Name returns "ebpf".
func (b *Backend) Name() string { return backendName }

// Capabilities returns what the backend observes; valid after Start.
func (b *Backend) Capabilities() backends.Capabilities {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.caps
}

func missing(feature, hint string) *backends.MissingFeatureError {
	return &backends.MissingFeatureError{Backend: backendName, Feature: feature, Hint: hint}
}

// Start checks privileges and kernel features, loads the programs and
// attaches them. Once it returns nil every event is delivered by Run or
// counted as lost.
func (b *Backend) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("start ebpf backend: closed")
	}
	if b.coll != nil {
		return errors.New("start ebpf backend: already started")
	}
	if b.opts.StartEvents {
		return errors.New("start ebpf backend: start events are not available: they need fentry on schedule_tail, which this backend does not attach; turn capture.start_events off")
	}
	held, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("start ebpf backend: %w", err)
	}
	if err := checkPrivileges(held); err != nil {
		return err
	}
	if _, err := os.Stat(btfPath); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("start ebpf backend: %w: %w", err, missing("read access to "+btfPath, "it is world-readable by default; make it readable (chmod a+r "+btfPath+")"))
		}
		return missing("BTF ("+btfPath+")", "use a kernel built with CONFIG_DEBUG_INFO_BTF=y")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return refused("raise RLIMIT_MEMLOCK (kernels before 5.11 charge BPF memory to it)", err, capSysResource)
		}
		return fmt.Errorf("start ebpf backend: raise RLIMIT_MEMLOCK: %w", err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return missing("BPF ring buffer maps (Linux 5.8)", err.Error())
		}
		return fmt.Errorf("start ebpf backend: probe ring buffer support: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.load(held); err != nil {
		b.closeLocked()
		return err
	}
	return nil
}

// hook is one program and how to attach it.
type hook struct {
	prog     string
	group    string // tracepoint group; empty for tp_btf and fentry
	name     string // tracepoint name, or the kernel function / tp_btf event
	optional string // when set, attach failure is tolerated and noted with this text
}

func (b *Backend) load(held capSet) error {
	spec, err := loadProcotel()
	if err != nil {
		return fmt.Errorf("start ebpf backend: %w", err)
	}
	size := b.opts.BufferSize
	if size == 0 {
		size = DefaultBufferSize
	}
	size, err = ringSize(size)
	if err != nil {
		return fmt.Errorf("start ebpf backend: %w", err)
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("start ebpf backend: %w", err)
	}
	online, err := onlineCPUs(cpuOnlinePath)
	if err != nil || len(online) == 0 {
		online = make([]int, cpus) // every possible CPU, then
		for i := range online {
			online[i] = i
		}
	}
	nrings, each := ringLayout(size, len(online))
	rings := spec.Maps[procotelMapRings]
	rings.MaxEntries = uint32(nrings)
	rings.InnerMap.MaxEntries = uint32(each)
	spec.Maps[procotelMapExecScratch].MaxEntries = uint32(cpus)

	argvMax := b.opts.ArgvLimit()
	notes := []string{fmt.Sprintf("the kernel buffer (%d bytes) is %d ring(s) of %d bytes, the %d online CPUs dealt to them in turn; the reader merges them by time", size, nrings, each, len(online))}
	if argvMax > argvCap {
		notes = append(notes, fmt.Sprintf("argv is captured up to %d bytes per exec, not the %d asked for", argvCap, argvMax))
		argvMax = argvCap
	}
	set := map[string]any{
		procotelVarArgvMax:       uint32(argvMax),
		procotelVarEnvMax:        uint32(b.envMax()),
		procotelVarSignalsAll:    boolByte(b.opts.SignalsAll),
		procotelVarThreads:       boolByte(b.opts.Threads),
		procotelVarSelfTgid:      uint32(os.Getpid()),
		procotelVarWakeupBytes:   uint64(each / 4),
		procotelVarRingOfCpu:     ringOfCPU(online, cpus, nrings),
		procotelVarExecRateLimit: uint32(b.opts.ExecRateLimit),
	}
	for name, v := range set {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("start ebpf backend: set %s: %w", name, err)
		}
	}

	hooks := []hook{
		{prog: procotelProgOnFork, name: "sched_process_fork"},
		{prog: procotelProgOnExec, name: "sched_process_exec"},
		{prog: procotelProgOnExit, name: "sched_process_exit"},
		{prog: procotelProgOnSignalGenerate, name: "signal_generate"},
		{prog: procotelProgOnKernelClone, name: "kernel_clone", optional: "clone flags are derived from what parent and child share (fentry on kernel_clone unavailable): CLONE_VM, FS, FILES, SIGHAND, THREAD, NEW* namespaces and the exit signal; not CLONE_VFORK"},
		{prog: procotelProgOnReleaseTask, name: "release_task", optional: "reap comes from sched_process_free, and the reaper named is the parent at release (fentry on release_task unavailable)"},
	}
	// The syscall tracepoints see failed execs. They are found through
	// tracefs: without it (not mounted and not mountable, or not
	// readable) the backend starts without them and says why.
	syscallHooks := []hook{
		{prog: procotelProgOnEnterExecve, group: "syscalls", name: "sys_enter_execve"},
		{prog: procotelProgOnEnterExecveat, group: "syscalls", name: "sys_enter_execveat"},
		{prog: procotelProgOnExitExecve, group: "syscalls", name: "sys_exit_execve"},
		{prog: procotelProgOnExitExecveat, group: "syscalls", name: "sys_exit_execveat"},
	}
	if argsInRegisters() {
		// The exit hooks read the syscall's arguments from the registers
		// it saved, and the enter hooks would only return (regs_known in
		// the programs): about 80 ns per exec saved by not attaching them.
		for _, h := range syscallHooks[:2] {
			delete(spec.Programs, h.prog)
		}
		syscallHooks = syscallHooks[2:]
	}
	warnings := privilegeWarnings(held, b.opts)
	b.execFailures = !b.opts.NoExecFailures
	if b.execFailures {
		ok, warning := b.tracefs.prepare()
		if warning != "" {
			warnings = append(warnings, warning)
		}
		b.execFailures = ok
	}
	if !b.execFailures {
		// No syscall tracepoint: failed execs go unseen, successful ones
		// still come from sched_process_exec.
		for _, h := range syscallHooks {
			delete(spec.Programs, h.prog)
		}
		syscallHooks = nil
		if b.opts.NoExecFailures {
			notes = append(notes, "failed execs are not reported (exec failures off): no syscall tracepoint is attached")
		} else {
			notes = append(notes, "failed execs are not reported: the syscall tracepoints could not be attached (see the warning)")
		}
	}
	if b.opts.SignalDeliver {
		hooks = append(hooks, hook{prog: procotelProgOnSignalDeliver, name: "signal_deliver"})
	} else {
		delete(spec.Programs, procotelProgOnSignalDeliver)
	}
	// Optional programs are loaded on their own, after the rest, so that a
	// kernel refusing one of them (fentry needs ftrace) costs only it.
	optional := map[string]*ebpf.ProgramSpec{}
	for _, name := range []string{procotelProgOnKernelClone, procotelProgOnReleaseTask, procotelProgOnProcessFree} {
		optional[name] = spec.Programs[name]
		delete(spec.Programs, name)
	}
	// One decoding of the kernel's BTF serves every load below; it is
	// garbage once load returns.
	kernelBTF := btf.NewCache()
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Cache: kernelBTF})
	if err != nil {
		return loadError(err)
	}
	b.coll = coll
	// The rings go into their slots before any program is attached: a
	// record finding its slot empty would be counted lost.
	if err := b.openRings(coll.Maps[procotelMapRings], rings.InnerMap, nrings); err != nil {
		return fmt.Errorf("start ebpf backend: %w", err)
	}
	for _, name := range []string{procotelProgOnKernelClone, procotelProgOnReleaseTask} {
		if prog, err := loadOne(spec, optional[name], coll, kernelBTF); err == nil {
			coll.Programs[name] = prog
		}
	}

	reaper := true
	for _, h := range hooks {
		prog := coll.Programs[h.prog]
		var l link.Link
		var err error
		switch {
		case prog == nil:
			err = errors.New("program did not load")
		case h.group != "":
			l, err = link.Tracepoint(h.group, h.name, prog, nil)
		default:
			l, err = link.AttachTracing(link.TracingOptions{Program: prog})
		}
		if err != nil {
			if h.optional != "" {
				notes = append(notes, h.optional)
				if h.prog == procotelProgOnReleaseTask {
					reaper = false
				}
				continue
			}
			return attachError(h.name, err)
		}
		b.links = append(b.links, l)
	}
	if w := b.attachSyscalls(coll, syscallHooks); w != "" {
		warnings = append(warnings, w)
		notes = append(notes, "failed execs are not reported: the syscall tracepoints could not be attached (see the warning)")
	}
	if !reaper {
		prog, err := loadOne(spec, optional[procotelProgOnProcessFree], coll, kernelBTF)
		if err == nil {
			coll.Programs[procotelProgOnProcessFree] = prog
			var l link.Link
			if l, err = link.AttachTracing(link.TracingOptions{Program: prog}); err == nil {
				b.links = append(b.links, l)
			}
		}
		if err != nil {
			return attachError("sched_process_free", err)
		}
	}

	w, err := newRingWaiter(b.rings.epfd)
	if err != nil {
		return fmt.Errorf("start ebpf backend: %w", err)
	}
	b.waiter = w
	b.caps = b.capabilities(notes)
	b.caps.Warnings = warnings
	return nil
}

// attachSyscalls attaches the syscall tracepoints of failed execs. When
// one cannot be attached it detaches those it did, turns failed execs off
// and returns a one-line warning saying why; the rest of the backend runs
// without them.
func (b *Backend) attachSyscalls(coll *ebpf.Collection, hooks []hook) string {
	var links []link.Link
	for _, h := range hooks {
		l, err := link.Tracepoint(h.group, h.name, coll.Programs[h.prog], nil)
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			b.execFailures = false
			var mf *backends.MissingFeatureError
			fix := ""
			if errors.As(attachError(h.name, err), &mf) {
				fix = ": " + mf.Feature + ": " + mf.Hint
			}
			return fmt.Sprintf("failed execs are not reported: attach %s/%s: %v%s; %s", h.group, h.name, err, fix, execFailuresOff)
		}
		links = append(links, l)
	}
	b.links = append(b.links, links...)
	return ""
}

// openRings creates the n rings of spec, puts them in the slots of outer
// and maps them for reading.
func (b *Backend) openRings(outer *ebpf.Map, spec *ebpf.MapSpec, n int) error {
	maps := make([]*ebpf.Map, 0, n)
	for i := range n {
		m, err := ebpf.NewMap(spec)
		if err == nil {
			err = outer.Put(uint32(i), m)
			maps = append(maps, m)
		}
		if err != nil {
			for _, m := range maps {
				m.Close()
			}
			return fmt.Errorf("create ring buffer %d of %d (%d bytes): %w", i+1, n, spec.MaxEntries, err)
		}
	}
	s, err := newRingSet(maps)
	if err != nil {
		return err
	}
	b.rings = s
	return nil
}

// loadOne loads one program of spec that was left out of coll, sharing
// coll's maps and the kernel BTF decoded for it. The program is owned by
// coll from then on.
func loadOne(spec *ebpf.CollectionSpec, prog *ebpf.ProgramSpec, coll *ebpf.Collection, kernelBTF *btf.Cache) (*ebpf.Program, error) {
	if prog == nil {
		return nil, errors.New("load program: not in the object file")
	}
	one := spec.Copy()
	one.Programs = map[string]*ebpf.ProgramSpec{prog.Name: prog}
	repl := make(map[string]*ebpf.Map)
	for name, m := range coll.Maps {
		if !strings.HasPrefix(name, ".") {
			repl[name] = m
		}
	}
	c, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: repl, Cache: kernelBTF})
	if err != nil {
		return nil, fmt.Errorf("load program %s: %w", prog.Name, err)
	}
	p := c.Programs[prog.Name]
	delete(c.Programs, prog.Name)
	c.Close()
	return p, nil
}

// maxExecRateLimit bounds Options.ExecRateLimit.
const maxExecRateLimit = 1 << 30

// How often Run looks at a ring buffer that did not wake it. Each look
// wakes a thread, and a wake-up costs more CPU than dozens of events, so
// the interval follows what the last look found (nextPoll): pollInterval
// while records trickle in; once they come at busyRate or faster, the
// time busyRecords take at that rate, between pollInterval and
// busyPollInterval, so that a storm is read in batches large enough to
// make the wake-up cheap and small enough that what waits in memory
// (between the kernel and the pipeline, and in its window) stays as it
// was with pollInterval (the kernel still wakes the reader early when the
// buffer fills past wakeup_bytes); doubling up to idlePollInterval while
// the buffer stays empty. busyPollInterval bounds how long a record waits
// in the ring during a storm slower than busyRecords a busyPollInterval
// (an exec storm); 80 ms rather than 40 halves the passes there, each a
// wake-up of the reading thread and the runtime's monitor, for about
// 20 ms more at the median and 45 ms more at the 99th percentile between
// the kernel and the sinks (docs/storm.md, eleventh sitting).
const (
	pollInterval     = 10 * time.Millisecond
	busyPollInterval = 80 * time.Millisecond
	idlePollInterval = 100 * time.Millisecond
	busyRate         = 1000 // records per second
	busyRecords      = 1024
)

// nextPoll returns the wait after a look that found n records, when the
// wait before it was prev. The rate is judged over prev, so that the
// choice does not depend on the interval it led to.
func nextPoll(prev time.Duration, n int) time.Duration {
	switch {
	case n == 0:
		return min(max(prev, pollInterval)*2, idlePollInterval)
	case time.Duration(n)*time.Second < busyRate*prev:
		return pollInterval
	}
	return min(max(prev*busyRecords/time.Duration(n), pollInterval), busyPollInterval)
}

// argvCap is ARGV_CAP in bpf/record.h.
const argvCap = 16384

// envCap is ENV_CAP in bpf/record.h.
const envCap = 8192

// envMax is how much of an exec's environment the kernel copies: all it
// can when a variable is wanted, else none.
func (b *Backend) envMax() int {
	if b.env != nil || b.opts.TraceParent {
		return envCap
	}
	return 0
}

func boolByte(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// ringSize rounds n up to a power of two of at least a page, as the
// kernel requires of a ring buffer.
func ringSize(n int) (int, error) {
	page := os.Getpagesize()
	if n < page {
		n = page
	}
	if n > 1<<30 {
		return 0, fmt.Errorf("ring buffer size %d exceeds 1 GiB", n)
	}
	p := page
	for p < n {
		p <<= 1
	}
	return p, nil
}

func (b *Backend) capabilities(notes []string) backends.Capabilities {
	kinds := []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExecFailed,
		semconv.KindExit, semconv.KindReap, semconv.KindSignal}
	if !b.execFailures {
		kinds = slices.DeleteFunc(kinds, func(k semconv.Kind) bool { return k == semconv.KindExecFailed })
	}
	if b.opts.Threads {
		kinds = append(kinds, semconv.KindThreadStart, semconv.KindThreadExit)
	}
	if b.opts.ExecRateLimit > 0 {
		kinds = append(kinds, semconv.KindThrottle)
		notes = append(notes, fmt.Sprintf("execs past %d a second in one cgroup are counted, not reported (throttle events, Stats.Throttled); failed execs, exits and reaps are not throttled", b.opts.ExecRateLimit))
	}
	if b.opts.TraceParent {
		notes = append(notes, fmt.Sprintf("TRACEPARENT is read in the kernel from the first %d bytes of an exec's environment; past them from /proc/PID/environ after the exec, where a process that already exited keeps its parent's trace (counted in Stats.Truncated)", envCap))
	}
	notes = append(notes,
		"exe and cwd are resolved up to the root of the process's mount namespace",
		"the sender of a delivered signal is not known",
		"left out unless SignalsAll: SIGCHLD (sent on every exit), and the runtime signals a process sends itself: SIGURG (Go preemption), SIGPROF and SIGVTALRM (profiling and interval timers), glibc's internal 32 and 33")
	boot, _ := os.ReadFile(bootIDPath)
	return backends.Capabilities{
		OS:            semconv.OSLinux,
		Boot:          semconv.BootID(strings.TrimSpace(string(boot))),
		Clock:         bootClock(),
		Kinds:         kinds,
		Argv:          true,
		Exe:           true,
		Cwd:           true,
		Creds:         true,
		TTY:           true,
		NSPID:         true,
		CloneFlags:    true,
		ExitSignal:    true,
		CoreDump:      true,
		SignalOutcome: true,
		SignalSender:  true,
		Containers:    true,
		Notes:         notes,
	}
}

// addCgroup fills the cgroup path and container from the cgroup id.
func (b *Backend) addCgroup(p *semconv.Process) {
	if p.CgroupID == 0 {
		return
	}
	c, ok := b.cgroups.Lookup(p.CgroupID)
	if !ok {
		return
	}
	p.CgroupPath = c.path
	p.ContainerID = c.container.ID
	p.ContainerName = c.container.Name
	p.ContainerRuntime = c.container.Runtime
}

// seed sends a KindExisting event for every process in /proc. It reports
// false, nil when Close interrupted it.
func (b *Backend) seed(out *semconv.Queue, clock semconv.Clock) (bool, error) {
	procs, err := readProcesses(procRoot)
	if err != nil {
		return false, fmt.Errorf("run ebpf backend: seed: %w", err)
	}
	now := bootNow()
	// Most processes share a few cgroups: look each up once.
	type cgroupInfo struct {
		c  Container
		id uint64
	}
	cgroups := map[string]cgroupInfo{}
	for i := range procs {
		p := &procs[i]
		if p.CgroupPath != "" {
			ci, ok := cgroups[p.CgroupPath]
			if !ok {
				ci.c = ParseContainer(p.CgroupPath)
				if st, err := os.Stat(cgroupRoot + p.CgroupPath); err == nil {
					if sys, ok := st.Sys().(*syscall.Stat_t); ok {
						ci.id = sys.Ino
					}
				}
				cgroups[p.CgroupPath] = ci
			}
			p.ContainerID, p.ContainerName, p.ContainerRuntime = ci.c.ID, ci.c.Name, ci.c.Runtime
			p.CgroupID = ci.id
		}
		ev := out.Next()
		if ev == nil {
			return false, nil
		}
		*ev = semconv.Event{Kind: semconv.KindExisting, BootNS: now, Time: clock.Wall(now), CPU: -1,
			OS: semconv.OSLinux, Process: *p}
		b.existing.Add(1)
	}
	return true, nil
}

func bootNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// Stats returns the counters so far. It is safe for concurrent use.
func (b *Backend) Stats() backends.Stats {
	var s backends.Stats
	for k := range s.Received {
		s.Received[k] = b.received[k].Load()
	}
	s.DecodeErrors = b.decodeErrors.Load()
	s.Truncated = b.truncated.Load()
	s.Existing = b.existing.Load()
	s.HashUnavailable = b.hashes.Unavailable()
	s.ReapsInferred, s.LateReapsDropped = b.reapsInferred.Load(), b.lateReaps.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.coll == nil {
		s.Lost, s.Throttled = b.lostAtClose, b.throttledAtClose
		return s
	}
	s.Lost = readLost(b.coll.Maps[procotelMapLost])
	s.Throttled = readThrottled(b.coll.Maps[procotelMapThrottled])
	return s
}

// readThrottled sums the per-CPU count of throttled execs.
func readThrottled(m *ebpf.Map) uint64 {
	var perCPU []uint64
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return 0
	}
	var n uint64
	for _, x := range perCPU {
		n += x
	}
	return n
}

// readLost sums the per-CPU lost counters of every kind.
func readLost(m *ebpf.Map) [semconv.NumKinds]uint64 {
	var lost [semconv.NumKinds]uint64
	var perCPU []uint64
	for k := range lost {
		if err := m.Lookup(uint32(k), &perCPU); err != nil {
			continue
		}
		for _, n := range perCPU {
			lost[k] += n
		}
	}
	return lost
}

// Close detaches the programs and frees the ring buffer. It interrupts a
// running Run, is idempotent and may be called without Start.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() { close(b.closing) })
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.closeLocked()
}

func (b *Backend) closeLocked() error {
	var errs []error
	for _, l := range b.links {
		errs = append(errs, l.Close())
	}
	b.links = nil
	if b.waiter != nil {
		errs = append(errs, b.waiter.close())
		b.waiter = nil
	}
	if b.rings != nil {
		errs = append(errs, b.rings.close())
		b.rings = nil
	}
	if b.coll != nil {
		b.lostAtClose = readLost(b.coll.Maps[procotelMapLost])
		b.throttledAtClose = readThrottled(b.coll.Maps[procotelMapThrottled])
		b.coll.Close()
		b.coll = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close ebpf backend: %w", err)
	}
	return nil
}

// dirInode returns the inode number of a directory entry, which for a
// cgroup2 directory is the cgroup id.
func dirInode(d fs.DirEntry) (uint64, bool) {
	info, err := d.Info()
	if err != nil {
		return 0, false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ino, true
}

// traceParent returns the TRACEPARENT value in the environment of pid's
// new image, or "". It reads /proc/PID/environ after the exec event, so a
// process that has already exited (or changed its environment) is missed;
// that is counted with the truncations.
func (b *Backend) traceParent(pid int32) string {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/environ")
	if err != nil {
		b.truncated.Add(1)
		return ""
	}
	return traceParentFrom(env)
}

// argsInRegisters reports whether the kernel keeps a syscall's arguments
// in the user registers it saved, where sys_exit_execve finds them: on
// x86-64 and arm64 (the programs check the same through CO-RE). A binary
// of another architecture keeps the enter hooks.
func argsInRegisters() bool { return runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" }
