//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/procotel/procotel/semconv"
)

// childReport is what a procotel child process reports when it stops.
type childReport struct {
	Seen   map[semconv.Kind]int64 `json:"seen"`
	Lost   uint64                 `json:"lost"`
	CPU    time.Duration          `json:"cpu"`
	RSSKiB int64                  `json:"rss_kib"`
	Kernel uint64                 `json:"kernel"`
	// Unmatched and Late are the pipeline's: events about a process it did
	// not know (no sink saw them) and events too late to be ordered.
	Unmatched      map[semconv.Kind]int64 `json:"unmatched,omitempty"`
	UnmatchedFirst []string               `json:"unmatched_first,omitempty"`
	Late           uint64                 `json:"late,omitempty"`
	Latency        histogram              `json:"-"`
	Buckets        []uint64               `json:"buckets"`
	Err            string                 `json:"err,omitempty"`
}

// runChild is the child side: it runs procotel as p, says "ready" on
// stdout once attached and seeded, waits for a line on stdin, then stops
// and prints its report as JSON; it detaches at the next line.
func runChild(p *procotel) {
	if err := p.start(); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	line, _ := in.ReadString('\n') // "stop", then the ground truth as JSON
	if js, ok := strings.CutPrefix(strings.TrimSpace(line), "stop "); ok {
		var want map[semconv.Kind]int64
		if err := json.Unmarshal([]byte(js), &want); err == nil {
			p.expect(want)
		}
	}
	o, err := p.stop()
	r := childReport{Seen: o.seen, Lost: o.lost, CPU: o.cpu, RSSKiB: o.rssKiB, Kernel: o.kernel,
		Unmatched: o.unmatched, UnmatchedFirst: o.unmatchedFirst, Late: o.late}
	if o.latency != nil {
		r.Buckets = o.latency.buckets[:]
	}
	if err != nil {
		r.Err = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

// procotelChild runs procotel in a child process of the harness, so that
// its CPU time and peak RSS are its own, measured as the peers' are.
type procotelChild struct {
	cfg       *procotel // what the child runs, rebuilt there from args
	args      []string
	collector int // the Collector's pid, whose CPU is extra

	cmd       *exec.Cmd
	stdin     io.WriteCloser
	out       *bufio.Reader
	bpfBefore map[string][3]uint64
	coll0     time.Duration
	want      map[semconv.Kind]int64
}

func (c *procotelChild) expect(want map[semconv.Kind]int64) { c.want = want }

func (c *procotelChild) name() string          { return c.cfg.name() }
func (c *procotelChild) kinds() []semconv.Kind { return c.cfg.kinds() }

func (c *procotelChild) start() error {
	c.cmd = exec.Command("/proc/self/exe", c.args...)
	c.cmd.Stderr = os.Stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start procotel child: %w", err)
	}
	c.out = bufio.NewReader(stdout)
	line, err := c.out.ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		return fmt.Errorf("procotel child did not get ready: %q %v", line, err)
	}
	if c.collector != 0 {
		c.coll0 = pidCPU(c.collector)
	}
	c.bpfBefore = bpfRuntime()
	return nil
}

func (c *procotelChild) stop() (observed, error) {
	o := observed{bpf: map[string][3]uint64{}}
	cmd := "stop\n"
	if c.want != nil {
		js, err := json.Marshal(c.want)
		if err != nil {
			return o, err
		}
		cmd = "stop " + string(js) + "\n"
	}
	// The storm is over: the hooks have run for it. Read their statistics
	// now, before the child drains, stops and detaches.
	bpfAfter := bpfRuntime()
	if _, err := io.WriteString(c.stdin, cmd); err != nil {
		return o, err
	}
	var r childReport
	dec := json.NewDecoder(c.out)
	errDec := dec.Decode(&r)
	if c.collector != 0 {
		o.extraCPU = pidCPU(c.collector) - c.coll0
	}
	c.stdin.Close()
	errWait := c.cmd.Wait()
	if errDec != nil {
		return o, fmt.Errorf("read procotel child report: %w", errDec)
	}
	if r.Err != "" {
		return o, fmt.Errorf("procotel child: %s", r.Err)
	}
	if errWait != nil {
		return o, fmt.Errorf("procotel child: %w", errWait)
	}
	o.seen, o.lost, o.cpu, o.rssKiB, o.kernel = r.Seen, r.Lost, r.CPU, r.RSSKiB, r.Kernel
	o.unmatched, o.unmatchedFirst, o.late = r.Unmatched, r.UnmatchedFirst, r.Late
	o.latency = &histogram{}
	for i, n := range r.Buckets {
		if i < len(o.latency.buckets) {
			o.latency.buckets[i] = n
			o.latency.n += n
		}
	}
	for name, a := range bpfAfter {
		bf := c.bpfBefore[name]
		o.bpf[name] = [3]uint64{a[0] - bf[0], a[1] - bf[1], a[2] - bf[2]}
	}
	return o, nil
}

// newProcotelChild runs p in a child process; the child rebuilds p from
// the flags given here.
func newProcotelChild(p *procotel, memLimit int64) *procotelChild {
	args := []string{"-child", "-maxprocs", strconv.Itoa(p.maxProcs), "-memlimit", strconv.FormatInt(memLimit, 10)}
	if p.otlp != "" {
		args = append(args, "-child-otlp", p.otlp)
	}
	if p.kernelOnly {
		args = append(args, "-child-kernel-only")
	}
	if p.noExecFailures {
		args = append(args, "-child-no-exec-failures")
	}
	return &procotelChild{cfg: p, args: args, collector: p.collector}
}
