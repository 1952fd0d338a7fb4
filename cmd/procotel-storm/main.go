//go:build linux

// Command procotel-storm measures what procotel costs, and whether it
// loses events, under process storms with a known ground truth, beside
// the peers a Debian host offers: bpftrace, forkstat (proc connector) and
// auditd. A C workload (one worker per core) runs fork, exec, failed-exec,
// signal, thread and "build" (a compiler driver running three tools)
// cycles, as fast as it can or at a fixed rate; each round runs it with no
// monitor and then under every monitor, in rotating order. It prints one
// table — workload slowdown, events seen vs expected, lost, monitor CPU per
// 1,000 events, peak RSS, and for procotel the latency from kernel time to
// its sink — with BPF run time per hook, and writes it as Markdown and as
// an SVG chart.
//
// Run as root: go run ./cmd/procotel-storm [-rounds 3] [-seconds 5]
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/linux"
	"github.com/procotel/procotel/semconv"
)

//go:embed workload/storm.c
var stormSource []byte

// scenario is one workload at one rate; its runs are the rounds of every
// monitor.
type scenario struct {
	mode string
	rate float64 // cycles per second; 0 = as fast as possible
	runs map[string][]run
}

// run is one storm under one monitor.
type run struct {
	t truth
	o observed
}

func main() {
	rounds := flag.Int("rounds", 3, "interleaved rounds per scenario")
	seconds := flag.Float64("seconds", 5, "length of one storm")
	workers := flag.Int("workers", runtime.NumCPU(), "storm workers (default: one per core)")
	modes := flag.String("modes", "fork,exec,execfail,signal,thread,build", "workloads: fork, exec, execfail, signal, thread, build")
	rates := flag.String("rates", "0", "cycle rates per second; 0 = as fast as possible")
	only := flag.String("scenarios", "", "workload@rate list (exec@0,exec@1000) instead of -modes × -rates")
	monitors := flag.String("monitors", "procotel-kernel,procotel,procotel+otlp,bpftrace,forkstat,auditd",
		"monitors beside the baseline; procotel-kernel is procotel's eBPF programs, ring buffer and decoder alone; procotel+otlp exports OTLP/gRPC to a Collector, procotel+otlp-http OTLP/HTTP")
	collectorBin := flag.String("collector", "", "OpenTelemetry Collector binary for procotel+otlp (default: the test Collector of internal/otelcoltest, built once and cached)")
	md := flag.String("md", "", "also write the table as Markdown to this file")
	svg := flag.String("svg", "", "also write an SVG chart to this file")
	startup := flag.String("startup", "10000,100000", "start-up checks: comma-separated counts of sleeping processes to seed, one check each (kernel.pid_max is raised for the check when it is too low, and restored); 0 skips them")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the whole run to this file (with -in-process: procotel's allocations)")
	maxProcs := flag.Int("maxprocs", 0, "pipeline table size (Config.MaxProcesses; 0: the default)")
	child := flag.Bool("child", false, "internal: run procotel and report to the parent harness")
	childOTLP := flag.String("child-otlp", "", "internal: the child's OTLP endpoint")
	childKernel := flag.Bool("child-kernel-only", false, "internal: the child runs the backend alone")
	childNoFail := flag.Bool("child-no-exec-failures", false, "internal: the child runs without exec failures")
	taxCalls := flag.Int("syscall-tax", 2000000, "system-call tax check: getppid() calls per timing with each monitor attached (0 skips it)")
	inProcess := flag.Bool("in-process", false, "run procotel inside the harness instead of in a child process")
	memLimit := flag.Int64("memlimit", 0, "GOMEMLIMIT for the in-process procotel, MiB (0: Go's default)")
	flag.Parse()
	if *child {
		// The runtime settings of procotel's main (cmd/procotel), so the
		// child costs what a user's procotel would.
		agent.OwnProcess()
		if *memLimit > 0 {
			debug.SetMemoryLimit(*memLimit << 20)
		}
		runChild(&procotel{otlp: *childOTLP, kernelOnly: *childKernel, noExecFailures: *childNoFail, maxProcs: *maxProcs, child: true})
		return
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "procotel-storm: needs root (eBPF, auditd)")
		os.Exit(2)
	}
	startups, err := parseCounts(*startup)
	if err != nil {
		fmt.Fprintf(os.Stderr, "procotel-storm: -startup %q: %v (want counts of processes such as 10000,100000, or 0 to skip)\n", *startup, err)
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		addCleanup(func() { pprof.StopCPUProfile(); f.Close() })
	}
	if *memProfile != "" {
		addCleanup(func() {
			f, err := os.Create(*memProfile)
			check(err)
			check(pprof.Lookup("allocs").WriteTo(f, 0))
			check(f.Close())
		})
	}
	if *memLimit > 0 {
		debug.SetMemoryLimit(*memLimit << 20)
	}
	dir, err := os.MkdirTemp("", "procotel-storm")
	check(err)
	addCleanup(func() { os.RemoveAll(dir) })
	storm := buildStorm(dir)

	addCleanup(enableBPFStats())

	var mons []monitor
	defer runCleanups()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		check(errors.New("interrupted"))
	}()
	// monitorFor runs a procotel configuration in a process of its own, unless
	// -in-process asks for the harness's.
	monitorFor := func(p *procotel) monitor {
		if *inProcess {
			return p
		}
		return newProcotelChild(p, *memLimit)
	}
	for _, name := range strings.Split(*monitors, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
		case "procotel-kernel":
			mons = append(mons, monitorFor(&procotel{kernelOnly: true, maxProcs: *maxProcs}))
		case "procotel-no-exec-failures":
			mons = append(mons, monitorFor(&procotel{noExecFailures: true, maxProcs: *maxProcs}))
		case "procotel":
			mons = append(mons, monitorFor(&procotel{maxProcs: *maxProcs}))
		case "procotel+otlp", "procotel+otlp-http":
			bin := *collectorBin
			if bin == "" {
				var err error
				bin, err = otelcoltest.Build(func(format string, args ...any) {
					fmt.Fprintf(os.Stderr, "procotel-storm: "+format+"\n", args...)
				})
				if err != nil {
					fmt.Fprintf(os.Stderr, "procotel-storm: no Collector (%v); pass -collector; skipping procotel+otlp\n", err)
					continue
				}
			}
			addr, err := otelcoltest.FreeLoopbackAddr()
			check(err)
			httpAddr, endpoint := "", addr
			if name == "procotel+otlp-http" {
				httpAddr, err = otelcoltest.FreeLoopbackAddr()
				check(err)
				endpoint = "http://" + httpAddr
			}
			c, err := otelcoltest.NewProcess(bin, dir, otelcoltest.Config(addr, httpAddr, ""), addr)
			check(err)
			check(c.Start())
			addCleanup(c.Stop)
			mons = append(mons, monitorFor(&procotel{otlp: endpoint, collector: c.Pid(), maxProcs: *maxProcs}))
		case "bpftrace", "forkstat":
			if _, err := exec.LookPath(name); err != nil {
				fmt.Fprintf(os.Stderr, "procotel-storm: %s is not installed (apt-get install %s); skipping it\n", name, name)
				continue
			}
			if name == "bpftrace" {
				mons = append(mons, newBpftrace())
			} else {
				mons = append(mons, newForkstat())
			}
		case "auditd":
			a := &auditd{storm: storm, dir: filepath.Join(dir, "audit")}
			check(os.MkdirAll(a.dir, 0o700))
			if err := a.setup(); err != nil {
				a.teardown()
				fmt.Fprintf(os.Stderr, "procotel-storm: auditd: %v; skipping it\n", err)
				continue
			}
			addCleanup(a.teardown)
			mons = append(mons, a)
		default:
			check(fmt.Errorf("unknown monitor %q", name))
		}
	}

	var pairs [][2]string
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			mode, rate, ok := strings.Cut(strings.TrimSpace(s), "@")
			if !ok {
				check(fmt.Errorf("scenario %q: want workload@rate", s))
			}
			pairs = append(pairs, [2]string{mode, rate})
		}
	} else {
		for _, mode := range strings.Split(*modes, ",") {
			for _, r := range strings.Split(*rates, ",") {
				pairs = append(pairs, [2]string{strings.TrimSpace(mode), strings.TrimSpace(r)})
			}
		}
	}
	var scenarios []*scenario
	for _, p := range pairs {
		rate, err := strconv.ParseFloat(p[1], 64)
		check(err)
		scenarios = append(scenarios, &scenario{mode: p[0], rate: rate, runs: map[string][]run{}})
	}
	for _, sc := range scenarios {
		for i := 0; i < *rounds; i++ {
			order := []monitor{none{}}
			for j := range mons {
				order = append(order, mons[(i+j)%len(mons)])
			}
			for _, m := range order {
				fmt.Fprintf(os.Stderr, "%s@%s round %d/%d %s: ", sc.mode, rateName(sc.rate), i+1, *rounds, m.name())
				check(m.start())
				t := runStorm(storm, sc.mode, *workers, *seconds, sc.rate)
				tell(m, t.expected())
				o, err := m.stop()
				check(err)
				sc.runs[m.name()] = append(sc.runs[m.name()], run{t: t, o: o})
				fmt.Fprintf(os.Stderr, "%.0f cycles/s, %.2f ms CPU/cycle", t.rate(), t.cpuPerCycle()*1e3)
				exp := t.expected()
				for _, k := range m.kinds() {
					if o.seen[k] != exp[k] {
						fmt.Fprintf(os.Stderr, "; %s %d of %d", k, o.seen[k], exp[k])
					}
				}
				if len(o.unmatched) > 0 || o.late > 0 {
					fmt.Fprintf(os.Stderr, "; pipeline: unmatched %v, late %d", o.unmatched, o.late)
					for _, u := range o.unmatchedFirst {
						fmt.Fprintf(os.Stderr, "; unmatched: %s", u)
					}
				}
				fmt.Fprintln(os.Stderr)
			}
		}
	}
	var taxes []taxResult
	if *taxCalls > 0 {
		taxMons := append([]monitor{none{}}, mons...)
		if !slices.ContainsFunc(mons, func(m monitor) bool { return m.name() == "procotel-no-exec-failures" }) &&
			slices.ContainsFunc(mons, func(m monitor) bool { return m.name() == "procotel" }) {
			taxMons = append(taxMons, monitorFor(&procotel{noExecFailures: true, maxProcs: *maxProcs}))
		}
		for _, m := range taxMons {
			fmt.Fprintf(os.Stderr, "system-call tax, %s: ", m.name())
			check(m.start())
			ns, err := syscallTax(storm, *taxCalls)
			check(err)
			_, err = m.stop()
			check(err)
			fmt.Fprintf(os.Stderr, "%.1f ns per getppid()\n", ns)
			taxes = append(taxes, taxResult{monitor: m.name(), ns: ns})
		}
	}
	var st []startupResult
	for _, n := range startups {
		fmt.Fprintf(os.Stderr, "start-up check with %d sleeping processes...\n", n)
		raised, restore, err := ensurePIDMax(n)
		check(err)
		attach, seeded, seen, err := startupCheck(storm, n)
		restore()
		check(err)
		st = append(st, startupResult{n: n, attach: attach, seeded: seeded, seen: seen, pidMax: raised})
	}
	names := []string{"none"}
	for _, m := range mons {
		names = append(names, m.name())
	}
	kinds := map[string][]semconv.Kind{}
	for _, m := range mons {
		kinds[m.name()] = m.kinds()
	}
	rep := report{scenarios: scenarios, monitors: names, kinds: kinds, workers: *workers,
		seconds: *seconds, rounds: *rounds, startup: st, taxes: taxes}
	text := rep.markdown()
	fmt.Print(text)
	if *md != "" {
		check(os.WriteFile(*md, []byte(text), 0o644))
	}
	if *svg != "" {
		check(os.WriteFile(*svg, []byte(rep.svg()), 0o644))
	}
}

