package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/export"
	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
)

var _ pipeline.Sink = (*export.Exporter)(nil)

// otlpSinks builds the OTLP exporter from the configuration. The returned
// closer prints what was exported and dropped.
func otlpSinks(ctx context.Context, cfg config.Config, caps backends.Capabilities, stderr io.Writer) ([]pipeline.Sink, []func(), error) {
	exp, err := export.New(ctx, otlpOptions(cfg, caps, stderr))
	if err != nil {
		return nil, nil, err
	}
	report := func() {
		st := exp.Stats()
		fmt.Fprintf(stderr, "procotel: otlp: log records %s; spans %s\n", exportLine(st.LogTotals()), exportLine(st.Spans))
	}
	return []pipeline.Sink{otlpSink{exp}}, []func(){report}, nil
}

// otlpSink is the exporter as procotel's sink. What the endpoint had not
// taken when the close deadline passed is counted as dropped (reason
// shutdown) and the exit summary says so: that is an outcome of the
// export, not a failure of the run, so Close does not return the
// deadline, and procotel exits 0 or with its command's code.
type otlpSink struct{ *export.Exporter }

func (s otlpSink) Close(ctx context.Context) error {
	return withoutDeadline(s.Exporter.Close(ctx))
}

// withoutDeadline returns err without its parts that are a passed
// context deadline; nil when nothing else is left.
func withoutDeadline(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		joined, ok := err.(interface{ Unwrap() []error })
		if !ok {
			return nil
		}
		var rest []error
		for _, e := range joined.Unwrap() {
			if e = withoutDeadline(e); e != nil {
				rest = append(rest, e)
			}
		}
		return errors.Join(rest...)
	}
	return err
}

// observer describes this host for the OTLP resource.
func observer(os semconv.OS) semconv.Observer { return agent.Observer(os, version) }

// exportLine says what became of one signal's records: exported, and
// dropped with every reason that counted any, so the parts add up to
// what was handed to the exporter.
func exportLine(c export.Counts) string {
	reasons := c.DropsByReason()
	line := fmt.Sprintf("%d handed to the exporter, %d exported, %d dropped", c.Given(), c.Exported, c.Dropped())
	if len(reasons) > 0 {
		line += " (" + strings.Join(reasons, ", ") + ")"
	}
	return line
}
