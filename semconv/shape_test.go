package semconv

import (
	"testing"
	"time"
)

func TestShapeSpanFlagsAndTimes(t *testing.T) {
	boot := BootID("shape-test")
	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := Process{PID: 42, TID: 42, PPID: 1, Start: 5e9, ParentStart: 1e9, PGID: 42, Exe: "/usr/bin/make"}
	unsampled := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	for _, c := range []struct {
		name      string
		lineage   Lineage
		wantFlags uint32
		parent    bool
	}{
		// A root of its own trace: sampled, no parent, has-is-remote only.
		{"root", Lineage{}, 0x101, false},
		// A child: its parent span is a remote context.
		{"child", Lineage{Root: KeyOf(1, 1e9), Creator: KeyOf(1, 1e9)}, 0x301, true},
		// An inherited unsampled traceparent: its trace and parent, not
		// its sampled flag.
		{"unsampled traceparent", Lineage{TraceParent: unsampled}, 0x301, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ids := SpanContextIDs(boot, &p, c.lineage)
			l := Lifetime{Process: p, Lineage: c.lineage, Start: created, End: created.Add(time.Second)}
			s := ShapeSpan(&l, &ids)
			if s.Flags != c.wantFlags {
				t.Errorf("flags %#x, want %#x", s.Flags, c.wantFlags)
			}
			if got := s.ParentSpanID != ([8]byte{}); got != c.parent {
				t.Errorf("has parent %v, want %v", got, c.parent)
			}
			e := Event{Kind: KindExit, Time: created, Process: p, Lineage: c.lineage}
			r, ok := ShapeRecord(&e, &ids)
			if !ok || r.Flags != 1 || r.TraceID != s.TraceID || r.SpanID != s.SpanID {
				t.Errorf("record %+v does not carry the span's ids with flags 01", r)
			}
		})
	}
	ids := SpanContextIDs(boot, &p, Lineage{})
	// A start after the end is clamped; an unknown start is the end.
	l := Lifetime{Process: p, Start: created, End: created.Add(-time.Second)}
	if s := ShapeSpan(&l, &ids); !s.End.Equal(created) || !s.Start.Equal(created) {
		t.Errorf("end before start: %v..%v", s.Start, s.End)
	}
	l = Lifetime{Process: p, End: created}
	if s := ShapeSpan(&l, &ids); !s.Start.Equal(created) {
		t.Errorf("unknown start: %v, want the end %v", s.Start, created)
	}
	l = Lifetime{Process: p, Start: created, End: created, Exited: true, Exit: ExitInfo{Code: 2}}
	if s := ShapeSpan(&l, &ids); !s.Error || s.StatusMessage != "exit code 2" || s.Name != "make" {
		t.Errorf("failed process: %+v", s)
	}
	if _, ok := ShapeRecord(&Event{Kind: KindExisting}, &ids); ok {
		t.Error("an existing-process snapshot became a record")
	}
}
