//go:build linux

package e2e

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logpb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/semconv"
)

// treeScript is the live workload: a three-level job whose processes
// report their own pids, and whose reapers report each exit status.
//
//	root (sh, process-group leader, exit 0)
//	├── mid1 (sh, exit 0) ── leaf1 (sh → false, exit 1)
//	├── mid2 (sh, exit 7) ── leaf2 (sh → true, exit 0)
//	├── execfail (sh, exec of a missing file: ENOENT)
//	└── victim (sh → sleep, killed by root with SIGTERM)
//
// Programs are named by absolute paths (SH, TRUE, FALSE, SLEEP) so the
// shell does not try each PATH entry: every miss would be an exec
// failure of its own.
const treeScript = `# procotel e2e live workload; $1 is the role.
role=$1
echo "proc $role $$ $PPID"
case $role in
root)
	"$SH" "$0" mid1 & p1=$!
	"$SH" "$0" mid2 & p2=$!
	wait $p1; echo "exit mid1 $p1 $?"
	wait $p2; echo "exit mid2 $p2 $?"
	"$SH" "$0" execfail & p=$!
	wait $p; echo "exit execfail $p $?"
	"$SH" "$0" victim & p=$!
	until read -r c < /proc/$p/comm && [ "$c" = sleep ]; do :; done
	kill -TERM $p
	wait $p; echo "exit victim $p $?"
	exit 0 ;;
mid1)
	"$SH" "$0" leaf1 & p=$!
	wait $p; echo "exit leaf1 $p $?"
	exit 0 ;;
mid2)
	"$SH" "$0" leaf2 & p=$!
	wait $p; echo "exit leaf2 $p $?"
	exit 7 ;;
leaf1) exec "$FALSE" ;;
leaf2) exec "$TRUE" ;;
execfail) exec /nonexistent/procotel-e2e-missing ;;
victim) exec "$SLEEP" 30 ;;
esac
`

const missingFile = "/nonexistent/procotel-e2e-missing"

// treeRole is what the test chose for one role of treeScript.
type treeRole struct {
	parent string
	execs  []string // program names (keys of lookPaths) executed, in order
	failed []string // paths whose exec failed
	status int      // $? the reaper sees; -1: whatever the shell chose
}

var treeRoles = map[string]treeRole{
	"root":     {"", []string{"sh"}, nil, 0},
	"mid1":     {"root", []string{"sh"}, nil, 0},
	"mid2":     {"root", []string{"sh"}, nil, 7},
	"leaf1":    {"mid1", []string{"sh", "false"}, nil, 1},
	"leaf2":    {"mid2", []string{"sh", "true"}, nil, 0},
	"execfail": {"root", []string{"sh"}, []string{missingFile}, -1},
	"victim":   {"root", []string{"sh", "sleep"}, nil, 128 + 15},
}

// TestLiveExport runs treeScript under the real eBPF backend, the
// pipeline and the exporter, through a real Collector over each OTLP
// protocol, and checks what the Collector forwarded against what the
// workload reported and what the pipeline handed over.
func TestLiveExport(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	bin := BuildCollector(t)
	paths := lookPaths(t, "sh", "true", "false", "sleep")
	script := writeScript(t, treeScript)
	env := []string{"SH=" + paths["sh"], "TRUE=" + paths["true"], "FALSE=" + paths["false"], "SLEEP=" + paths["sleep"]}
	for _, protocol := range protocols {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) {
			t.Parallel()
			fwd := StartForwarded(t)
			col := StartCollector(t, bin, fwd.URL)
			a := startAnchor(t, env, paths["sh"], script, "root")
			o := exporterOptions(col, protocol, "")
			o.MetricInterval = 250 * time.Millisecond
			l := startLive(t, a.PID, o)
			a.Go()
			procs := parseReport(t, a.Wait(30*time.Second))
			byRole := map[string]*proc{}
			for _, p := range procs {
				byRole[p.Role] = p
			}
			for role := range treeRoles {
				if byRole[role] == nil {
					t.Fatalf("workload did not report %s: %v", role, procs)
				}
			}
			root := byRole["root"]
			// The root's reap (by the anchor) is the job's last event.
			last := semconv.KindReap
			if !l.caps.Has(last) {
				last = semconv.KindExit
			}
			if !l.tee.waitEvent(10*time.Second, func(e *semconv.Event) bool { return e.Kind == last && int64(e.Process.PID) == root.PID }) {
				rp, ok := l.pipe.Lookup(int32(root.PID))
				t.Errorf("the pipeline never handed over the root's %s; %s; root known %v: %+v", last, l.diag(), ok, rp)
			}
			l.stop()

			w := l.tee.workload(l.caps.Boot)
			st := l.x.Stats()
			lt := st.LogTotals()
			gotLogs, gotSpans := fwd.Counts()
			t.Logf("%s: log records: %d handed by the pipeline, %d exported, %d dropped, %d forwarded by the Collector; spans: %d handed, %d exported, %d dropped, %d forwarded",
				protocol, len(w.Events), lt.Exported, lt.Dropped(), gotLogs, len(w.Lifetimes), st.Spans.Exported, st.Spans.Dropped(), gotSpans)
			if lt.Exported != uint64(len(w.Events)) || lt.Dropped() != 0 || lt.Pending != 0 ||
				st.Spans.Exported != uint64(len(w.Lifetimes)) || st.Spans.Dropped() != 0 || st.Spans.Pending != 0 || st.Unmapped != 0 {
				t.Errorf("exporter stats: logs %+v spans %+v unmapped %d; want everything handed over exported", lt, st.Spans, st.Unmapped)
			}
			if bs := l.agent.Stats(); bs.TotalLost() != 0 || bs.DecodeErrors != 0 {
				t.Errorf("backend lost %d events, %d undecodable", bs.TotalLost(), bs.DecodeErrors)
			}
			// What the pipeline handed over arrived unchanged…
			checkLogs(t, w, fwd.Logs())
			checkSpans(t, w, fwd.Spans())
			// …and it is what the workload did.
			checkLiveTree(t, l, paths, a.PID, byRole, fwd)
			checkSelfMetrics(t, l, fwd)
		})
	}
}

