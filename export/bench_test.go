package export_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// sinkProcessEnv makes the test binary a sink process
// (TestSinkProcess) for BenchmarkExport.
const sinkProcessEnv = "PROCOTEL_EXPORT_BENCH_SINK"

// TestSinkProcess is BenchmarkExport's receiver in a process of its
// own, as a Collector is: it prints the servers' addresses, then, when
// its standard input closes, the bytes it received, and exits. It is
// skipped unless the benchmark started it.
func TestSinkProcess(t *testing.T) {
	if os.Getenv(sinkProcessEnv) == "" {
		t.Skip("only run by BenchmarkExport")
	}
	s := startSinkServers(t)
	fmt.Printf("%s %s\n", s.httpURL, s.grpcAddr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	fmt.Printf("%d\n", s.bytes.Load())
}

// sinkProcess is a running TestSinkProcess.
type sinkProcess struct {
	httpURL, grpcAddr string
	cmd               *exec.Cmd
	in                io.WriteCloser
	out               *bufio.Reader
}

// startSinkProcess runs the receivers in a child process, so that the
// benchmark's CPU time is the exporter's alone.
func startSinkProcess(tb testing.TB) *sinkProcess {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSinkProcess$", "-test.count", "1")
	cmd.Env = append(os.Environ(), sinkProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &sinkProcess{cmd: cmd, in: in, out: bufio.NewReader(outp)}
	line, err := p.out.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 {
		_ = in.Close()
		_ = cmd.Wait()
		tb.Fatalf("sink process: %q, %v", line, err)
	}
	p.httpURL, p.grpcAddr = f[0], f[1]
	return p
}

// stop ends the process and returns the bytes it received.
func (p *sinkProcess) stop(tb testing.TB) int64 {
	tb.Helper()
	_ = p.in.Close()
	line, err := p.out.ReadString('\n')
	_, _ = io.Copy(io.Discard, p.out)
	if werr := p.cmd.Wait(); err == nil {
		err = werr
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil || perr != nil {
		tb.Fatalf("sink process: %q, %v", line, err)
	}
	return n
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

// cpuTime is the process's CPU time so far, and the part of it in the
// kernel.
func cpuTime() (total, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkExport sends a storm-like event mix (and one span per four
// events) through New's exporter to a receiver in a process of its own,
// and reports the process CPU time per event (the exporter's goroutines
// and whatever the runtime does for them, as in procotel) and the part
// of it in the kernel (sending, mostly), the events and spans dropped
// per event and the wire bytes per event. "unbounded" hands events as fast as it can
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
			srv := startSinkProcess(b)
			o := export.Options{Protocol: proto, Logs: true, Traces: true, Boot: "bench",
				Observer: semconv.Observer{HostName: "h1", OS: semconv.OSLinux, ServiceVersion: "v0"}}
			if proto == export.ProtocolHTTP {
				o.Endpoint = srv.httpURL
			} else {
				o.Endpoint, o.Insecure = srv.grpcAddr, true
			}
			if !paced {
				o.LogQueueSize, o.SpanQueueSize = b.N+1, b.N+1
				o.QueueBytes = (b.N + 1) << 11 // a record is about 1 KiB, plus batch room
			}
			x, err := export.New(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			evs, l := benchEvents()
			b.ReportAllocs()
			cpu0, sys0 := cpuTime()
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
			cpu, sys := cpuTime()
			cpu, sys = cpu-cpu0, sys-sys0
			wire := srv.stop(b)
			st := x.Stats()
			lt := st.LogTotals()
			if lt.Handed+lt.DroppedQueueFull != uint64(b.N) || lt.Exported+lt.DroppedExport != lt.Handed {
				b.Fatalf("counts do not add up over %d events: %+v", b.N, lt)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
			b.ReportMetric(float64(sys.Nanoseconds())/float64(b.N), "sys-ns/event")
			b.ReportMetric(float64(lt.Dropped()+st.Spans.Dropped())/float64(b.N), "dropped/event")
			b.ReportMetric(float64(wire)/float64(b.N), "wire-B/event")
		}
	}
}
