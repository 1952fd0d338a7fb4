package backendtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

// Scenario is one conformance subtest: a workload invocation and the
// backend options it runs under.
type Scenario struct {
	// Name is the subtest name.
	Name string
	// Args are the workload's arguments: the scenario and its own.
	Args []string
	// Options are passed to open.
	Options backends.Options
}

// Scenarios returns the conformance scenarios in the order Run runs them.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "exit", Args: []string{"exit", "0", "1", "3", "255"}},
		{Name: "exec-ok", Args: []string{"exec-ok", "-long", "40000", "--",
			"hello world", "ünïcödé ✓", "", "tab\there", "--flag=value"}},
		{Name: "exec-argv-limit", Args: []string{"exec-ok", "-long", "6000", "--", "short"},
			Options: backends.Options{ArgvMax: 4096}},
		{Name: "exec-fail", Args: []string{"exec-fail"}},
		{Name: "signal", Args: []string{"signal"}},
		{Name: "core", Args: []string{"core"}},
		{Name: "thread-exec", Args: []string{"thread-exec"}},
		{Name: "double-fork", Args: []string{"double-fork"}},
		{Name: "tree", Args: []string{"tree"}},
	}
}

// Run runs the conformance suite against backends made by open. Each
// scenario is a subtest that calls open once for a fresh, un-started
// backend with that scenario's options; the suite Starts it, Runs it into
// a channel, runs the workload, waits until the backend has delivered the
// reap (or exit) of the workload's root, stops it, closes it, and checks
// the events of the workload's processes against the workload's ground
// truth with Check, and the backend's counters with CheckStats. Checks a
// backend's Capabilities rule out are skipped and logged. A Start error
// wrapping *backends.MissingFeatureError skips the subtest with its text;
// any other error fails it.
//
// The scenarios run one after another: backends observe the whole host.
func Run(t *testing.T, open func(t *testing.T, opts backends.Options) backends.Backend) {
	bin := BuildWorkload(t)
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) { runScenario(t, open, bin, sc) })
	}
}

// Settle bounds how long the suite waits for a backend to deliver the end
// of a workload's root after the workload finished.
const Settle = 10 * time.Second

// grace is how long the suite keeps collecting after the root's end
// arrived, to catch duplicate events that would follow it.
const grace = 300 * time.Millisecond

func runScenario(t *testing.T, open func(t *testing.T, opts backends.Options) backends.Backend, bin string, sc Scenario) {
	b := open(t, sc.Options)
	defer func() {
		if err := b.Close(); err != nil {
			t.Errorf("close %s backend: %v", b.Name(), err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Start(ctx); err != nil {
		var missing *backends.MissingFeatureError
		if errors.As(err, &missing) {
			t.Skipf("SKIP: %s backend cannot run here: %v", b.Name(), err)
		}
		t.Fatalf("start %s backend: %v", b.Name(), err)
	}
	caps := b.Capabilities()

	col := newCollector()
	out := semconv.NewQueue(4096, 0)
	runErr := make(chan error, 1)
	go func() { runErr <- b.Run(ctx, out); out.Close() }()
	go col.drain(out)

	rep, err := RunWorkload(ctx, bin, sc.Args...)
	if err != nil {
		cancel()
		<-runErr
		col.stop()
		t.Fatal(err)
	}
	end := semconv.KindReap
	if !caps.Has(end) {
		end = semconv.KindExit
	}
	if !col.waitFor(end, rep.Root, Settle) {
		t.Errorf("%s backend did not deliver the %s of the workload root %d within %s of its end", b.Name(), end, rep.Root, Settle)
	} else {
		time.Sleep(grace)
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("%s backend Run: %v", b.Name(), err)
		}
	case <-time.After(Settle):
		t.Errorf("%s backend Run did not return within %s of its context ending", b.Name(), Settle)
	}
	events := col.stop()

	f := Check(rep, caps, sc.Options, events)
	for _, s := range f.Skipped {
		t.Logf("skipped: %s", s)
	}
	for _, msg := range f.Failures {
		t.Error(msg)
	}
	for _, msg := range CheckStats(b.Stats()) {
		t.Error(msg)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("workload notes: %q", rep.Notes)
		t.Logf("events of the workload's processes:%s", formatEvents(Relevant(rep, Normalize(events))))
	}
}

// collector gathers the events a backend delivers.
type collector struct {
	mu     sync.Mutex
	events []semconv.Event
	grew   chan struct{} // closed and replaced on every append
	exited chan struct{}
}

func newCollector() *collector {
	return &collector{grew: make(chan struct{}), exited: make(chan struct{})}
}

// drain reads out until it is closed.
func (c *collector) drain(out *semconv.Queue) {
	defer close(c.exited)
	out.Consume(c.add)
}

func (c *collector) add(e *semconv.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, *e)
	close(c.grew)
	c.grew = make(chan struct{})
}

// waitFor waits until an event of kind k about pid arrived, at most d.
func (c *collector) waitFor(k semconv.Kind, pid int32, d time.Duration) bool {
	deadline := time.After(d)
	seen := 0
	for {
		c.mu.Lock()
		for ; seen < len(c.events); seen++ {
			if e := c.events[seen]; e.Kind == k && e.Process.PID == pid {
				c.mu.Unlock()
				return true
			}
		}
		grew := c.grew
		c.mu.Unlock()
		select {
		case <-grew:
		case <-deadline:
			return false
		}
	}
}

// stop returns everything collected once the backend's Run returned and
// its queue was closed, or Settle passed.
func (c *collector) stop() []semconv.Event {
	select {
	case <-c.exited:
	case <-time.After(Settle):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events
}
