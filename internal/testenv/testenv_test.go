package testenv

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestLeaksSeesAnOpenFile(t *testing.T) {
	before := openFDs()
	if before == nil {
		t.Skip("SKIP LOUDLY: no /proc/self/fd here")
	}
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	err = leaks(before)
	f.Close()
	if err == nil || !strings.Contains(err.Error(), "/dev/null") {
		t.Fatalf("an open /dev/null was not reported: %v", err)
	}
	if err := leaks(before); err != nil {
		t.Fatalf("after closing: %v", err)
	}
}

func TestLeaksSeesAGoroutine(t *testing.T) {
	stop := make(chan struct{})
	go func() { <-stop }()
	err := leaks(nil)
	close(stop)
	if err == nil || !strings.Contains(err.Error(), "goroutines") {
		t.Fatalf("a blocked goroutine was not reported: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
}

func TestStrict(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("PROCOTEL_REQUIRE_KERNEL", "")
	if strict() {
		t.Error("strict with neither variable set")
	}
	t.Setenv("CI", "true")
	if !strict() {
		t.Error("CI=true is not strict")
	}
}
