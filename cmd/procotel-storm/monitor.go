//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
	"github.com/procotel/procotel/terminal"
)

// monitor is one process-event monitor under test. Start attaches it and
// returns once it reports events; stop waits until it has seen what it is
// going to see, detaches it and returns what it observed.
type monitor interface {
	name() string
	kinds() []semconv.Kind // the kinds it reports
	start() error
	stop() (observed, error)
}

// expecter is a monitor that, told the storm's ground truth before stop,
// waits in stop until it has seen that much rather than until its counts
// have merely settled: events that arrive late (reaps come an RCU grace
// period after the exit, later under load) are then still counted.
type expecter interface {
	expect(want map[semconv.Kind]int64)
}

// tell gives m the ground truth when it takes it.
func tell(m monitor, want map[semconv.Kind]int64) {
	if e, ok := m.(expecter); ok {
		e.expect(want)
	}
}

// observed is what a monitor saw and what it cost during one storm.
type observed struct {
	seen     map[semconv.Kind]int64
	lost     uint64        // events the monitor itself counted as lost
	cpu      time.Duration // the monitor's own CPU time
	extraCPU time.Duration // helpers' CPU (the Collector, kauditd)
	rssKiB   int64         // peak RSS of the monitor process
	latency  *histogram
	bpf      map[string][3]uint64 // program → run ns, runs, recursion misses
	kernel   uint64               // events the backend received, all processes
	// procotel: events the pipeline could not match to a process (so no
	// sink saw them), and events that reached it too late to be ordered.
	unmatched      map[semconv.Kind]int64
	unmatchedFirst []string // the first few of them, described
	late           uint64
}

// none is the baseline: no monitor.
type none struct{}

func (none) name() string            { return "none" }
func (none) kinds() []semconv.Kind   { return nil }
func (none) start() error            { return nil }
func (none) stop() (observed, error) { return observed{}, nil }

// stormSink counts, per kind, the storm's events and keeps the delay from
// kernel time to the sink of each. It is called from the pipeline's one
// goroutine; counts are read after Run returns or atomically.
type stormSink struct {
	n       [semconv.NumKinds]atomic.Int64
	latency histogram
	tick    uint32
}

// latencyEvery is how often the sink times an event's latency: reading
// the clock and bucketing for every event was the harness's own cost
// inside the measured process (about 7 % of the kernel-only figure, in
// a profile), and one in eight gives the same quantiles.
const latencyEvery = 8

func (s *stormSink) Event(e *semconv.Event) {
	if !isStorm(e.Process.Comm) {
		return
	}
	if s.tick++; s.tick%latencyEvery == 0 {
		s.latency.add(time.Since(e.Time))
	}
	s.n[e.Kind].Add(1)
}
func (s *stormSink) Lifetime(*semconv.Lifetime)  {}
func (s *stormSink) Close(context.Context) error { return nil }

func (s *stormSink) total() int64 {
	var t int64
	for k := range s.n {
		t += s.n[k].Load()
	}
	return t
}

// procotel runs the eBPF backend and the pipeline in this process with
// one output: text to /dev/null, or OTLP to a Collector when otlp is set.
type procotel struct {
	otlp      string // Collector's OTLP/gRPC host:port, or http://host:port for OTLP/HTTP; "" for text output
	collector int    // the Collector's pid, whose CPU is extra
	maxProcs  int    // pipeline.Config.MaxProcesses
	child     bool   // runs in a child process: the parent reads the BPF statistics
	// kernelOnly runs the backend alone (programs, ring buffer, decoder)
	// and counts its events with no pipeline or output: what procotel's
	// kernel side costs the storm, the floor beneath the other two.
	kernelOnly bool
	// noExecFailures runs procotel with --exec-failures=false: no syscall
	// tracepoint, no failed execs.
	noExecFailures bool

	agent     *agent.Agent
	pipe      *pipeline.Pipeline
	text      *terminal.Text
	exp       *export.Exporter
	sink      *stormSink
	devnull   *os.File
	bpfBefore map[string][3]uint64
	cpu0      time.Duration
	coll0     time.Duration
	want      map[semconv.Kind]int64 // the storm's ground truth, when told
	// queuePeak samples the exporter's queues while the storm runs: the
	// most log records and spans waiting at once, how close the storm came
	// to the queue's bound (export.DefaultQueueSize), where records are
	// dropped (queue_full).
	queuePeak *queueSampler
}

