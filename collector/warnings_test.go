//go:build linux || freebsd

package collector

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/backends/replay"
	"github.com/procotel/procotel/collector/internal/metadata"
)

// warningBackend is a backend whose start leaves a warning, as the eBPF
// backend does when it mounts tracefs or starts without failed execs.
type warningBackend struct {
	backends.Backend
	warning string
}

func (b *warningBackend) Capabilities() backends.Capabilities {
	c := b.Backend.Capabilities()
	c.Warnings = append(c.Warnings, b.warning)
	return c
}

// TestStartLogsBackendWarnings: every warning line of the backend's start
// reaches the receiver's logger at warning level.
func TestStartLogsBackendWarnings(t *testing.T) {
	const warning = "failed execs are not reported: tracefs is not mounted"
	w := writeRecording(t)
	rf := replay.Factory
	inner := rf.New
	rf.New = func(source string, opts backends.Options) (backends.Backend, error) {
		b, err := inner(source, opts)
		if err != nil {
			return nil, err
		}
		return &warningBackend{Backend: b, warning: warning}, nil
	}
	core, logs := zapobserver.New(zapcore.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	ctx := context.Background()
	r, err := newFactory([]backends.Factory{rf}).CreateLogs(ctx, set, replayConfig(w.path), new(consumertest.LogsSink))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(ctx)
	got := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessage("procotel backend: " + warning)
	if got.Len() != 1 {
		t.Errorf("warning %q logged %d times at warning level, want once; log: %v", warning, got.Len(), logs.All())
	}
}
