//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/semconv"
)

// loopScript creates two processes per iteration (true, then a 0.4 s
// sleep), about five a second, until the file $STOP exists. The parent
// reports each child's pid and exit status.
const loopScript = `# procotel e2e outage workload.
echo "proc loop $$ $PPID"
while [ ! -e "$STOP" ]; do
	"$TRUE" & p=$!
	echo "proc true $p $$"
	wait $p; echo "exit true $p $?"
	"$SLEEP" 0.4 & p=$!
	echo "proc sleep $p $$"
	wait $p; echo "exit sleep $p $?"
done
exit 0
`

// TestLiveOutage stops the Collector for 30 s (3 s with -short) while a
// live workload keeps creating processes under the real backend and
// pipeline, restarts it, and checks that procotel kept running and that
// every record and span either arrived or is counted as dropped: with
// the default queues nothing is dropped and everything arrives; with a
// 16-record log queue the drops are counted exactly.
func TestLiveOutage(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	outage := 30 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	bin := BuildCollector(t)
	paths := lookPaths(t, "sh", "true", "sleep")
	script := writeScript(t, loopScript)
	cases := []struct {
		protocol string
		logQueue int
	}{{export.ProtocolGRPC, 0}, {export.ProtocolHTTP, 0}, {export.ProtocolGRPC, 16}}
	runConcurrently(t, []string{"grpc", "http_protobuf", "grpc_log_queue_16"}, func(t *testing.T, i int) {
		testLiveOutage(t, bin, paths, script, cases[i].protocol, cases[i].logQueue, outage)
	})
}

func testLiveOutage(t *testing.T, bin string, paths map[string]string, script, protocol string, logQueue int, outage time.Duration) {
	fwd := StartForwarded(t)
	col := StartCollector(t, bin, fwd.URL)
	stopFile := filepath.Join(t.TempDir(), "stop")
	a := startAnchor(t, []string{"TRUE=" + paths["true"], "SLEEP=" + paths["sleep"], "STOP=" + stopFile}, paths["sh"], script)
	t.Cleanup(func() { _ = os.WriteFile(stopFile, nil, 0o644) }) // a failed test stops the loop too
	o := exporterOptions(col, protocol, "")
	o.LogQueueSize = logQueue
	o.MetricInterval = time.Second
	l := startLive(t, a.PID, o)
	a.Go()

	if !fwd.WaitFor(10*time.Second, func(logs, spans int) bool { return logs >= 20 && spans >= 4 }) {
		t.Fatalf("nothing forwarded before the outage\n%s", col.Output())
	}
	col.Stop()
	down := time.Now()
	time.Sleep(outage)
	inOutage := l.x.Stats()
	col.Start()
	up := time.Now()
	deadline := up.Add(30 * time.Second)
	for s := l.x.Stats(); s.LogTotals().Pending+s.Spans.Pending > 0; s = l.x.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("queues did not drain after the restart: logs %+v spans %+v", s.LogTotals(), s.Spans)
		}
		time.Sleep(20 * time.Millisecond)
	}
	drained := time.Since(up)
	time.Sleep(2 * time.Second) // the workload goes on after the restart
	if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	procs := parseReport(t, a.Wait(30*time.Second))
	var root int64
	for _, p := range procs {
		if p.Role == "loop" {
			root = p.PID
		}
	}
	last := semconv.KindReap
	if !l.caps.Has(last) {
		last = semconv.KindExit
	}
	if !l.tee.waitEvent(10*time.Second, func(e *semconv.Event) bool { return e.Kind == last && int64(e.Process.PID) == root }) {
		t.Errorf("the pipeline never handed over the loop's %s; %s", last, l.diag())
	}
	l.stop()

	w := l.tee.workload(l.caps.Boot)
	st := l.x.Stats()
	logs, spans := st.LogTotals(), st.Spans
	gotLogs, gotSpans := fwd.Counts()
	var createdInOutage int
	for _, e := range w.Events {
		if e.Kind == semconv.KindFork && e.Time.After(down) && e.Time.Before(up) {
			createdInOutage++
		}
	}
	t.Logf("%s (log queue %d): %d processes, %d created during the %v outage; the queues drained %v after the restart",
		protocol, o.LogQueueSize, len(procs), createdInOutage, outage, drained.Round(time.Millisecond))
	t.Logf("at the end of the outage (totals so far): logs %d accepted, %d dropped (queue full); spans %d accepted, %d dropped",
		inOutage.LogTotals().Handed, inOutage.LogTotals().DroppedQueueFull, inOutage.Spans.Handed, inOutage.Spans.DroppedQueueFull)
	t.Logf("log records: %d handed by the pipeline = %d exported + %d dropped (queue full %d, export failed %d, closed %d); %d forwarded by the Collector",
		len(w.Events), logs.Exported, logs.Dropped(), logs.DroppedQueueFull, logs.DroppedExport, logs.DroppedClosed, gotLogs)
	t.Logf("spans: %d handed = %d exported + %d dropped; %d forwarded", len(w.Lifetimes), spans.Exported, spans.Dropped(), gotSpans)

	if least := int(outage.Seconds() * 2); createdInOutage < least {
		t.Errorf("only %d processes created during the outage, want at least %d: the workload stalled", createdInOutage, least)
	}
	if bs := l.agent.Stats(); bs.TotalLost() != 0 {
		t.Errorf("the backend lost %d events", bs.TotalLost())
	}
	// Every record and span the pipeline handed over is exported or
	// counted as dropped, and what was exported is what arrived.
	for _, c := range []struct {
		what        string
		counts      export.Counts
		handed, got int
	}{{"logs", logs, len(w.Events), gotLogs}, {"spans", spans, len(w.Lifetimes), gotSpans}} {
		if c.counts.Pending != 0 || c.counts.DroppedExport != 0 || c.counts.DroppedClosed != 0 {
			t.Errorf("%s: pending %d, export failures %d, after close %d: want none, the outage is shorter than RetryFor",
				c.what, c.counts.Pending, c.counts.DroppedExport, c.counts.DroppedClosed)
		}
		if c.counts.Exported+c.counts.Dropped() != uint64(c.handed) || c.counts.Handed+c.counts.DroppedQueueFull+c.counts.DroppedClosed != uint64(c.handed) {
			t.Errorf("%s: %d handed by the pipeline, exporter counts %+v", c.what, c.handed, c.counts)
		}
		if uint64(c.got) != c.counts.Exported {
			t.Errorf("%s: %d forwarded, %d counted exported", c.what, c.got, c.counts.Exported)
		}
	}
	checkSpans(t, w, fwd.Spans()) // the span queue is never small here
	if logQueue == 0 {
		if logs.Dropped() != 0 || spans.Dropped() != 0 {
			t.Errorf("dropped %d records and %d spans with the default queues", logs.Dropped(), spans.Dropped())
		}
		checkLogs(t, w, fwd.Logs())
		checkOutageTruth(t, procs, fwd)
	} else {
		if logs.DroppedQueueFull == 0 {
			t.Errorf("a %d-record log queue dropped nothing in a %v outage", logQueue, outage)
		}
		checkSubset(t, w, fwd.Logs())
	}
	// procotel went on after the outage: records made after the
	// restart arrived.
	var after int
	for _, lg := range fwd.Logs() {
		if lg.Record.TimeUnixNano > uint64(up.UnixNano()) {
			after++
		}
	}
	if after == 0 {
		t.Error("no record made after the restart arrived")
	}
	checkSelfMetrics(t, l, fwd)
}

