//go:build linux

// Command procotel-storm measures what procotel costs and whether it loses
// events at the fastest fork/exec storm this machine sustains. It runs a C
// storm workload (one worker per core, each forking — and exec'ing — as
// fast as it can) alternately without and with procotel attached
// in-process (eBPF backend → pipeline → text output to /dev/null), and
// prints, per mode: workload rate and slowdown, events expected (from the
// workload's own counts) vs received per kind, lost per kind, procotel CPU
// per 1,000 events, BPF run time per hook invocation, and peak RSS.
//
// Run as root: go run ./cmd/procotel-storm [-rounds 3] [-seconds 5]
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/linux"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
	"github.com/procotel/procotel/terminal"
)

//go:embed workload/storm.c
var stormSource []byte

type truth struct {
	PID      int     `json:"pid"`
	Workers  int     `json:"workers"`
	Cycles   int64   `json:"cycles"`
	Execs    int64   `json:"execs"`
	BadExits int64   `json:"bad_exits"`
	Elapsed  float64 `json:"elapsed"`
}

func (t truth) rate() float64 { return float64(t.Cycles) / t.Elapsed }

// expected returns the events the workload caused, per kind: the storm
// process itself (forked and exec'd by the harness), its workers, and
// every cycle's child.
func (t truth) expected() map[semconv.Kind]int64 {
	procs := 1 + int64(t.Workers) + t.Cycles
	return map[semconv.Kind]int64{
		semconv.KindFork: procs,
		semconv.KindExec: 1 + t.Execs,
		semconv.KindExit: procs,
		semconv.KindReap: procs,
	}
}

// counter is a sink counting, per kind, the events of the storm's subtree
// (the pipeline filter keeps only those).
type counter struct {
	n [semconv.NumKinds]atomic.Int64
}

func (c *counter) Event(e *semconv.Event)          { c.n[e.Kind].Add(1) }
func (c *counter) Lifetime(*semconv.Lifetime)      {}
func (c *counter) Close(ctx context.Context) error { return nil }

type result struct {
	mode             string
	base, attached   []truth
	expected, got    map[semconv.Kind]int64
	lost             [semconv.NumKinds]uint64
	kernelEvents     uint64
	cpu              time.Duration
	peakRSSKiB       int64
	bpf              map[string][3]uint64 // program → (run ns, run count, recursion misses)
	pipelineOut      uint64
	outputDropped    uint64
	decodeErrs       uint64
	attachedDuration time.Duration
}

func main() {
	rounds := flag.Int("rounds", 3, "interleaved rounds (baseline, attached) per mode")
	seconds := flag.Float64("seconds", 5, "length of one storm")
	workers := flag.Int("workers", runtime.NumCPU(), "storm workers (default: one per core)")
	modes := flag.String("modes", "exec,fork", "storm modes: exec (fork+exec+exit), fork (fork+exit)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "procotel-storm: needs root to load the eBPF programs")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "procotel-storm")
	check(err)
	defer os.RemoveAll(dir)
	storm := buildStorm(dir)

	restore := enableBPFStats()
	defer restore()

	var results []result
	for _, mode := range strings.Split(*modes, ",") {
		r := result{mode: mode, expected: map[semconv.Kind]int64{}, got: map[semconv.Kind]int64{}, bpf: map[string][3]uint64{}}
		for i := 0; i < *rounds; i++ {
			fmt.Fprintf(os.Stderr, "round %d/%d %s: baseline...", i+1, *rounds, mode)
			r.base = append(r.base, runStorm(storm, mode, *workers, *seconds))
			fmt.Fprintf(os.Stderr, " %.0f/s; attached...", r.base[len(r.base)-1].rate())
			attachedRound(&r, storm, mode, *workers, *seconds)
			fmt.Fprintf(os.Stderr, " %.0f/s\n", r.attached[len(r.attached)-1].rate())
		}
		results = append(results, r)
	}
	printReport(results, *workers, *seconds, *rounds)
}

func check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "procotel-storm: %v\n", err)
		os.Exit(1)
	}
}

func buildStorm(dir string) string {
	src := filepath.Join(dir, "storm.c")
	check(os.WriteFile(src, stormSource, 0o644))
	bin := filepath.Join(dir, "storm")
	out, err := exec.Command("cc", "-O2", "-static", "-o", bin, src).CombinedOutput()
	if err != nil { // no static libc: a dynamic one still works, only slower to exec
		out, err = exec.Command("cc", "-O2", "-o", bin, src).CombinedOutput()
	}
	if err != nil {
		check(fmt.Errorf("compile storm workload: %v\n%s", err, out))
	}
	check(os.Symlink(bin, filepath.Join(dir, "storm-true")))
	return bin
}

func runStorm(bin, mode string, workers int, seconds float64) truth {
	var out bytes.Buffer
	cmd := exec.Command(bin, mode, strconv.Itoa(workers), fmt.Sprint(seconds), filepath.Join(filepath.Dir(bin), "storm-true"))
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	check(cmd.Run())
	var t truth
	check(json.Unmarshal(out.Bytes(), &t))
	if t.BadExits != 0 {
		check(fmt.Errorf("storm: %d children did not exit 0", t.BadExits))
	}
	return t
}

