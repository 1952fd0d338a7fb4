package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc/codes"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/semconv"
)

// These tests run procotel on a recording, configured for OTLP only by
// the standard OTEL_* variables, against otlpServer, and check what the
// server got against what the recording must produce, and that the exit
// summary accounts for every record and span.

// workload is a recording's events, in phases written with a pause
// between them, and what they must become.
type workload struct {
	phases [][]semconv.Event
	// records is the log records the recording makes: one per fork,
	// exec, exec_failed, exit, reap and signal event.
	records uint64
	// spans is one per process lifetime: every child exits and is reaped
	// (the shell that starts them lives on and, without
	// --flush-incomplete, has no span).
	spans uint64
	// exe and argv are each child's executable and command line after
	// its exec.
	exe  map[int32]string
	argv map[int32][]string
}

var workloadClock = semconv.Clock{BootWall: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}

// newWorkload is an existing shell (pid 100) that starts, in phase i,
// n[i] children. Child k forks, fails an exec first if k%5 == 0, execs
// /bin/true k, and, if k%7 == 0, is sent SIGTERM by the shell and killed
// by it, else exits k%4; the shell reaps each.
func newWorkload(n ...int) *workload {
	w := &workload{exe: map[int32]string{}, argv: map[int32][]string{}}
	sh := semconv.Process{PID: 100, TID: 100, PPID: 1, Start: 1e9, PGID: 100, SID: 100, Comm: "sh", Exe: "/bin/sh",
		Argv: []string{"sh"}, Cwd: "/"}
	at := uint64(2e9)
	pid := int32(1000)
	for i, count := range n {
		var evs []semconv.Event
		add := func(k semconv.Kind, p semconv.Process, fill func(*semconv.Event)) {
			at += 1e6
			e := semconv.Event{Kind: k, Time: workloadClock.Wall(at), BootNS: at, OS: semconv.OSLinux, Process: p}
			if fill != nil {
				fill(&e)
			}
			evs = append(evs, e)
			if k != semconv.KindExisting {
				w.records++
			}
		}
		if i == 0 {
			add(semconv.KindExisting, sh, nil)
		}
		for range count {
			pid++
			k := pid
			child := sh
			child.PID, child.TID, child.PPID, child.Start, child.ParentStart = k, k, 100, at+1e6, sh.Start
			add(semconv.KindFork, child, nil)
			if k%5 == 0 {
				add(semconv.KindExecFailed, child, func(e *semconv.Event) {
					e.Exec = semconv.ExecInfo{Filename: "/no/such", Argv: []string{"/no/such"}, Errno: 2}
				})
			}
			child.Comm, child.Exe, child.Argv = "true", "/bin/true", []string{"true", strconv.Itoa(int(k))}
			w.exe[k], w.argv[k] = child.Exe, child.Argv
			add(semconv.KindExec, child, func(e *semconv.Event) { e.Exec.Filename, e.Exec.Argv = child.Exe, child.Argv })
			if k%7 == 0 {
				add(semconv.KindSignal, child, func(e *semconv.Event) {
					e.Signal = semconv.SignalInfo{Signo: 15, SenderPID: 100, SenderComm: "sh", TargetTID: k}
				})
				add(semconv.KindExit, child, func(e *semconv.Event) { e.Exit.Signal = 15 })
			} else {
				add(semconv.KindExit, child, func(e *semconv.Event) { e.Exit.Code = int32(k % 4) })
			}
			add(semconv.KindReap, child, func(e *semconv.Event) { e.Reap.ReaperPID = 100 })
			w.spans++
		}
		w.phases = append(w.phases, evs)
	}
	return w
}

// write writes the recording to f, flushing each phase and pausing
// between phases.
func (w *workload) write(f *os.File, pause time.Duration) error {
	rw, err := replay.NewWriter(f, "ebpf", backends.Capabilities{OS: semconv.OSLinux, Boot: "otlpenv-boot", Clock: workloadClock})
	if err != nil {
		return err
	}
	for i, phase := range w.phases {
		if i > 0 {
			time.Sleep(pause)
		}
		for j := range phase {
			if err := rw.Write(&phase[j]); err != nil {
				return err
			}
		}
		if err := rw.Flush(); err != nil {
			return err
		}
	}
	return rw.Close(backends.Stats{})
}

