//go:build !((freebsd && cgo) || (linux && cgo && dtracefake))

package freebsd

import (
	"context"
	"errors"
	"testing"

	"github.com/procotel/procotel/backends"
)

func TestDTraceWithoutCgo(t *testing.T) {
	b, err := NewDTrace(backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Start(context.Background())
	if !errors.Is(err, ErrNoCgo) {
		t.Fatalf("start: %v, want ErrNoCgo", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("close after failed start: %v", err)
	}
}