func rateName(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%.0f/s", r)
}

// cleanups undo what the harness changed on the host (auditd, rules,
// the Collector); check runs them before it exits.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func runCleanups() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func addCleanup(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}

func check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "procotel-storm: %v\n", err)
		runCleanups()
		os.Exit(1)
	}
}

type startupResult struct {
	n              int
	attach, seeded time.Duration
	seen           uint64
	// pidMax is what kernel.pid_max was raised to for the check (0: not).
	pidMax int
}

func enableBPFStats() func() {
	const p = "/proc/sys/kernel/bpf_stats_enabled"
	old, err := os.ReadFile(p)
	if err != nil {
		return func() {}
	}
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return func() {}
	}
	return func() { _ = os.WriteFile(p, old, 0o644) }
}

// bpfRuntime returns, for every loaded BPF program of the linux backend,
// its cumulative run time (ns), run count and recursion misses, keyed by
// program name.
func bpfRuntime() map[string][3]uint64 {
	out := map[string][3]uint64{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return out
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, err := p.Info()
		if err != nil || !isOurs(info.Name) {
			p.Close()
			continue
		}
		st, err := p.Stats()
		p.Close()
		if err != nil {
			continue
		}
		cur := out[info.Name]
		out[info.Name] = [3]uint64{cur[0] + uint64(st.Runtime), cur[1] + st.RunCount, cur[2] + st.RecursionMisses}
	}
}

var ourPrograms = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range linux.ProgramNames() {
		// The kernel keeps the first 15 bytes of a name; cilium/ebpf
		// gives the full name from the program's BTF when it has one.
		m[n] = true
		if len(n) > 15 {
			m[n[:15]] = true
		}
	}
	return m
}()

func isOurs(name string) bool { return ourPrograms[name] }