// file writes the recording to a file and returns its path.
func (w *workload) file(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "workload.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(f, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// fifo plays the recording through a named pipe, a phase every pause,
// so that procotel runs for as long as the phases take (a replay of a
// file ends at once). done receives the time the last phase was written.
func (w *workload) fifo(t *testing.T, pause time.Duration) (path string, done <-chan time.Time) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "workload.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	ch := make(chan time.Time, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0) // blocks until procotel opens it
		if err != nil {
			t.Errorf("open fifo: %v", err)
			ch <- time.Now()
			return
		}
		if err := w.write(f, pause); err != nil {
			t.Errorf("write fifo: %v", err)
		}
		f.Close()
		ch <- time.Now()
	}()
	t.Cleanup(func() {
		// Unblock the writer if procotel never opened the pipe.
		if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
	})
	return path, ch
}

// runWithEnv runs procotel on the recording at path with the OTEL_*
// variables env and no other OTLP configuration (every OTEL_* variable
// of the test's environment is cleared first). It returns the exit
// code, stderr, and the summary's two signals.
func runWithEnv(t *testing.T, path string, env map[string]string) (int, string, signalSummary, signalSummary) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OTEL_") {
			t.Setenv(name, "")
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code := Main([]string{"--backend", "replay:" + path}, &out, &errb)
	stderr := errb.String()
	if out.Len() != 0 {
		t.Errorf("exporting over OTLP, procotel printed on stdout:\n%s", out.String())
	}
	logs, spans := parseSummary(t, stderr)
	return code, stderr, logs, spans
}

// checkTotals checks that the summary accounts for every record and span
// the workload makes.
func checkTotals(t *testing.T, w *workload, logs, spans signalSummary) {
	t.Helper()
	if logs.handed != w.records {
		t.Errorf("summary: %d log records handed to the exporter, the recording makes %d", logs.handed, w.records)
	}
	if spans.handed != w.spans {
		t.Errorf("summary: %d spans handed to the exporter, the recording makes %d", spans.handed, w.spans)
	}
}