// attr returns the attribute key of kvs, or nil.
func attr(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func attrInt(kvs []*commonpb.KeyValue, key string) (int64, bool) {
	v := attr(kvs, key)
	if v == nil {
		return 0, false
	}
	i, ok := v.GetValue().(*commonpb.AnyValue_IntValue)
	return i.IntValue, ok
}

func attrStr(kvs []*commonpb.KeyValue, key string) string { return attr(kvs, key).GetStringValue() }

// checkLiveTree checks the forwarded records and spans against the
// workload's report and treeRoles.
func checkLiveTree(t *testing.T, l *live, paths map[string]string, anchorPID int, byRole map[string]*proc, fwd *Forwarded) {
	t.Helper()
	logsByPID := map[int64][]*logpb.LogRecord{}
	for _, lg := range fwd.Logs() {
		pid, _ := attrInt(lg.Record.Attributes, "process.pid")
		logsByPID[pid] = append(logsByPID[pid], lg.Record)
	}
	spanByPID := map[int64]*tracepb.Span{}
	for _, s := range fwd.Spans() {
		pid, _ := attrInt(s.Span.Attributes, "process.pid")
		if spanByPID[pid] != nil {
			t.Errorf("two spans for pid %d", pid)
		}
		spanByPID[pid] = s.Span
	}
	truthPIDs := map[int64]string{}
	for role, p := range byRole {
		truthPIDs[p.PID] = role
	}
	for pid := range logsByPID {
		if _, ok := truthPIDs[pid]; !ok {
			t.Errorf("records for pid %d, which the workload did not create: %v", pid, eventNames(logsByPID[pid]))
		}
	}
	for pid := range spanByPID {
		if _, ok := truthPIDs[pid]; !ok {
			t.Errorf("span for pid %d, which the workload did not create", pid)
		}
	}

	root := byRole["root"]
	rootSpan := spanByPID[root.PID]
	if rootSpan == nil {
		t.Fatalf("no span for the root sh (pid %d)", root.PID)
	}
	traceID := hex.EncodeToString(rootSpan.TraceId)
	hasSignal := l.caps.Has(semconv.KindSignal)
	var signals, noReaper int
	for role, want := range treeRoles {
		p := byRole[role]
		what := fmt.Sprintf("%s (pid %d)", role, p.PID)
		recs := logsByPID[p.PID]
		named := func(name string) []*logpb.LogRecord {
			var out []*logpb.LogRecord
			for _, r := range recs {
				if r.EventName == name {
					out = append(out, r)
				}
			}
			return out
		}
		// Ground truth: the parent it reported, and the status its
		// reaper saw.
		wantPPID := int64(anchorPID)
		if want.parent != "" {
			wantPPID = byRole[want.parent].PID
		}
		if p.PPID != wantPPID {
			t.Errorf("%s: the workload reports parent %d, want %d", what, p.PPID, wantPPID)
		}
		if want.status >= 0 && p.Status != want.status {
			t.Errorf("%s: the workload reports status %d, want %d", what, p.Status, want.status)
		}

		forks := named("process.fork")
		if len(forks) != 1 {
			t.Fatalf("%s: %d fork records, want 1: %v", what, len(forks), eventNames(recs))
		}
		if ppid, _ := attrInt(forks[0].Attributes, "process.parent_pid"); ppid != p.PPID {
			t.Errorf("%s: fork record parent %d, want %d", what, ppid, p.PPID)
		}
		var execs []string
		for _, r := range named("process.exec") {
			execs = append(execs, attrStr(r.Attributes, "procotel.exec.filename"))
		}
		var wantExecs []string
		for _, n := range want.execs {
			wantExecs = append(wantExecs, paths[n])
		}
		if strings.Join(execs, " ") != strings.Join(wantExecs, " ") {
			t.Errorf("%s: exec records %q, want %q", what, execs, wantExecs)
		}
		var failed []string
		for _, r := range named("process.exec_failed") {
			t.Logf("a forwarded record: %s", describeRecord(r))
			failed = append(failed, attrStr(r.Attributes, "procotel.exec.filename"))
			if e := attrStr(r.Attributes, "procotel.exec.errno_name"); e != "ENOENT" {
				t.Errorf("%s: exec_failed errno %q, want ENOENT", what, e)
			}
			if n, _ := attrInt(r.Attributes, "procotel.exec.errno"); n != 2 {
				t.Errorf("%s: exec_failed errno %d, want 2", what, n)
			}
			if e := attrStr(r.Attributes, "error.type"); e != "ENOENT" {
				t.Errorf("%s: exec_failed error.type %q", what, e)
			}
		}
		if strings.Join(failed, " ") != strings.Join(want.failed, " ") {
			t.Errorf("%s: exec_failed records %q, want %q", what, failed, want.failed)
		}
		exits := named("process.exit")
		if len(exits) != 1 {
			t.Fatalf("%s: %d exit records, want 1", what, len(exits))
		}
		exit := exits[0]
		if p.Status > 128 {
			sig, _ := attrInt(exit.Attributes, "procotel.exit.signal")
			if sig != int64(p.Status-128) || attrStr(exit.Attributes, "procotel.exit.signal_name") != "SIGTERM" || attr(exit.Attributes, "process.exit.code") != nil {
				t.Errorf("%s: exit record signal %d %q, want %d SIGTERM", what, sig, attrStr(exit.Attributes, "procotel.exit.signal_name"), p.Status-128)
			}
		} else if code, ok := attrInt(exit.Attributes, "process.exit.code"); !ok || code != int64(p.Status) {
			t.Errorf("%s: exit record code %d (present %v), want %d", what, code, ok, p.Status)
		}
		if l.caps.Has(semconv.KindReap) {
			reaps := named("process.reap")
			if len(reaps) != 1 {
				t.Errorf("%s: %d reap records, want 1", what, len(reaps))
			} else if by, ok := attrInt(reaps[0].Attributes, "procotel.reap.reaper_pid"); !ok {
				noReaper++ // the backend did not say who reaped it
			} else if by != p.PPID {
				t.Errorf("%s: reaped by %d, want %d", what, by, p.PPID)
			}
		}
		for _, r := range named("process.signal") {
			signals++
			n, _ := attrInt(r.Attributes, "procotel.signal.number")
			from, _ := attrInt(r.Attributes, "procotel.signal.sender.pid")
			if role != "victim" || n != 15 || from != root.PID {
				t.Errorf("%s: unexpected signal record %d from %d", what, n, from)
			}
		}

		s := spanByPID[p.PID]
		if s == nil {
			t.Errorf("%s: no span", what)
			continue
		}
		// The span is named after the final executable, links resolved.
		exe, err := filepath.EvalSymlinks(paths[want.execs[len(want.execs)-1]])
		if err != nil {
			t.Fatal(err)
		}
		wantName := baseName(exe)
		if s.Name != wantName {
			t.Errorf("%s: span name %q, want %q", what, s.Name, wantName)
		}
		if hex.EncodeToString(s.TraceId) != traceID {
			t.Errorf("%s: span in trace %x, the job's trace is %s", what, s.TraceId, traceID)
		}
		if want.parent == "" {
			if len(s.ParentSpanId) != 0 {
				t.Errorf("%s: the job's root has parent %x", what, s.ParentSpanId)
			}
		} else if ps := spanByPID[byRole[want.parent].PID]; ps == nil || string(s.ParentSpanId) != string(ps.SpanId) {
			t.Errorf("%s: parent span %x, want %s's span", what, s.ParentSpanId, want.parent)
		}
		if s.StartTimeUnixNano != forks[0].TimeUnixNano || s.EndTimeUnixNano != exit.TimeUnixNano {
			t.Errorf("%s: span %d..%d, want fork %d .. exit %d", what, s.StartTimeUnixNano, s.EndTimeUnixNano, forks[0].TimeUnixNano, exit.TimeUnixNano)
		}
		for _, r := range recs {
			if r.EventName == "process.reap" {
				if r.TimeUnixNano < s.EndTimeUnixNano {
					t.Errorf("%s: reaped at %d, before its exit %d", what, r.TimeUnixNano, s.EndTimeUnixNano)
				}
			} else if r.TimeUnixNano < s.StartTimeUnixNano || r.TimeUnixNano > s.EndTimeUnixNano {
				t.Errorf("%s: %s at %d, outside its span %d..%d", what, r.EventName, r.TimeUnixNano, s.StartTimeUnixNano, s.EndTimeUnixNano)
			}
			if string(r.SpanId) != string(s.SpanId) {
				t.Errorf("%s: %s record carries span %x, want %x", what, r.EventName, r.SpanId, s.SpanId)
			}
			// One process, one creation time, on its records and its span.
			if rc, sc := attrStr(r.Attributes, "process.creation.time"), attrStr(s.Attributes, "process.creation.time"); rc == "" || rc != sc {
				t.Errorf("%s: %s record says process.creation.time %q, its span %q", what, r.EventName, rc, sc)
			}
			// A process joins its own trace at its first exec: the
			// root's fork happened in its creator's trace.
			if role == "root" && r.EventName == "process.fork" {
				continue
			}
			if string(r.TraceId) != string(s.TraceId) {
				t.Errorf("%s: %s record in trace %x, its span in %x", what, r.EventName, r.TraceId, s.TraceId)
			}
		}
		wantErr := p.Status != 0
		if gotErr := s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR; gotErr != wantErr {
			t.Errorf("%s: span status %v %q, want error=%v", what, s.Status.GetCode(), s.Status.GetMessage(), wantErr)
		}
		wantMsg := ""
		switch {
		case p.Status > 128:
			wantMsg = "killed by SIGTERM"
		case p.Status != 0:
			wantMsg = fmt.Sprintf("exit code %d", p.Status)
		}
		if s.Status.GetMessage() != wantMsg {
			t.Errorf("%s: span status message %q, want %q", what, s.Status.GetMessage(), wantMsg)
		}
	}
	if hasSignal && signals != 1 {
		t.Errorf("%d signal records, want 1 (SIGTERM to the victim)", signals)
	}
	if noReaper > 0 {
		t.Logf("GAP: %d of %d reap records do not say who reaped the process (procotel.reap.reaper_pid): the backend reports no reaper", noReaper, len(treeRoles))
	}
	// The root links to its creator, the anchor, in the anchor's trace.
	if len(rootSpan.Links) != 1 {
		t.Errorf("root span links %v, want one to the anchor", rootSpan.Links)
	}
	t.Logf("the job's trace %s:\n%s", traceID, drawTree(fwd.Spans()))
}

// describeRecord renders a log record on a few lines, for the log.
func describeRecord(r *logpb.LogRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "EventName %s, Timestamp %s, Severity %s (%d), Body %q, TraceId %x, SpanId %x\n",
		r.EventName, time.Unix(0, int64(r.TimeUnixNano)).UTC().Format(time.RFC3339Nano), r.SeverityText, r.SeverityNumber,
		r.Body.GetStringValue(), r.TraceId, r.SpanId)
	for _, kv := range r.Attributes {
		fmt.Fprintf(&b, "    %s = %s\n", kv.Key, strings.TrimPrefix(anyString(kv.Value), "s:"))
	}
	return b.String()
}

