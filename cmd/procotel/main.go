// Command procotel watches the process lifecycle in the kernel and prints
// it, records it, or exports it as OpenTelemetry. This file is wiring only:
// every behaviour lives in the packages it calls.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usageText = `procotel watches process lifecycle events in the kernel (fork, exec,
exec failures, exit, reap, signals) and prints them, records them, or exports
them as OpenTelemetry logs (one record per event) and spans (one per process).

Usage:
  procotel [run] [flags] [-- command [args...]]
  procotel record [flags] FILE [-- command [args...]]
  procotel console [flags]
  procotel version

Commands:
  run      (default) watch and print to the terminal, or export over OTLP
           when an endpoint is set (--otlp-endpoint or
           OTEL_EXPORTER_OTLP_ENDPOINT)
  record   write the backend's events to FILE as JSON lines; play them
           back with --backend replay:FILE. Command lines in it are
           redacted like every other output (--redact=false keeps them
           raw). FILE is created readable by its owner only (0600); an
           existing FILE or symlink is never overwritten or followed:
           remove it or choose another name
  console  an interactive prompt over the live process table: tail, ps,
           tree, show PID, top, stats, containers, jails (help lists them)
  version  print the version

With a command after --, procotel starts it once attached, shows only it
and its descendants, and stops when it exits (the exit code is passed on).

SIGINT, SIGTERM and SIGHUP stop procotel the same way: the events already
in the kernel buffer and the reordering window are delivered, the output
is flushed, and the summary is printed on stderr.

Needs root (CAP_BPF and CAP_PERFMON) on Linux for the eBPF backend.

Flags:
`

func main() {
	agent.OwnProcess()
	// procotel resolves and reports every OTEL_* setting itself; the OTel
	// SDK's self-metrics exporter reads the environment again and would
	// print its own complaints (a host:port endpoint is not a URL to it).
	otel.SetLogger(logr.Discard())
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// exit codes
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Main runs procotel with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		switch args[0] {
		case "console":
			return runConsole(args[1:], stdout, stderr)
		case "run", "record", "version", "help":
			cmd, args = args[0], args[1:]
		case "-h", "-help", "--help":
			cmd = "help"
		}
	}
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "procotel %s\n", version)
		return exitOK
	case "help":
		fs, _, _ := runFlagSet(stderr)
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}

	fs, flags, duration := runFlagSet(stderr)
	if code, done := parseFlags(fs, args, stdout, stderr, "procotel"); done {
		return code
	}
	rest := fs.Args()
	// flag.Parse consumes a "--" that ends the flags; put it back so a
	// command after it is recognised below.
	if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
		rest = append([]string{"--"}, rest...)
	}
	var recordFile string
	if cmd == "record" {
		if len(rest) == 0 || rest[0] == "--" {
			fmt.Fprintln(stderr, "procotel record: missing FILE (procotel record [flags] FILE [-- command])")
			return exitUsage
		}
		recordFile, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	} else if len(rest) > 0 {
		fmt.Fprintf(stderr, "procotel: unexpected argument %q (put a command after --)\n", rest[0])
		return exitUsage
	}
	cfg, err := flags.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "procotel: %v\n", err)
		return exitUsage
	}
	r := &runner{cfg: cfg, stdout: stdout, stderr: stderr, command: rest, duration: *duration, recordFile: recordFile}
	code, err := r.run(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "procotel: %v\n", err)
		if code == exitOK {
			code = exitError
		}
	}
	return code
}

// printFlags lists fs's flags, GNU style, with their help.
func printFlags(out io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(out, "  --%s%s\n    \t%s\n", fl.Name, name, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// durationFlag is --duration: a duration by config's one rule, never
// negative.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%s is negative (want 0 for no limit, or a positive duration such as 30s)", s)
	}
	*f.d = d
	return nil
}

// runFlagSet is the flag set of run and record: the configuration's
// flags and --duration.
func runFlagSet(stderr io.Writer) (*flag.FlagSet, *config.Flags, *time.Duration) {
	fs, f := newFlagSet(stderr)
	duration := new(time.Duration)
	fs.Var(durationFlag{duration}, "duration", "stop after this `duration`, e.g. 30s (default 0: until interrupted or the command exits)")
	return fs, f, duration
}

const envHelp = `
Environment (the OpenTelemetry exporter variables; precedence: flag >
environment > file > default, and a per-signal variable beats its general
one):
  OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _HEADERS, _INSECURE, _TIMEOUT (ms),
  _COMPRESSION (gzip|none), _CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY
  OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_* the same for one signal; its
      HTTP endpoint is used as given (no /v1/... appended)
  OTEL_LOGS_EXPORTER, OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER  otlp|none
  OTEL_METRIC_EXPORT_INTERVAL (ms)  how often procotel's own metrics go out
  OTEL_BLRP_MAX_QUEUE_SIZE, _MAX_EXPORT_BATCH_SIZE, _SCHEDULE_DELAY (ms),
      _EXPORT_TIMEOUT (ms)  log records' queue and batches; OTEL_BSP_* the
      same for spans
  OTEL_SDK_DISABLED=true  no OTLP at all: print to the terminal
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
`

func newFlagSet(stderr io.Writer) (*flag.FlagSet, *config.Flags) {
	fs := flag.NewFlagSet("procotel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := config.NewFlags(fs)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, usageText)
		printFlags(out, fs)
		fmt.Fprint(out, envHelp)
	}
	return fs, f
}

// parseFlags parses args into fs, reporting an error in one line on
// stderr ("PREFIX: ... (see PREFIX --help)") and --help on stdout. done
// says the command is over, with exit code code.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, prefix string) (code int, done bool) {
	fs.SetOutput(io.Discard) // errors are reported here, in one line
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK, true
		}
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", prefix, err, prefix)
		return exitUsage, true
	}
	return exitOK, false
}
