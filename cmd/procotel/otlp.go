package main

import (
	"context"
	"fmt"
	"io"

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
	exp, err := export.New(ctx, otlpOptions(cfg, caps))
	if err != nil {
		return nil, nil, err
	}
	report := func() {
		st := exp.Stats()
		l := st.LogTotals()
		fmt.Fprintf(stderr, "procotel: otlp %s: log records %d exported, %d dropped (queue full %d, export failed %d, after close %d); spans %d exported, %d dropped (queue full %d, export failed %d, after close %d)\n",
			cfg.OTLP.Endpoint, l.Exported, l.Dropped(), l.DroppedQueueFull, l.DroppedExport, l.DroppedClosed,
			st.Spans.Exported, st.Spans.Dropped(), st.Spans.DroppedQueueFull, st.Spans.DroppedExport, st.Spans.DroppedClosed)
	}
	return []pipeline.Sink{exp}, []func(){report}, nil
}

// observer describes this host for the OTLP resource.
func observer(os semconv.OS) semconv.Observer { return agent.Observer(os, version) }