func eventNames(rs []*logpb.LogRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.EventName)
	}
	return out
}

// drawTree renders spans as an indented tree: name, pid, duration,
// status.
func drawTree(spans []Span) string {
	children := map[string][]*tracepb.Span{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[string(s.Span.SpanId)] = true
	}
	var roots []*tracepb.Span
	for _, s := range spans {
		if len(s.Span.ParentSpanId) == 0 || !ids[string(s.Span.ParentSpanId)] {
			roots = append(roots, s.Span)
			continue
		}
		children[string(s.Span.ParentSpanId)] = append(children[string(s.Span.ParentSpanId)], s.Span)
	}
	byStart := func(ss []*tracepb.Span) {
		sort.Slice(ss, func(i, j int) bool { return ss[i].StartTimeUnixNano < ss[j].StartTimeUnixNano })
	}
	var b strings.Builder
	var walk func(s *tracepb.Span, prefix string, last, top bool)
	walk = func(s *tracepb.Span, prefix string, last, top bool) {
		pid, _ := attrInt(s.Attributes, "process.pid")
		d := time.Duration(s.EndTimeUnixNano - s.StartTimeUnixNano).Round(10 * time.Microsecond)
		status := "ok"
		if s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			status = "ERROR: " + s.Status.GetMessage()
		}
		branch, next := "", ""
		if !top {
			branch, next = "├── ", "│   "
			if last {
				branch, next = "└── ", "    "
			}
		}
		fmt.Fprintf(&b, "%s%s%s [pid %d] %v %s\n", prefix, branch, s.Name, pid, d, status)
		kids := children[string(s.SpanId)]
		byStart(kids)
		for i, k := range kids {
			walk(k, prefix+next, i == len(kids)-1, false)
		}
	}
	byStart(roots)
	for _, r := range roots {
		walk(r, "", true, true)
	}
	return b.String()
}