// run runs procotel (runWithEnv) against srv and checks what every run
// must show: exit 0, a summary that accounts for the workload, and
// requests that decode.
func (w *workload) run(t *testing.T, srv *otlpServer, path string, env map[string]string) (string, signalSummary, signalSummary) {
	t.Helper()
	code, stderr, logs, spans := runWithEnv(t, path, env)
	if code != exitOK {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
	checkTotals(t, w, logs, spans)
	checkDecoded(t, srv)
	return stderr, logs, spans
}

// signalSum is one signal's requests' name and its summary.
type signalSum struct {
	signal string
	sum    signalSummary
}

func bySignal(logs, spans signalSummary) []signalSum {
	return []signalSum{{sigLogs, logs}, {sigTraces, spans}}
}

// endpointEnv is the environment that points every signal at s.
func endpointEnv(protocol string, s *otlpServer) map[string]string {
	if protocol == "grpc" {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": s.addr, "OTEL_EXPORTER_OTLP_INSECURE": "true"}
	}
	return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": s.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
}

func startServer(t *testing.T, protocol string, script map[string][]answer) *otlpServer {
	if protocol == "grpc" {
		return startGRPCServer(t, script)
	}
	return startHTTPServer(t, script)
}

// A permanent error (HTTP 400, gRPC UNAUTHENTICATED) drops its batch at
// once, never retried, and the next batch goes; a retryable one (HTTP
// 503 with Retry-After: 1, gRPC UNAVAILABLE) is retried, the same
// request, after the wait, and then exported.
func TestEnvRetryClassification(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol+"/permanent", func(t *testing.T) {
			refuse := answer{code: codes.Unauthenticated}
			if protocol != "grpc" {
				refuse = answer{httpStatus: http.StatusBadRequest}
			}
			srv := startServer(t, protocol, map[string][]answer{sigLogs: {refuse}, sigTraces: {refuse}})
			// Two phases 1.5 s apart: the exporter's 1 s interval sends
			// the first before the second arrives, so each signal has a
			// batch after the refused one.
			w := newWorkload(6, 6)
			path, _ := w.fifo(t, 1500*time.Millisecond)
			stderr, logs, spans := w.run(t, srv, path, endpointEnv(protocol, srv))
			for _, c := range bySignal(logs, spans) {
				reqs := srv.requests(c.signal)
				if len(reqs) < 2 || reqs[0].answered.ok() {
					t.Fatalf("%s: %d requests; want the refused one and at least one more", c.signal, len(reqs))
				}
				for i := 1; i < len(reqs); i++ {
					if bytes.Equal(reqs[i].body, reqs[0].body) {
						t.Errorf("%s: request %d repeats the refused batch", c.signal, i)
					}
				}
				refused := uint64(reqs[0].items)
				if refused == 0 || refused == c.sum.handed {
					t.Errorf("%s: the refused batch held %d of %d; want the first phase only", c.signal, refused, c.sum.handed)
				}
				if c.sum.reasons["permanent_error"] != refused || c.sum.dropped != refused || c.sum.exported != itemsOf(reqs, true) {
					t.Errorf("%s: summary %+v; the server refused %d and accepted %d", c.signal, c.sum, refused, itemsOf(reqs, true))
				}
				// The next batch waits for the second phase only (1.5 s),
				// not for a retry backoff.
				if gap := reqs[1].at.Sub(reqs[0].at); gap > 3*time.Second {
					t.Errorf("%s: the batch after the refused one came %s later", c.signal, gap)
				}
			}
			if !strings.Contains(stderr, "a permanent error: dropping the batch, not retrying it") {
				t.Errorf("no report of the permanent error:\n%s", stderr)
			}
		})
		t.Run(protocol+"/retryable", func(t *testing.T) {
			fail := answer{code: codes.Unavailable}
			if protocol != "grpc" {
				fail = answer{httpStatus: http.StatusServiceUnavailable, retryAfter: "1"}
			}
			srv := startServer(t, protocol, map[string][]answer{sigLogs: {fail}, sigTraces: {fail}})
			w := newWorkload(10)
			stderr, logs, spans := w.run(t, srv, w.file(t), endpointEnv(protocol, srv))
			for _, c := range bySignal(logs, spans) {
				reqs := srv.requests(c.signal)
				if len(reqs) != 2 || !bytes.Equal(reqs[0].body, reqs[1].body) || !reqs[1].answered.ok() {
					t.Fatalf("%s: %d requests; want the failed one and its retry, the same request", c.signal, len(reqs))
				}
				if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second || gap > 9*time.Second {
					t.Errorf("%s: retried after %s; want at least Retry-After's 1 s (and the backoff's 2.5-7.5 s at most)", c.signal, gap)
				}
				if c.sum.exported != c.sum.handed || c.sum.exported != uint64(reqs[1].items) {
					t.Errorf("%s: summary %+v; the retry carried %d", c.signal, c.sum, reqs[1].items)
				}
			}
			if !strings.Contains(stderr, "retrying the batch with backoff") {
				t.Errorf("no report of the retry:\n%s", stderr)
			}
		})
	}
}

// A partial success's rejected records are counted as dropped, reason
// rejected, and the rest as exported.
func TestEnvPartialSuccess(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			srv := startServer(t, protocol, map[string][]answer{
				sigLogs:   {{rejected: 3, message: "3 records too old"}},
				sigTraces: {{rejected: 2, message: "2 spans too large"}},
			})
			w := newWorkload(10)
			stderr, logs, spans := w.run(t, srv, w.file(t), endpointEnv(protocol, srv))
			if logs.reasons["rejected"] != 3 || logs.dropped != 3 || logs.exported != w.records-3 {
				t.Errorf("log records: %+v; want 3 dropped (rejected 3), %d exported", logs, w.records-3)
			}
			if spans.reasons["rejected"] != 2 || spans.dropped != 2 || spans.exported != w.spans-2 {
				t.Errorf("spans: %+v; want 2 dropped (rejected 2), %d exported", spans, w.spans-2)
			}
			for _, want := range []string{
				fmt.Sprintf("log records %d handed to the exporter, %d exported, 3 dropped (rejected 3)", w.records, w.records-3),
				"rejected 3 of", "3 records too old", "rejected 2 of", "2 spans too large",
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// OTEL_EXPORTER_OTLP_COMPRESSION=gzip compresses every signal's requests;
// without it none is.
func TestEnvCompression(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		for _, gz := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/gzip=%v", protocol, gz), func(t *testing.T) {
				srv := startServer(t, protocol, nil)
				env := endpointEnv(protocol, srv)
				if gz {
					env["OTEL_EXPORTER_OTLP_COMPRESSION"] = "gzip"
				}
				w := newWorkload(5)
				_, logs, spans := w.run(t, srv, w.file(t), env)
				if logs.exported != w.records || spans.exported != w.spans {
					t.Errorf("exported %d records and %d spans, want %d and %d", logs.exported, spans.exported, w.records, w.spans)
				}
				for _, sig := range []string{sigLogs, sigTraces, sigMetrics} {
					reqs := srv.requests(sig)
					if len(reqs) == 0 {
						t.Errorf("no %s requests", sig)
					}
					for i, r := range reqs {
						if (r.encoding == "gzip") != gz {
							t.Errorf("%s request %d: encoding %q, gzip wanted: %v", sig, i, r.encoding, gz)
						}
					}
				}
			})
		}
	}
}

