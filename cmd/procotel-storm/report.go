//go:build linux

package main

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/procotel/procotel/semconv"
)

// report renders the results of every scenario.
type report struct {
	scenarios []*scenario
	monitors  []string
	kinds     map[string][]semconv.Kind
	workers   int
	seconds   float64
	rounds    int
	startup   []startupResult
	taxes     []taxResult
}

// taxResult is the system-call tax check of one monitor.
type taxResult struct {
	monitor string
	ns      float64 // per getppid() with the monitor attached
}

// row is one monitor in one scenario, over all its rounds.
type row struct {
	monitor            string
	rate, slowdown     float64 // cycles/s; % (rate for max, CPU per cycle for fixed rates)
	expected, seen     int64
	perKind            string
	lost               uint64
	cpuPerK, extraPerK float64 // monitor CPU ms per 1,000 expected events
	usPerKernelEvent   float64 // procotel only: µs per event of any process
	// Per round: the slowdown against the same round's baseline, and
	// procotel's µs per kernel event.
	slowRounds, usRounds []float64
	rssMiB               float64
	p50, p99             time.Duration
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// spread is "median (min–max)" of xs with format f, or just the value
// when there is one.
func spread(f string, xs []float64) string {
	if len(xs) == 0 {
		return ""
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if len(s) == 1 {
		return fmt.Sprintf(f, med)
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", med, s[0], s[len(s)-1])
}

func (rep *report) rows(sc *scenario) []row {
	var baseRate, baseCPU []float64
	for _, r := range sc.runs["none"] {
		baseRate = append(baseRate, r.t.rate())
		baseCPU = append(baseCPU, r.t.cpuPerCycle())
	}
	br, bc := mean(baseRate), mean(baseCPU)
	var rows []row
	for _, name := range rep.monitors {
		runs := sc.runs[name]
		if len(runs) == 0 {
			continue
		}
		w := row{monitor: name}
		var rates, cpus []float64
		exp := map[semconv.Kind]int64{}
		seen := map[semconv.Kind]int64{}
		unmatched := map[semconv.Kind]int64{}
		var cpu, extra time.Duration
		var kernel uint64
		var threads int64
		var lat histogram
		for i, r := range runs {
			rates = append(rates, r.t.rate())
			cpus = append(cpus, r.t.cpuPerCycle())
			if i < len(baseRate) && baseRate[i] > 0 && baseCPU[i] > 0 {
				if sc.rate == 0 {
					w.slowRounds = append(w.slowRounds, (baseRate[i]-r.t.rate())/baseRate[i]*100)
				} else {
					w.slowRounds = append(w.slowRounds, (r.t.cpuPerCycle()-baseCPU[i])/baseCPU[i]*100)
				}
			}
			if r.o.kernel > 0 {
				w.usRounds = append(w.usRounds, float64(r.o.cpu.Microseconds())/float64(r.o.kernel))
			}
			threads += r.t.Threads
			for _, k := range rep.kinds[name] {
				exp[k] += r.t.expected()[k]
				seen[k] += r.o.seen[k]
				unmatched[k] += r.o.unmatched[k]
			}
			w.lost += r.o.lost
			cpu += r.o.cpu
			extra += r.o.extraCPU
			kernel += r.o.kernel
			if r.o.latency != nil {
				lat.merge(r.o.latency)
			}
			w.rssMiB = math.Max(w.rssMiB, float64(r.o.rssKiB)/1024)
		}
		w.rate = mean(rates)
		if sc.rate == 0 {
			w.slowdown = (br - w.rate) / br * 100
		} else {
			w.slowdown = (mean(cpus) - bc) / bc * 100
		}
		var parts []string
		for _, k := range rep.kinds[name] {
			w.expected += exp[k]
			w.seen += seen[k]
			if exp[k] > 0 {
				part := fmt.Sprintf("%s %.1f", k, 100*float64(seen[k])/float64(exp[k]))
				if d := seen[k] - exp[k]; d != 0 { // a rounded 100.0 must not hide a few
					part += fmt.Sprintf(" (%+d)", d)
				}
				if n := unmatched[k]; n > 0 { // of any process, storm or not
					part += fmt.Sprintf(" [%d unmatched]", n)
				}
				parts = append(parts, part)
			}
		}
		w.perKind = strings.Join(parts, ", ")
		// Thread churn: every thread start and exit reaches every hook,
		// so they are the events CPU is divided by. procotel leaves
		// threads out (Options.Threads); the peers report them as forks
		// and exits, so their counts are not compared.
		events := w.expected + 2*threads
		if threads > 0 && name != "none" && !strings.HasPrefix(name, "procotel") {
			w.expected, w.seen = -1, -1
			w.perKind = "reports thread start/exit as fork/exit"
		}
		if events > 0 {
			w.cpuPerK = cpu.Seconds() * 1e3 / float64(events) * 1000
			w.extraPerK = extra.Seconds() * 1e3 / float64(events) * 1000
		}
		if kernel > 0 {
			w.usPerKernelEvent = float64(cpu.Microseconds()) / float64(kernel)
		}
		w.p50, w.p99 = lat.quantile(0.5), lat.quantile(0.99)
		rows = append(rows, w)
	}
	return rows
}

func (rep *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# procotel storm benchmark\n\n")
	fmt.Fprintf(&b, "%d workers, %d rounds × %.0f s per scenario and monitor, interleaved; %s, %d CPUs, %s.\n\n",
		rep.workers, rep.rounds, rep.seconds, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	b.WriteString("Slowdown: at max rate, the drop in cycles/s against no monitor; at a fixed rate, the rise in the workload's CPU per cycle. ")
	b.WriteString("Seen/expected counts only the event kinds the monitor reports, for processes named storm*. ")
	b.WriteString("CPU is the monitor process's (procotel: backend, pipeline and sink, in a process of its own) per 1,000 expected events (thread churn: per 1,000 thread starts and exits); ")
	b.WriteString("helper CPU is the Collector's (procotel+otlp) or kauditd's (auditd). Latency: kernel timestamp to procotel's sink, timed on one storm event in eight (the harness's counting sink runs inside the measured process; timing every event cost it about 7 % of the kernel-only CPU).\n\n")
	b.WriteString("Slowdown per round is against the baseline of the same round; the table gives the median of the rounds and, in brackets, their lowest and highest.\n\n")
	b.WriteString("| workload | rate | monitor | cycles/s | slowdown % | seen / expected | seen % per kind | lost | CPU ms / 1k ev | helper CPU ms / 1k ev | peak RSS MiB | latency p50 / p99 ms |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, sc := range rep.scenarios {
		for _, w := range rep.rows(sc) {
			slow, seen, cpu, extra, rss, lat := "", "", "", "", "", ""
			if w.monitor != "none" {
				slow = spread("%.1f", w.slowRounds)
				seen = fmt.Sprintf("%d / %d", w.seen, w.expected)
				if w.expected < 0 {
					seen = "–"
				}
				cpu = fmt.Sprintf("%.1f", w.cpuPerK)
				rss = fmt.Sprintf("%.1f", w.rssMiB)
				if w.extraPerK > 0 {
					extra = fmt.Sprintf("%.1f", w.extraPerK)
				}
			}
			if w.p50 > 0 {
				lat = fmt.Sprintf("%.1f / %.1f", ms(w.p50), ms(w.p99))
			}
			lost := ""
			if w.monitor != "none" {
				lost = fmt.Sprint(w.lost)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				sc.mode, rateName(sc.rate), w.monitor, w.rate, slow, seen, w.perKind, lost, cpu, extra, rss, lat)
		}
	}
	b.WriteString("\n## procotel: CPU per kernel event and BPF cost per hook\n\n")
	b.WriteString("CPU per event counts every event the backend received (all processes on the host): the median of the rounds, in brackets their lowest and highest. BPF: `kernel.bpf_stats_enabled` run time per invocation over all rounds, and its sum over the hooks a forked, exec'd, exited and reaped process passes.\n\n")
	b.WriteString("| workload | rate | monitor | µs / event | BPF ns per run (runs; recursion misses) |\n|---|---|---|---:|---|\n")
	for _, sc := range rep.scenarios {
		for _, w := range rep.rows(sc) {
			if !strings.HasPrefix(w.monitor, "procotel") {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", sc.mode, rateName(sc.rate), w.monitor, spread("%.2f", w.usRounds), bpfLine(sc.runs[w.monitor]))
		}
	}
	if len(rep.taxes) > 0 && rep.taxes[0].monitor == "none" {
		base := rep.taxes[0].ns
		b.WriteString("\n## System-call tax\n\n")
		b.WriteString("Nanoseconds per `getppid()` (the best of five timings) while the monitor is attached and the host is otherwise idle: what the monitor adds to every system call of every process, storm or not. procotel sees failed execs through the execve syscall tracepoints, and any attached syscall tracepoint puts every task on the kernel's slow syscall path; `--exec-failures=false` attaches none (and reports no failed exec).\n\n")
		b.WriteString("| monitor | ns per syscall | added ns | added % |\n|---|---:|---:|---:|\n")
		for _, t := range rep.taxes {
			if t.monitor == "none" {
				fmt.Fprintf(&b, "| none | %.1f |  |  |\n", t.ns)
				continue
			}
			fmt.Fprintf(&b, "| %s | %.1f | %+.1f | %+.1f |\n", t.monitor, t.ns, t.ns-base, (t.ns-base)/base*100)
		}
	}
	if len(rep.startup) > 0 {
		b.WriteString("\n## Start-up\n\nThe harness spawns the sleeping processes, then starts procotel (in the harness process) and times loading and attaching the programs, and the moment the pipeline has taken (nearly) every process `/proc` listed.\n\n")
		b.WriteString("| extra sleeping processes | load and attach | attached and `/proc` seeded | processes seeded | |\n|---:|---:|---:|---:|---|\n")
		for _, st := range rep.startup {
			note := ""
			if st.pidMax > 0 {
				note = fmt.Sprintf("`kernel.pid_max` raised to %d for the check", st.pidMax)
			}
			fmt.Fprintf(&b, "| %d | %v | %v | %d | %s |\n", st.n, st.attach.Round(time.Millisecond),
				st.seeded.Round(time.Millisecond), st.seen, note)
		}
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func bpfLine(runs []run) string {
	sum := map[string][3]uint64{}
	for _, r := range runs {
		for n, v := range r.o.bpf {
			c := sum[n]
			sum[n] = [3]uint64{c[0] + v[0], c[1] + v[1], c[2] + v[2]}
		}
	}
	names := make([]string, 0, len(sum))
	for n, v := range sum {
		if v[1] > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var parts []string
	var total uint64
	for _, n := range names {
		v := sum[n]
		total += v[0]
		parts = append(parts, fmt.Sprintf("%s %.0f (%d; %d)", n, float64(v[0])/float64(v[1]), v[1], v[2]))
	}
	line := strings.Join(parts, ", ")
	// Every process the storm makes passes on_fork once: the run time of
	// all hooks over its runs is their cost per process.
	if forks := sum["on_fork"][1]; forks > 0 {
		line = fmt.Sprintf("**all hooks %.0f per process**; ", float64(total)/float64(forks)) + line
	}
	return line
}

// svg draws two bar charts: workload slowdown at max rate, and monitor
// CPU per 1,000 events, one bar per monitor in every scenario.
func (rep *report) svg() string {
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}
	var mons []string
	for _, m := range rep.monitors {
		if m != "none" {
			mons = append(mons, m)
		}
	}
	color := map[string]string{}
	for i, m := range mons {
		color[m] = colors[i%len(colors)]
	}
	type group struct {
		label string
		rows  []row
	}
	var slow, cpu []group
	for _, sc := range rep.scenarios {
		var rs []row
		for _, w := range rep.rows(sc) {
			if w.monitor != "none" {
				rs = append(rs, w)
			}
		}
		g := group{label: sc.mode + " @ " + rateName(sc.rate), rows: rs}
		if sc.rate == 0 {
			slow = append(slow, g)
		}
		cpu = append(cpu, g)
	}
	const barH, gap, left, width = 12, 10, 150, 420
	panelH := func(gs []group) int { return len(gs)*(len(mons)*barH+gap) + 40 }
	h := panelH(slow) + panelH(cpu) + 30 + 20*len(mons)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", left+width+80, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	y := 0
	panel := func(title, unit string, gs []group, val func(row) float64) {
		max := 0.0
		for _, g := range gs {
			for _, w := range g.rows {
				max = math.Max(max, val(w))
			}
		}
		if max <= 0 {
			max = 1
		}
		fmt.Fprintf(&b, `<text x="4" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", y+16, escape(title))
		y += 28
		for _, g := range gs {
			fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", y+barH, escape(g.label))
			for _, w := range g.rows {
				v := val(w)
				bw := int(math.Max(0, v) / max * width)
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %.2f %s</title></rect>`+"\n",
					left, y, bw, barH-2, color[w.monitor], escape(w.monitor), v, unit)
				fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="9">%.1f</text>`+"\n", left+bw+3, y+barH-3, v)
				y += barH
			}
			y += gap
		}
		y += 12
	}
	panel("Workload slowdown at max rate (%)", "%", slow, func(w row) float64 { return w.slowdown })
	panel("Monitor CPU per 1,000 events (ms; helpers included)", "ms", cpu, func(w row) float64 { return w.cpuPerK + w.extraPerK })
	for i, m := range mons {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			left, y+i*18, color[m], left+14, y+i*18+9, escape(m))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
