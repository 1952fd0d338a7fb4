//go:build !linux && !freebsd

package collector

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/procotel/procotel/collector/internal/metadata"
)

func TestUnsupportedPlatform(t *testing.T) {
	f := NewFactory()
	_, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	if err == nil || !strings.Contains(err.Error(), "only supported on linux and freebsd") {
		t.Fatalf("CreateLogs = %v, want the unsupported-platform error", err)
	}
}