// A per-signal HTTP endpoint is used as given, the general one gets
// /v1/<signal> appended; OTEL_LOGS_EXPORTER=none sends no logs; and
// OTEL_METRIC_EXPORT_INTERVAL sends the metrics periodically while
// procotel runs, not only when it stops.
func TestEnvPerSignal(t *testing.T) {
	for _, logsOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("logs_exporter_none=%v", logsOff), func(t *testing.T) {
			a, b := startHTTPServer(t, nil), startHTTPServer(t, nil)
			env := map[string]string{
				"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
				"OTEL_EXPORTER_OTLP_ENDPOINT":        b.url,
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": a.url + "/custom/path",
				"OTEL_METRIC_EXPORT_INTERVAL":        "300",
			}
			if logsOff {
				env["OTEL_LOGS_EXPORTER"] = "none"
			}
			// About 2 s of running: four phases 700 ms apart.
			w := newWorkload(3, 3, 3, 3)
			path, done := w.fifo(t, 700*time.Millisecond)
			start := time.Now()
			code, stderr, logs, spans := runWithEnv(t, path, env)
			if code != exitOK {
				t.Errorf("exit %d:\n%s", code, stderr)
			}
			lastWritten := <-done
			checkDecoded(t, a)
			checkDecoded(t, b)
			if spans.handed != w.spans || spans.exported != w.spans {
				t.Errorf("spans: %+v, want %d exported", spans, w.spans)
			}
			if got := a.routes(); len(got) != 1 || got["/custom/path"] == 0 {
				t.Errorf("A (traces endpoint %s/custom/path) got requests on %v; want only /custom/path", a.url, got)
			}
			if n := itemsOf(a.requests(sigTraces), true); n != w.spans {
				t.Errorf("A got %d spans, the recording makes %d", n, w.spans)
			}
			routesB := b.routes()
			if routesB["/v1/traces"] != 0 || routesB["/custom/path"] != 0 {
				t.Errorf("B (the general endpoint) got traces: %v", routesB)
			}
			if logsOff {
				if routesB["/v1/logs"] != 0 || logs.handed != 0 {
					t.Errorf("OTEL_LOGS_EXPORTER=none: B got %d log requests, summary %+v", routesB["/v1/logs"], logs)
				}
			} else {
				checkTotals(t, w, logs, spans)
				if n := itemsOf(b.requests(sigLogs), true); n != w.records || logs.exported != w.records {
					t.Errorf("B got %d log records at /v1/logs, summary %+v; the recording makes %d", n, logs, w.records)
				}
			}
			// Metrics at B's /v1/metrics, several while the recording was
			// still being played (2.1 s at a 300 ms interval).
			var during int
			for _, r := range b.requests(sigMetrics) {
				if r.route != "/v1/metrics" {
					t.Errorf("metrics at %s, want /v1/metrics", r.route)
				}
				if r.at.Before(lastWritten) {
					during++
				}
			}
			if ran := lastWritten.Sub(start); during < 3 {
				t.Errorf("%d metric exports in the %s procotel ran before its input ended; want several at a 300 ms interval (%d in all)",
					during, ran.Round(time.Millisecond), len(b.requests(sigMetrics)))
			}
		})
	}
}