// queueSampler reads an exporter's pending records and spans every
// 10 ms and keeps the highest of each.
type queueSampler struct {
	stop, done        chan struct{}
	logPeak, spanPeak uint64
}

func sampleQueues(x *export.Exporter) *queueSampler {
	q := &queueSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-q.stop:
				return
			case <-t.C:
			}
			st := x.Stats()
			q.logPeak = max(q.logPeak, st.LogTotals().Pending)
			q.spanPeak = max(q.spanPeak, st.Spans.Pending)
		}
	}()
	return q
}

// end stops the sampling and returns the peaks.
func (q *queueSampler) end() (logs, spans uint64) {
	close(q.stop)
	<-q.done
	return q.logPeak, q.spanPeak
}

func (p *procotel) expect(want map[semconv.Kind]int64) { p.want = want }

// complete reports whether the sink saw all the events p.want names.
func (p *procotel) complete() bool {
	if p.want == nil {
		return false
	}
	for k, n := range p.want {
		if p.sink.n[k].Load() < n {
			return false
		}
	}
	return true
}

// otlpHTTP reports whether p exports OTLP/HTTP (otlp is a URL).
func (p *procotel) otlpHTTP() bool { return strings.HasPrefix(p.otlp, "http://") }

func (p *procotel) name() string {
	switch {
	case p.kernelOnly:
		return "procotel-kernel"
	case p.noExecFailures:
		return "procotel-no-exec-failures"
	case p.otlpHTTP():
		return "procotel+otlp-http"
	case p.otlp != "":
		return "procotel+otlp"
	}
	return "procotel"
}

func (p *procotel) kinds() []semconv.Kind {
	if p.noExecFailures {
		return slices.DeleteFunc(slices.Clone(countedKinds), func(k semconv.Kind) bool { return k == semconv.KindExecFailed })
	}
	return countedKinds
}

// plan is the configuration a user running procotel this way has: the
// defaults, with the monitor's table bound and exec-failure setting.
func (p *procotel) plan() (agent.Plan, error) {
	rc := config.DefaultReceiver()
	rc.Backend = "ebpf"
	rc.Capture.ExecFailures = !p.noExecFailures
	if p.maxProcs > 0 {
		rc.Pipeline.MaxProcesses = p.maxProcs
	}
	return agent.NewPlan(rc)
}

func (p *procotel) start() error {
	ctx := context.Background()
	plan, err := p.plan()
	if err != nil {
		return err
	}
	a, err := agent.Open(ctx, plan, agent.Factories())
	if err != nil {
		return err
	}
	p.agent = a
	caps := a.Capabilities()
	p.sink = &stormSink{}
	sinks := []pipeline.Sink{p.sink}
	switch {
	case p.kernelOnly:
	case p.otlp != "":
		proto := export.ProtocolGRPC
		if p.otlpHTTP() {
			proto = export.ProtocolHTTP
		}
		exp, err := export.New(ctx, export.Options{
			Endpoint: p.otlp, Protocol: proto, Insecure: true, Logs: true, Traces: true,
			Observer: semconv.Observer{OS: caps.OS, HostName: "storm"}, Boot: caps.Boot,
		})
		if err != nil {
			return err
		}
		p.exp = exp
		sinks = append(sinks, exp)
	default:
		p.devnull, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		p.text = terminal.NewText(p.devnull, terminal.Options{})
		sinks = append(sinks, p.text)
	}
	if p.kernelOnly {
		a.RunRaw(p.sink.Event)
	} else {
		p.pipe = a.Run(sinks...)
	}
	waitSeeded(a)
	// Measure from here: attached, seeded, steady.
	runtime.GC()
	resetPeakRSS("self")
	p.cpu0 = selfCPU()
	if p.collector != 0 {
		p.coll0 = pidCPU(p.collector)
	}
	if !p.child {
		p.bpfBefore = bpfRuntime()
	}
	if p.exp != nil {
		p.queuePeak = sampleQueues(p.exp)
	}
	return nil
}