func attachedRound(r *result, storm, mode string, workers int, seconds float64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := linux.New("", backends.Options{})
	check(err)
	defer b.Close()
	check(b.Start(ctx))
	self := os.Getpid()
	filter, err := pipeline.ParseFilter(fmt.Sprintf("pid=%d+ pid!=%d", self, self))
	check(err)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	check(err)
	defer devnull.Close()
	text := terminal.NewText(devnull, terminal.Options{})
	cnt := &counter{}
	caps := b.Capabilities()
	pipe := pipeline.New(pipeline.Config{Filter: filter, Clock: caps.Clock, CredsComplete: caps.Creds}, text, cnt)
	events := make(chan semconv.Event, 8192)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, events); close(events) }()
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- pipe.Run(context.Background(), events) }()
	// Let seeding pass before measuring.
	waitQuiet(b)
	bpfBefore := bpfRuntime()
	cpu0 := cpuTime()
	start := time.Now()

	t := runStorm(storm, mode, workers, seconds)
	exp := t.expected()
	// Drain: wait until the counted events stop growing.
	deadline := time.Now().Add(10 * time.Second)
	last := int64(-1)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		var total int64
		for k := range cnt.n {
			total += cnt.n[k].Load()
		}
		if total == last {
			break
		}
		last = total
	}
	cpu := cpuTime() - cpu0
	r.attachedDuration += time.Since(start)
	bpfAfter := bpfRuntime()
	cancel()
	check(<-done)
	check(<-pipeDone)
	check(pipe.Close(context.Background()))

	r.attached = append(r.attached, t)
	for k, n := range exp {
		r.expected[k] += n
		r.got[k] += cnt.n[k].Load()
	}
	st := b.Stats()
	for k := range st.Lost {
		r.lost[k] += st.Lost[k]
	}
	r.kernelEvents += st.TotalReceived() - st.Received[semconv.KindExisting]
	r.decodeErrs += st.DecodeErrors
	r.cpu += cpu
	ps := pipe.Stats()
	r.pipelineOut += sumU(ps.Out[:])
	r.outputDropped += text.Stats().Dropped
	if rss := peakRSS(); rss > r.peakRSSKiB {
		r.peakRSSKiB = rss
	}
	for name, a := range bpfAfter {
		bf := bpfBefore[name]
		cur := r.bpf[name]
		r.bpf[name] = [3]uint64{cur[0] + a[0] - bf[0], cur[1] + a[1] - bf[1], cur[2] + a[2] - bf[2]}
	}
}

// waitQuiet waits until the backend has delivered its seed snapshot.
func waitQuiet(b backends.Backend) {
	var last uint64
	for i := 0; i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		n := b.Stats().TotalReceived()
		if n == last && n > 0 {
			return
		}
		last = n
	}
}

func sumU(xs []uint64) uint64 {
	var t uint64
	for _, x := range xs {
		t += x
	}
	return t
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
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
	return func() { os.WriteFile(p, old, 0o644) }
}

// bpfRuntime returns, for every loaded BPF program of this process, its
// cumulative run time (ns) and run count, keyed by program name.
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

// isOurs matches the program names of the linux backend (the kernel keeps
// the first 15 bytes of the function name).
func isOurs(name string) bool {
	for _, n := range linux.ProgramNames() {
		if len(n) > 15 {
			n = n[:15]
		}
		if n == name {
			return true
		}
	}
	return false
}

func printReport(results []result, workers int, seconds float64, rounds int) {
	fmt.Printf("\nprocotel storm: %d workers, %d rounds × %.0fs per mode, %s, %d CPUs\n\n", workers, rounds, seconds, runtime.GOARCH, runtime.NumCPU())
	for _, r := range results {
		var baseRate, attRate float64
		for _, t := range r.base {
			baseRate += t.rate()
		}
		for _, t := range r.attached {
			attRate += t.rate()
		}
		baseRate /= float64(len(r.base))
		attRate /= float64(len(r.attached))
		slow := (baseRate - attRate) / baseRate * 100
		desc := map[string]string{"exec": "fork+exec+exit", "fork": "fork+exit"}[r.mode]
		fmt.Printf("== %s storm (%s)\n", r.mode, desc)
		fmt.Printf("workload rate:   %.0f cycles/s without procotel, %.0f with; slowdown %.1f%%\n", baseRate, attRate, slow)
		fmt.Printf("%-10s %12s %12s %8s\n", "kind", "expected", "received", "lost")
		var lostTotal uint64
		for _, k := range []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExit, semconv.KindReap} {
			fmt.Printf("%-10s %12d %12d %8d\n", k, r.expected[k], r.got[k], r.lost[k])
		}
		for k := range r.lost {
			lostTotal += r.lost[k]
		}
		perK := float64(r.cpu) / float64(time.Microsecond) / float64(r.kernelEvents) * 1000 / 1e6
		fmt.Printf("kernel events:   %d total (all processes), lost %d, undecodable %d, output lines dropped %d\n", r.kernelEvents, lostTotal, r.decodeErrs, r.outputDropped)
		fmt.Printf("procotel CPU:    %.3f s over %.1f s attached = %.3f CPU-s per 1,000 events (%.2f µs/event)\n",
			r.cpu.Seconds(), r.attachedDuration.Seconds(), perK, float64(r.cpu)/float64(time.Microsecond)/float64(r.kernelEvents))
		fmt.Printf("peak RSS:        %.1f MiB\n", float64(r.peakRSSKiB)/1024)
		if len(r.bpf) > 0 {
			names := make([]string, 0, len(r.bpf))
			for n := range r.bpf {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Printf("BPF per hook:    ")
			for i, n := range names {
				v := r.bpf[n]
				if v[1] == 0 {
					continue
				}
				if i > 0 {
					fmt.Printf(", ")
				}
				fmt.Printf("%s %.0f ns × %d", n, float64(v[0])/float64(v[1]), v[1])
				if v[2] > 0 {
					fmt.Printf(" (%d runs MISSED by recursion)", v[2])
				}
			}
			fmt.Println()
		}
		fmt.Println()
	}
}
