//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// teeSink records a copy of every event and lifetime the pipeline hands
// to the exporter, then passes it on: the ground truth of what procotel
// tried to export.
type teeSink struct {
	next pipeline.Sink

	mu        sync.Mutex
	events    []semconv.Event
	lifetimes []semconv.Lifetime
}

var _ pipeline.Sink = (*teeSink)(nil)

func (s *teeSink) Event(e *semconv.Event) {
	c := *e
	c.Process.Argv = slices.Clone(e.Process.Argv)
	c.Exec.Argv = slices.Clone(e.Exec.Argv)
	s.mu.Lock()
	s.events = append(s.events, c)
	s.mu.Unlock()
	s.next.Event(e)
}

func (s *teeSink) Lifetime(l *semconv.Lifetime) {
	c := *l
	c.Process.Argv = slices.Clone(l.Process.Argv)
	c.Execs = slices.Clone(l.Execs)
	for i := range c.Execs {
		c.Execs[i].Argv = slices.Clone(c.Execs[i].Argv)
	}
	s.mu.Lock()
	s.lifetimes = append(s.lifetimes, c)
	s.mu.Unlock()
	s.next.Lifetime(l)
}

func (s *teeSink) Close(ctx context.Context) error { return s.next.Close(ctx) }

// workload returns what was handed over so far.
func (s *teeSink) workload(boot semconv.BootID) Workload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Workload{Boot: boot, Events: slices.Clone(s.events), Lifetimes: slices.Clone(s.lifetimes)}
}