// checkOutageTruth checks that every process the loop reported has its
// fork, exec, exit and reap records and its span at the Collector.
func checkOutageTruth(t *testing.T, procs map[int64]*proc, fwd *Forwarded) {
	t.Helper()
	names := map[int64][]string{}
	for _, lg := range fwd.Logs() {
		pid, _ := attrInt(lg.Record.Attributes, "process.pid")
		names[pid] = append(names[pid], strings.TrimPrefix(lg.Record.EventName, "process."))
	}
	spans := map[int64]int{}
	for _, s := range fwd.Spans() {
		pid, _ := attrInt(s.Span.Attributes, "process.pid")
		spans[pid]++
	}
	for pid, p := range procs {
		want := "fork exec exit reap"
		if got := strings.Join(names[pid], " "); got != want {
			t.Errorf("%s pid %d: records %q, want %q", p.Role, pid, got, want)
		}
		if spans[pid] != 1 {
			t.Errorf("%s pid %d: %d spans, want 1", p.Role, pid, spans[pid])
		}
		if p.Role != "loop" && p.Status != 0 {
			t.Errorf("%s pid %d: status %d", p.Role, pid, p.Status)
		}
	}
	if len(names) != len(procs) || len(spans) != len(procs) {
		t.Errorf("records for %d processes and spans for %d, the workload made %d", len(names), len(spans), len(procs))
	}
}

// checkSubset checks that every forwarded record is one the pipeline
// handed over, unchanged, and none arrived twice.
func checkSubset(t *testing.T, w Workload, logs []Log) {
	t.Helper()
	handed := map[string]bool{}
	for i := range w.Events {
		e := &w.Events[i]
		handed[fmt.Sprintf("%s/%d/%d", semconv.EventName(e.Kind), e.Process.PID, e.Time.UnixNano())] = true
	}
	seen := map[string]bool{}
	for _, lg := range logs {
		pid, _ := attrInt(lg.Record.Attributes, "process.pid")
		k := fmt.Sprintf("%s/%d/%d", lg.Record.EventName, pid, lg.Record.TimeUnixNano)
		if !handed[k] || seen[k] {
			t.Errorf("record %s: handed %v, seen before %v", k, handed[k], seen[k])
		}
		seen[k] = true
	}
}
