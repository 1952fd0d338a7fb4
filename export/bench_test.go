package export_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/semconv"
)

// sinkServers are trivial in-process OTLP receivers: they read each
// request whole and answer with an empty (successful) response, so that a
// benchmark measures the exporter, not a decoder.
type sinkServers struct {
	httpURL  string
	grpcAddr string
	requests atomic.Int64
	bytes    atomic.Int64
}

// rawFrame is a gRPC message kept as its wire bytes.
type rawFrame struct{ b []byte }

// rawServerCodec passes gRPC messages through as bytes.
type rawServerCodec struct{}

func (rawServerCodec) Marshal(v any) ([]byte, error) { return v.(*rawFrame).b, nil }
func (rawServerCodec) Unmarshal(b []byte, v any) error {
	v.(*rawFrame).b = append(v.(*rawFrame).b[:0], b...)
	return nil
}
func (rawServerCodec) Name() string { return "proto" }

func startSinkServers(tb testing.TB) *sinkServers {
	tb.Helper()
	s := &sinkServers{}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = hs.Serve(hl) }()
	tb.Cleanup(func() { _ = hs.Close() })
	s.httpURL = "http://" + hl.Addr().String()

	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	//nolint:staticcheck // a raw pass-through codec is what this server needs.
	gs := grpc.NewServer(grpc.ForceServerCodec(rawServerCodec{}), grpc.MaxRecvMsgSize(64<<20),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			var f rawFrame
			if err := stream.RecvMsg(&f); err != nil {
				return err
			}
			s.requests.Add(1)
			s.bytes.Add(int64(len(f.b)))
			return stream.SendMsg(&rawFrame{})
		}))
	go func() { _ = gs.Serve(gl) }()
	tb.Cleanup(gs.Stop)
	s.grpcAddr = gl.Addr().String()
	return s
}

// benchEvents is a storm-like mix: fork, exec, exit, reap of short-lived
// children of one shell job, with one lifetime per exit.
func benchEvents() ([]semconv.Event, semconv.Lifetime) {
	boot := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	root := semconv.KeyOf(100, 10e9)
	p := semconv.Process{PID: 4242, TID: 4242, PPID: 100, Start: 19e9, ParentStart: 10e9, PGID: 100, SID: 100,
		Comm: "ls", Exe: "/usr/bin/ls", Argv: []string{"ls", "-la", "/tmp"}, Cwd: "/home/u",
		CgroupID: 1234, CgroupPath: "/user.slice/user-1000.slice/session-2.scope"}
	p.UID, p.EUID, p.GID, p.EGID = 1000, 1000, 1000, 1000
	lin := semconv.Lineage{Root: root}
	at := func(ns uint64) time.Time { return boot.Add(time.Duration(ns)) }
	evs := []semconv.Event{
		{Kind: semconv.KindFork, OS: semconv.OSLinux, Time: at(19e9), BootNS: 19e9, Process: p, Lineage: lin,
			Fork: semconv.ForkInfo{CloneFlags: 0x1200011, ParentTID: 100}},
		{Kind: semconv.KindExec, OS: semconv.OSLinux, Time: at(19e9 + 1e5), BootNS: 19e9 + 1e5, Process: p, Lineage: lin,
			Exec: semconv.ExecInfo{Filename: "/usr/bin/ls"}},
		{Kind: semconv.KindExit, OS: semconv.OSLinux, Time: at(19e9 + 2e6), BootNS: 19e9 + 2e6, Process: p, Lineage: lin,
			Exit: semconv.ExitInfo{Code: 0}},
		{Kind: semconv.KindReap, OS: semconv.OSLinux, Time: at(19e9 + 3e6), BootNS: 19e9 + 3e6, Process: p, Lineage: lin,
			Reap: semconv.ReapInfo{ReaperPID: 100}},
	}
	l := semconv.Lifetime{Process: p, Lineage: lin, OS: semconv.OSLinux, Start: at(19e9), End: at(19e9 + 2e6), Exited: true, Execs: make([]semconv.ExecRecord, 1)}
	return evs, l
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExport sends a storm-like event mix (and one span per four
// events) through New's exporter to an in-process receiver, and reports
// the process CPU time per event (the exporter's goroutines and the
// trivial receiver included), the events and spans dropped per event and
// the wire bytes per event. "unbounded" hands events as fast as it can
// with queues that hold them all, so that nothing is dropped and the cost
// is the full cost; "storm50k" uses the default settings and hands 50,000
// events a second, as a storm does, in bursts of 500 every 10 ms.
func BenchmarkExport(b *testing.B) {
	for _, mode := range []string{"unbounded", "storm50k"} {
		for _, proto := range []string{export.ProtocolGRPC, export.ProtocolHTTP} {
			b.Run(mode+"/"+proto, func(b *testing.B) { benchExport(b, proto, mode == "storm50k") })
		}
	}
}

func benchExport(b *testing.B, proto string, paced bool) {
	{
		{
			srv := startSinkServers(b)
			o := export.Options{Protocol: proto, Logs: true, Traces: true, Boot: "bench",
				Observer: semconv.Observer{HostName: "h1", OS: semconv.OSLinux, ServiceVersion: "v0"}}
			if proto == export.ProtocolHTTP {
				o.Endpoint = srv.httpURL
			} else {
				o.Endpoint, o.Insecure = srv.grpcAddr, true
			}
			if !paced {
				o.LogQueueSize, o.SpanQueueSize = b.N+1, b.N+1
			}
			x, err := export.New(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			evs, l := benchEvents()
			b.ReportAllocs()
			cpu0 := cpuTime()
			next := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if paced && i%500 == 0 {
					next = next.Add(10 * time.Millisecond)
					time.Sleep(time.Until(next))
				}
				e := &evs[i%len(evs)]
				e.Process.PID = int32(1000 + i/len(evs)%30000)
				x.Event(e)
				if e.Kind == semconv.KindExit {
					l.Process.PID = e.Process.PID
					x.Lifetime(&l)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := x.Close(ctx); err != nil {
				b.Fatal(err)
			}
			cancel()
			cpu := cpuTime() - cpu0
			st := x.Stats()
			lt := st.LogTotals()
			if lt.Handed+lt.DroppedQueueFull != uint64(b.N) || lt.Exported+lt.DroppedExport != lt.Handed {
				b.Fatalf("counts do not add up over %d events: %+v", b.N, lt)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
			b.ReportMetric(float64(lt.Dropped()+st.Spans.Dropped())/float64(b.N), "dropped/event")
			b.ReportMetric(float64(srv.bytes.Load())/float64(b.N), "wire-B/event")
		}
	}
}