// waitSeeded waits until the backend has delivered its /proc snapshot.
func waitSeeded(a *agent.Agent) {
	var last uint64
	for i := 0; i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		n := a.Stats().Existing
		if n == last && n > 0 {
			return
		}
		last = n
	}
}

func (p *procotel) stop() (observed, error) {
	// Wait until the storm's events stop arriving (reaps come after an
	// RCU grace period, later under load). With the ground truth known,
	// wait for all of it, or until the count stood still for 2 s (the rest
	// is missing); without, until it stood still for 300 ms.
	settled := 2
	if p.want != nil {
		settled = 13
	}
	last, same := int64(-1), 0
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && same < settled && !p.complete(); {
		time.Sleep(150 * time.Millisecond)
		n := p.sink.total()
		if n == last {
			same++
		} else {
			same = 0
		}
		last = n
	}
	cpuSettled := selfCPU() - p.cpu0
	if p.queuePeak != nil {
		logs, spans := p.queuePeak.end()
		fmt.Fprintf(os.Stderr, "[export queue peak: %d log records, %d spans waiting (bound %d each)] ", logs, spans, export.DefaultQueueSize)
	}
	var bpfAfter map[string][3]uint64
	if !p.child {
		bpfAfter = bpfRuntime()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errStop := p.agent.Stop(ctx)
	o := observed{seen: map[semconv.Kind]int64{}, bpf: map[string][3]uint64{}}
	o.cpu = selfCPU() - p.cpu0
	if p.collector != 0 {
		o.extraCPU = pidCPU(p.collector) - p.coll0
	}
	o.rssKiB = peakRSS("self")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ps pipeline.Stats
	if p.pipe != nil {
		ps = p.pipe.Stats()
	}
	fmt.Fprintf(os.Stderr, "[cpu %v until settled, %v to stop] ", cpuSettled.Round(time.Millisecond), (o.cpu - cpuSettled).Round(time.Millisecond))
	if n, grown := agent.GrownProcs(); grown {
		fmt.Fprintf(os.Stderr, "[backlog: grew to %d processors] ", n)
	}
	fmt.Fprintf(os.Stderr, "[heap %.1f MiB in use, %.1f MiB from the OS, %d GC cycles; table %d entries (%d live, %d exited, %d reaped); %s] ",
		float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), ms.NumGC, ps.TableSize, ps.Live, ps.Exited, ps.Reaped, rssParts())
	st := p.agent.Stats()
	for _, n := range st.Lost {
		o.lost += n
	}
	o.kernel = st.TotalReceived() - st.Received[semconv.KindExisting]
	if p.text != nil {
		o.lost += p.text.Stats().Dropped
		p.devnull.Close()
	}
	if p.exp != nil {
		es := p.exp.Stats()
		o.lost += es.LogTotals().Dropped() + es.Spans.Dropped()
		if r := es.LogTotals().DropsByReason(); len(r) > 0 {
			fmt.Fprintf(os.Stderr, "[export dropped log records: %s] ", strings.Join(r, ", "))
		}
		if r := es.Spans.DropsByReason(); len(r) > 0 {
			fmt.Fprintf(os.Stderr, "[export dropped spans: %s] ", strings.Join(r, ", "))
		}
	}
	for _, k := range countedKinds {
		o.seen[k] = p.sink.n[k].Load()
	}
	if p.pipe != nil {
		o.unmatched = map[semconv.Kind]int64{}
		for k, n := range ps.Unmatched {
			if n > 0 {
				o.unmatched[semconv.Kind(k)] = int64(n)
			}
		}
		o.late = ps.Late
		for _, u := range ps.UnmatchedFirst {
			o.unmatchedFirst = append(o.unmatchedFirst, u.String())
		}
	}
	o.latency = &p.sink.latency
	for name, a := range bpfAfter {
		bf := p.bpfBefore[name]
		o.bpf[name] = [3]uint64{a[0] - bf[0], a[1] - bf[1], a[2] - bf[2]}
	}
	return o, errStop
}