// A process whose argv, executable and working directory hold bytes that
// are not UTF-8 makes valid OTLP (protobuf strings must be UTF-8), and the
// other processes' records are intact.
//
// The recording carries the raw bytes; the replay backend reads it as
// JSON, which turns each invalid byte into U+FFFD before the pipeline
// sees it, so the exporter's own repair (export/wire.go) is exercised by
// the live backend, not here.
func TestEnvInvalidUTF8(t *testing.T) {
	const marker = "@NOT-UTF8@"
	w := newWorkload(6)
	bad := int32(1003)
	for i := range w.phases[0] {
		e := &w.phases[0][i]
		if e.Process.PID != bad || e.Kind == semconv.KindFork {
			continue
		}
		e.Process.Argv = []string{"/tmp/x" + marker, "arg" + marker}
		e.Process.Exe, e.Process.Cwd = "/tmp/x"+marker, "/tmp/dir"+marker
		if e.Kind == semconv.KindExec {
			e.Exec.Filename, e.Exec.Argv = e.Process.Exe, e.Process.Argv
		}
	}
	path := w.file(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte(marker)); n < 4 {
		t.Fatalf("the recording has %d places for the bad bytes", n)
	}
	raw = bytes.ReplaceAll(raw, []byte(marker), []byte("\xff\xfe\xc3"))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			srv := startServer(t, protocol, nil)
			_, logs, spans := w.run(t, srv, path, endpointEnv(protocol, srv))
			if logs.exported != w.records || spans.exported != w.spans {
				t.Errorf("exported %+v and %+v; want every record and span", logs, spans)
			}
			var badSeen, goodSeen int
			for _, r := range srv.requests(sigLogs) {
				for _, rl := range r.msg.(*collogpb.ExportLogsServiceRequest).ResourceLogs {
					for _, sl := range rl.ScopeLogs {
						for _, rec := range sl.LogRecords {
							attrs := map[string]*commonpb.AnyValue{}
							for _, kv := range rec.Attributes {
								attrs[kv.Key] = kv.Value
							}
							pid := int32(attrs["process.pid"].GetIntValue())
							exe := attrs["process.executable.path"].GetStringValue()
							if pid == bad && exe != "/bin/sh" { // after its exec
								if !utf8.ValidString(exe) || !strings.ContainsRune(exe, utf8.RuneError) {
									t.Errorf("pid %d: executable %q", pid, exe)
								}
								badSeen++
								continue
							}
							want, ok := w.exe[pid]
							if !ok || exe == "" || exe == "/bin/sh" {
								continue // the shell, or a record before the exec
							}
							var argv []string
							for _, v := range attrs["process.command_args"].GetArrayValue().GetValues() {
								argv = append(argv, v.GetStringValue())
							}
							if exe != want || strings.Join(argv, " ") != strings.Join(w.argv[pid], " ") {
								t.Errorf("pid %d: executable %q argv %q, want %q %q", pid, exe, argv, want, w.argv[pid])
							}
							goodSeen++
						}
					}
				}
			}
			if badSeen == 0 || goodSeen == 0 {
				t.Errorf("saw %d records of the process with bad bytes and %d checked records of the others", badSeen, goodSeen)
			}
		})
	}
}

// With the endpoint down when procotel stops, every record and span is
// still accounted for: dropped, reason shutdown or export_failed, in the
// summary, and procotel exits 0 without a deadline error.
func TestEnvEndpointDownAtExit(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:1", "OTEL_EXPORTER_OTLP_INSECURE": "true"}
			if protocol != "grpc" {
				env = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
			}
			w := newWorkload(8)
			start := time.Now()
			code, stderr, logs, spans := runWithEnv(t, w.file(t), env)
			t.Logf("exit %d after %s:\n%s", code, time.Since(start).Round(time.Millisecond), stderr)
			// The summary says what was dropped; the outage is not the
			// run's failure (with a command, its code is passed on).
			if code != exitOK || strings.Contains(stderr, "deadline exceeded") {
				t.Errorf("exit %d with the endpoint down at exit; want 0 and the drops in the summary, no deadline error", code)
			}
			checkTotals(t, w, logs, spans)
			for name, s := range map[string]signalSummary{"log records": logs, "spans": spans} {
				if s.exported != 0 || s.reasons["shutdown"]+s.reasons["export_failed"] != s.handed {
					t.Errorf("%s: %+v; want every one dropped, reason shutdown or export_failed", name, s)
				}
			}
		})
	}
}
