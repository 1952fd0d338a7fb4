// Command dtracecheck starts one FreeBSD backend and prints the events it
// delivers, one line each, until interrupted: a smoke test for a FreeBSD
// host (as root, after kldload dtraceall).
//
//	dtracecheck [-backend dtrace|kqueue] [-jail ID]... [-n COUNT]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/semconv"
)

type jailFlag []string

func (j *jailFlag) String() string     { return strings.Join(*j, ",") }
func (j *jailFlag) Set(s string) error { *j = append(*j, s); return nil }

func main() {
	sel := flag.String("backend", "auto", "backend: auto, dtrace or kqueue")
	count := flag.Int("n", 0, "stop after this many events (0: until interrupted)")
	var jails jailFlag
	flag.Var(&jails, "jail", "trace only this jail (id or name); repeatable")
	flag.Parse()
	if err := run(*sel, jails, *count); err != nil {
		fmt.Fprintln(os.Stderr, "dtracecheck:", err)
		os.Exit(1)
	}
}

func run(sel string, jails []string, count int) error {
	ids, err := resolveJails(jails)
	if err != nil {
		return err
	}
	b, err := backends.New(sel, backends.Options{Jails: ids}, factories())
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := b.Start(ctx); err != nil {
		return err
	}
	caps := b.Capabilities()
	fmt.Printf("backend %s started; kinds %v\n", b.Name(), caps.Kinds)
	for _, n := range caps.Notes {
		fmt.Println("note:", n)
	}
	out := semconv.NewQueue(256, 0)
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx, out); out.Close() }()
	seen := 0
	out.Consume(func(e *semconv.Event) {
		fmt.Println(describe(e))
		seen++
		if count > 0 && seen >= count {
			stop()
		}
	})
	err = <-errc
	st := b.Stats()
	fmt.Printf("received %d, lost %d, decode errors %d, existing %d\n",
		st.TotalReceived(), st.TotalLost(), st.DecodeErrors, st.Existing)
	return err
}

func describe(e *semconv.Event) string {
	p := &e.Process
	s := fmt.Sprintf("%-12s pid=%d ppid=%d tid=%d comm=%q jail=%d(%s)", e.Kind, p.PID, p.PPID, p.TID, p.Comm, p.JailID, p.JailName)
	switch e.Kind {
	case semconv.KindExecAttempt:
		s += fmt.Sprintf(" file=%q", e.Exec.Filename)
	case semconv.KindExec:
		s += fmt.Sprintf(" exe=%q argv=%q", p.Exe, p.Argv)
	case semconv.KindExecFailed:
		s += " errno=" + semconv.ErrnoName(e.OS, e.Exec.Errno)
	case semconv.KindExit:
		s += fmt.Sprintf(" code=%d signal=%d core=%v", e.Exit.Code, e.Exit.Signal, e.Exit.CoreDumped)
	case semconv.KindSignal:
		s += fmt.Sprintf(" sig=%s from=%d outcome=%s", semconv.SignalName(e.OS, e.Signal.Signo), e.Signal.SenderPID, e.Signal.Outcome)
	case semconv.KindFork:
		s += fmt.Sprintf(" flags=%#x", e.Fork.CloneFlags)
	}
	return s
}