// checkSelfMetrics checks that the self-metrics reached the Collector
// and that their last values are the final counters.
func checkSelfMetrics(t *testing.T, l *live, fwd *Forwarded) {
	t.Helper()
	want := map[string]int64{}
	s := l.selfStats()
	for _, k := range []semconv.Kind{semconv.KindFork, semconv.KindExec, semconv.KindExit} {
		want[fmt.Sprintf("%s{kind=%s}", export.MetricEventsReceived, k)] = int64(s.Received[k])
	}
	logs := s.Export.LogTotals()
	want[export.MetricEventsExported+"{signal=logs}"] = int64(logs.Exported)
	want[export.MetricEventsExported+"{signal=spans}"] = int64(s.Export.Spans.Exported)
	want[export.MetricEventsDropped+"{reason=queue_full,signal=logs}"] = int64(logs.DroppedQueueFull)
	var filtered uint64
	for _, n := range s.Filtered {
		filtered += n
	}
	want[export.MetricEventsDropped+"{reason=filtered,signal=logs}"] = int64(filtered)
	want[export.MetricTableSize+"{}"] = int64(s.TableSize)
	want[export.MetricEventsUndecodable+"{}"] = int64(s.DecodeErrors)
	want[export.MetricExecsThrottled+"{}"] = int64(s.Throttled)
	want[export.MetricReapsInferred+"{}"] = int64(s.ReapsInferred)
	want[export.MetricReapsLate+"{}"] = int64(s.LateReaps)
	for _, reason := range []string{"invalid_event", "lost_exit", "evicted_live"} {
		want[export.MetricPipelineDropped+"{reason="+reason+"}"] = int64(s.PipelineDropped[reason])
	}

	last := map[string]int64{}
	var resource map[string]*commonpb.AnyValue
	for _, m := range fwd.Metrics() {
		resource = m.Resource
		var dps []interface {
			GetAsInt() int64
			GetAttributes() []*commonpb.KeyValue
		}
		switch {
		case m.Metric.GetSum() != nil:
			if !m.Metric.GetSum().IsMonotonic {
				t.Errorf("%s is not monotonic", m.Metric.Name)
			}
			for _, dp := range m.Metric.GetSum().DataPoints {
				dps = append(dps, dp)
			}
		case m.Metric.GetGauge() != nil:
			for _, dp := range m.Metric.GetGauge().DataPoints {
				dps = append(dps, dp)
			}
		}
		for _, dp := range dps {
			var kv []string
			for _, a := range dp.GetAttributes() {
				kv = append(kv, a.Key+"="+a.Value.GetStringValue())
			}
			sort.Strings(kv)
			last[m.Metric.Name+"{"+strings.Join(kv, ",")+"}"] = dp.GetAsInt()
		}
	}
	if len(last) == 0 {
		t.Fatal("the Collector forwarded no metrics")
	}
	checkResource(t, "metrics", resource)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var shown []string
	for _, k := range keys {
		got, ok := last[k]
		if !ok || got != want[k] {
			t.Errorf("metric %s = %d (present %v), want %d", k, got, ok, want[k])
		}
		shown = append(shown, fmt.Sprintf("%s=%d", k, got))
	}
	t.Logf("metrics at the Collector (last values): %s", strings.Join(shown, " "))
}