// histogram counts durations in buckets 5 % wide (from 1 µs), so that
// measuring latency costs no memory per event. It is not safe for
// concurrent use.
type histogram struct {
	n       uint64
	buckets [400]uint64
}

const histBase = 1.05

func (h *histogram) add(d time.Duration) {
	i := 0
	if us := float64(d) / float64(time.Microsecond); us > 1 {
		i = int(math.Log(us) / math.Log(histBase))
	}
	if i >= len(h.buckets) {
		i = len(h.buckets) - 1
	}
	h.buckets[i]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.buckets {
		h.buckets[i] += c
	}
	h.n += o.n
}

// quantile returns the upper bound of the bucket holding the q-quantile.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	want := uint64(q * float64(h.n))
	var seen uint64
	for i, c := range h.buckets {
		seen += c
		if seen > want {
			return time.Duration(math.Pow(histBase, float64(i+1)) * float64(time.Microsecond))
		}
	}
	return 0
}

// startupCheck spawns n sleeping processes and times procotel's start:
// load and attach (Start), then the /proc seed delivered to the pipeline.
func startupCheck(storm string, n int) (attach, seeded time.Duration, seen uint64, err error) {
	h, err := hold(storm, n)
	if err != nil {
		return 0, 0, 0, err
	}
	defer h.stop()
	ents, _ := os.ReadDir("/proc")
	want := uint64(0)
	for _, e := range ents {
		if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			want++
		}
	}
	plan, err := (&procotel{}).plan()
	if err != nil {
		return 0, 0, 0, err
	}
	t0 := time.Now()
	a, err := agent.Open(context.Background(), plan, agent.Factories())
	if err != nil {
		return 0, 0, 0, err
	}
	attach = time.Since(t0)
	pipe := a.Run()
	// Seeded: the pipeline has taken (nearly) every process /proc listed;
	// a few may exit in between.
	for time.Since(t0) < 30*time.Second {
		if got := pipe.Stats().In[semconv.KindExisting]; got+20 >= want {
			seen = got
			break
		}
		time.Sleep(time.Millisecond)
	}
	seeded = time.Since(t0)
	if err := a.Stop(context.Background()); err != nil {
		return attach, seeded, seen, err
	}
	if seen == 0 {
		return attach, seeded, 0, fmt.Errorf("startup: seed did not reach %d processes", want)
	}
	return attach, seeded, seen, nil
}

// parseCounts parses the -startup list: positive counts separated by
// commas; "0" or "" is none.
func parseCounts(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "0" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count of processes", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

const pidMaxPath = "/proc/sys/kernel/pid_max"

// ensurePIDMax raises kernel.pid_max when n more processes (and the
// host's threads, which take pids too) might not fit under it. It
// returns the value it set (0 when it left it alone) and a function that
// restores the old value, which also runs if the harness exits early.
func ensurePIDMax(n int) (raised int, restore func(), err error) {
	b, err := os.ReadFile(pidMaxPath)
	if err != nil {
		return 0, func() {}, fmt.Errorf("start-up check: %w", err)
	}
	old, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, func() {}, fmt.Errorf("start-up check: %s: %q", pidMaxPath, b)
	}
	ents, _ := os.ReadDir("/proc")
	want := 2 * (n + 8*len(ents)) // pids are handed out in a cycle: leave room
	if want <= old {
		return 0, func() {}, nil
	}
	want = min(want, 1<<22) // PID_MAX_LIMIT on 64-bit
	if err := os.WriteFile(pidMaxPath, []byte(strconv.Itoa(want)), 0o644); err != nil {
		return 0, func() {}, fmt.Errorf("start-up check with %d processes: raise %s from %d to %d: %w", n, pidMaxPath, old, want, err)
	}
	fmt.Fprintf(os.Stderr, "kernel.pid_max raised from %d to %d for the check\n", old, want)
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := os.WriteFile(pidMaxPath, []byte(strconv.Itoa(old)), 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "procotel-storm: restore %s to %d: %v\n", pidMaxPath, old, err)
			}
		})
	}
	addCleanup(restore)
	return want, restore, nil
}
