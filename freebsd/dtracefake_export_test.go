//go:build linux && cgo && dtracefake

package freebsd

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/internal/otelcoltest"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

// TestFakeLibdtraceToOTLP runs the whole FreeBSD path on Linux: the fake
// libdtrace replays the scenario through the real shim callbacks, the
// decoder and sequencer turn records into events, the pipeline pairs each
// exec attempt with its result and closes lifetimes, and the OTLP exporter
// sends log records and spans to an in-process OTLP/HTTP server. What that
// server received is checked against the scenario's ground truth.
func TestFakeLibdtraceToOTLP(t *testing.T) {
	b := fakeBackend(t, backends.Options{})
	fx := newFakeFixture(&b.Program().Schema)
	for _, f := range scenario() {
		fx.fire(t, f)
	}
	t.Setenv("DTRACEFAKE_FIXTURE", fx.write(t))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	caps := b.Capabilities()
	fwd := otelcoltest.StartForwarded(t)
	exp, err := export.New(ctx, export.Options{Endpoint: fwd.URL, Protocol: export.ProtocolHTTP,
		Boot: caps.Boot, Logs: true, Traces: true, ExportInterval: 50 * time.Millisecond,
		Observer: semconv.Observer{OS: semconv.OSFreeBSD, HostName: "jailhost"}})
	if err != nil {
		t.Fatal(err)
	}
	pipe := pipeline.New(pipeline.Config{Clock: caps.Clock, CredsComplete: caps.Creds, Window: time.Millisecond}, exp)
	events := semconv.NewQueue(64, 0)
	runErr := make(chan error, 1)
	go func() { runErr <- b.Run(ctx, events); events.Close() }()
	if err := pipe.Run(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("backend: %v", err)
	}
	if err := pipe.Close(ctx); err != nil {
		t.Fatalf("flush exporter: %v", err)
	}
	if ps := pipe.Stats(); ps.PairedExecs != 2 || ps.UnpairedExecAttempts != 0 {
		t.Errorf("exec pairing: paired %d unpaired %d, want 2 and 0", ps.PairedExecs, ps.UnpairedExecAttempts)
	}

	type rec struct {
		name  string
		pid   int64
		attrs map[string]*commonpb.AnyValue
		trace string
		span  string
		jail  string // the Resource's jail: one Resource per jail
	}
	var recs []rec
	for _, l := range fwd.Logs() {
		r := rec{name: l.Record.EventName, attrs: map[string]*commonpb.AnyValue{},
			trace: hex.EncodeToString(l.Record.TraceId), span: hex.EncodeToString(l.Record.SpanId)}
		for _, kv := range l.Record.Attributes {
			r.attrs[kv.Key] = kv.Value
		}
		r.pid = r.attrs["process.pid"].GetIntValue()
		r.jail = l.Resource["procotel.freebsd.jail.name"].GetStringValue()
		if l.Resource["os.type"].GetStringValue() != "freebsd" {
			t.Errorf("resource os.type = %v", l.Resource["os.type"])
		}
		recs = append(recs, r)
	}
	find := func(name string, pid int64) rec {
		t.Helper()
		for _, r := range recs {
			if r.name == name && r.pid == pid {
				return r
			}
		}
		t.Fatalf("no %s record for pid %d among %d records", name, pid, len(recs))
		return rec{}
	}
	str := func(r rec, k string) string { return r.attrs[k].GetStringValue() }
	num := func(r rec, k string) int64 { return r.attrs[k].GetIntValue() }

	fork := find("process.fork", 200)
	if num(fork, "process.parent_pid") != 100 || num(fork, "procotel.fork.clone_flags") != 0x14 {
		t.Errorf("fork record: %v", fork.attrs)
	}
	ex := find("process.exec", 200)
	if str(ex, "procotel.exec.filename") != "/bin/ls" || str(ex, "process.executable.path") != "/bin/ls" ||
		str(ex, "procotel.freebsd.jail.name") != "web" || num(ex, "procotel.freebsd.jail.id") != 2 {
		t.Errorf("exec record: %v", ex.attrs)
	}
	if args := ex.attrs["process.command_args"].GetArrayValue().GetValues(); len(args) != 3 ||
		args[0].GetStringValue() != "ls" || args[2].GetStringValue() != "/tmp" {
		t.Errorf("exec argv: %v", args)
	}
	// The failure carries the path of the attempt it was paired with.
	failed := find("process.exec_failed", 200)
	if str(failed, "procotel.exec.filename") != "/nope" || str(failed, "procotel.exec.errno_name") != "ENOENT" {
		t.Errorf("exec_failed record: %v", failed.attrs)
	}
	crash := find("process.exit", 200)
	if str(crash, "procotel.exit.signal_name") != "SIGSEGV" || !crash.attrs["procotel.exit.core_dumped"].GetBoolValue() ||
		str(crash, "procotel.freebsd.jail.name") != "web" {
		t.Errorf("exit of 200: %v", crash.attrs)
	}
	if sh := find("process.exit", 100); num(sh, "process.exit.code") != 3 {
		t.Errorf("exit of 100: %v", sh.attrs)
	}
	// 300 had two signals, in two jails: records of different Resources
	// come in separate batches, so find the SIGTERM by name.
	var sig *rec
	for i := range recs {
		if recs[i].name == "process.signal" && recs[i].pid == 300 && str(recs[i], "procotel.signal.name") == "SIGTERM" {
			sig = &recs[i]
		}
	}
	if sig == nil || num(*sig, "procotel.signal.sender.pid") != 100 || str(*sig, "procotel.freebsd.jail.name") != "db" || sig.jail != "db" {
		t.Errorf("SIGTERM record of 300 (sent by 100, in jail db, under its Resource): %+v", sig)
	}
	for _, r := range recs {
		if r.jail != str(r, "procotel.freebsd.jail.name") {
			t.Errorf("%s of %d: jail %q under the Resource of jail %q", r.name, r.pid, str(r, "procotel.freebsd.jail.name"), r.jail)
		}
	}

	// One span per closed lifetime; 200's carries its ids, its jail and
	// its death, and every record of 200 carries its span's ids.
	k200 := semconv.KeyOf(200, 200_000_000)
	wantSpan, wantTrace := semconv.SpanID(caps.Boot, k200), semconv.TraceID(caps.Boot, k200)
	var found bool
	for _, s := range fwd.Spans() {
		if hex.EncodeToString(s.Span.SpanId) != hex.EncodeToString(wantSpan[:]) {
			continue
		}
		found = true
		if s.Span.Name != "ls" || hex.EncodeToString(s.Span.TraceId) != hex.EncodeToString(wantTrace[:]) ||
			s.Span.Status.GetMessage() != "killed by SIGSEGV, core dumped" {
			t.Errorf("span of 200: name %q trace %x status %v", s.Span.Name, s.Span.TraceId, s.Span.Status)
		}
	}
	if !found {
		t.Errorf("no span with 200's span id %x among %d spans", wantSpan, len(fwd.Spans()))
	}
	for _, r := range []rec{fork, ex, failed, crash} {
		if r.span != hex.EncodeToString(wantSpan[:]) || r.trace != hex.EncodeToString(wantTrace[:]) {
			t.Errorf("%s record of 200 has ids %s/%s, want its span's", r.name, r.trace, r.span)
		}
	}
	if st := exp.Stats(); st.LogTotals().Dropped() != 0 || st.Spans.Dropped() != 0 {
		t.Errorf("exporter dropped: %+v", st)
	}
}