// waitEvent polls until an event satisfying cond was handed over.
func (s *teeSink) waitEvent(timeout time.Duration, cond func(*semconv.Event) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		found := slices.IndexFunc(s.events, func(e semconv.Event) bool { return cond(&e) }) >= 0
		s.mu.Unlock()
		if found {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// live is procotel's standalone path assembled as cmd/procotel does it,
// through the agent: the eBPF backend, the pipeline (filtered to an
// anchor's workload), the OTLP exporter and the self-metrics exporter.
type live struct {
	t         *testing.T
	anchorPID int
	agent     *agent.Agent
	caps      backends.Capabilities
	pipe      *pipeline.Pipeline
	tee       *teeSink
	x         *export.Exporter
	metrics   *export.Metrics
	stopped   bool
}

// startLive attaches the eBPF backend and starts the pipeline, showing
// only the descendants of the anchor, exporting with o (its Boot is set
// from the backend). It skips the test, loudly, when not root.
func startLive(t *testing.T, anchorPID int, o export.Options) *live {
	t.Helper()
	return startLiveWith(t, anchorPID, o, backends.Options{})
}

// startLiveWith is startLive with the backend capturing what bo says.
func startLiveWith(t *testing.T, anchorPID int, o export.Options, bo backends.Options) *live {
	t.Helper()
	requireRoot(t)
	filter, err := pipeline.ParseFilter(fmt.Sprintf("pid=%d+ pid!=%d", anchorPID, anchorPID))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.Open(context.Background(), agent.Plan{Backend: "ebpf", BackendOptions: bo,
		Pipeline: pipeline.Config{RootPolicy: semconv.RootProcessGroup, Filter: filter}}, agent.Factories())
	if err != nil {
		t.Fatalf("start ebpf backend (root, on a kernel this project supports): %v", err)
	}
	l := &live{t: t, anchorPID: anchorPID, agent: a, caps: a.Capabilities()}
	t.Cleanup(l.stop)

	o.Boot = l.caps.Boot
	if l.x, err = export.New(context.Background(), o); err != nil {
		t.Fatalf("new exporter: %v", err)
	}
	if l.metrics, err = export.NewMetrics(context.Background(), o, l.selfStats); err != nil {
		t.Fatalf("new metrics: %v", err)
	}
	l.tee = &teeSink{next: l.x}
	l.pipe = a.Run(l.tee)
	// The backend seeds the table from /proc when Run begins, after
	// Start: a process that exits in between is never known. Wait until
	// the anchor is, or its workload's processes would have no known
	// ancestor and the filter would drop them all.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := l.pipe.Lookup(int32(anchorPID)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline never learnt of the anchor %d; %s", anchorPID, l.diag())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return l
}

// selfStats gathers the counters the metrics exporter reports, as
// cmd/procotel does.
func (l *live) selfStats() export.SelfStats {
	bs, ps := l.agent.Stats(), l.pipe.Stats()
	s := export.SelfStats{
		Received: bs.Received, Lost: bs.Lost, DecodeErrors: bs.DecodeErrors,
		Throttled: bs.Throttled, ReapsInferred: bs.ReapsInferred, LateReaps: bs.LateReapsDropped,
		Filtered: ps.Filtered, FilteredLifetimes: ps.LifetimesFiltered,
		TableSize:       ps.TableSize,
		PipelineDropped: map[string]uint64{},
		Export:          l.x.Stats(),
	}
	for _, loss := range ps.Losses() {
		s.PipelineDropped[loss.Reason] = loss.N
	}
	return s
}

// diag describes the backend's and the pipeline's counters, for failure
// messages.
func (l *live) diag() string {
	bs, ps := l.agent.Stats(), l.pipe.Stats()
	var in, out, filtered, unmatched uint64
	for k := range semconv.NumKinds {
		in += ps.In[k]
		out += ps.Out[k]
		filtered += ps.Filtered[k]
		unmatched += ps.Unmatched[k]
	}
	anchor, known := l.pipe.Lookup(int32(l.anchorPID))
	return fmt.Sprintf("backend: received %d (existing %d), lost %d, undecodable %d; pipeline: in %d, out %d, filtered %d, unmatched %d %v, table %d; anchor %d known %v: %+v",
		bs.TotalReceived(), bs.Existing, bs.TotalLost(), bs.DecodeErrors, in, out, filtered, unmatched, ps.Unmatched, ps.TableSize, l.anchorPID, known, anchor)
}

// stop detaches the backend, lets the pipeline drain, closes the
// exporter (flushing within a minute) and sends the last metrics.
func (l *live) stop() {
	if l.stopped {
		return
	}
	l.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.agent.Stop(ctx); err != nil {
		l.t.Errorf("stop: %v", err)
	}
	if l.metrics != nil {
		if err := l.metrics.Shutdown(ctx); err != nil {
			l.t.Errorf("shut down metrics: %v", err)
		}
	}
}

// proc is one process of a shell workload, as the workload reported it.
type proc struct {
	Role      string
	PID, PPID int64
	// Status is the shell's $? as its reaper saw it (128+N for signal
	// N); -1 when not reported.
	Status int
}

// parseReport reads the workload's "proc ROLE PID PPID" and
// "exit ROLE PID STATUS" lines, keyed by pid.
func parseReport(t *testing.T, out string) map[int64]*proc {
	t.Helper()
	procs := map[int64]*proc{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || (f[0] != "proc" && f[0] != "exit") {
			t.Fatalf("workload printed %q", line)
		}
		pid, err1 := strconv.ParseInt(f[2], 10, 32)
		n, err2 := strconv.ParseInt(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("workload printed %q", line)
		}
		p := procs[pid]
		if p == nil {
			p = &proc{Role: f[1], PID: pid, Status: -1}
			procs[pid] = p
		}
		if f[0] == "proc" {
			p.PPID = n
		} else {
			p.Status = int(n)
		}
	}
	return procs
}

// lookPaths resolves programs to absolute paths, so that the shell
// executes them directly instead of trying each PATH entry (every miss
// is an exec failure the kernel reports).
func lookPaths(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("SKIP LOUDLY: the live workload needs %s: %v", n, err)
		}
		if p, err = filepath.Abs(p); err != nil {
			t.Fatal(err)
		}
		out[n] = p
	}
	return out
}

func writeScript(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "workload.sh")
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
