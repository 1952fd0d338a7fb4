package config

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestReceiverRoundTrip(t *testing.T) {
	c := Default()
	c.Backend = "replay:events.jsonl"
	c.Filter = "kind=exec"
	c.Capture.Threads = true
	c.Pipeline.Window = 50 * time.Millisecond
	c.Traces.RootPolicy = "session"
	r := c.Receiver()
	back := r.Config()
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("Receiver().Config() = %+v, want %+v", back, c)
	}
	d := DefaultReceiver()
	if err := d.Check(); err != nil {
		t.Fatalf("default receiver configuration is invalid: %v", err)
	}
}

func TestReceiverCheckNamesField(t *testing.T) {
	for _, tc := range []struct {
		field string
		set   func(*Receiver)
	}{
		{"backend", func(r *Receiver) { r.Backend = "" }},
		{"capture.argv_max", func(r *Receiver) { r.Capture.ArgvMax = 1 }},
		{"capture.buffer_size", func(r *Receiver) { r.Capture.BufferSize = 5000 }},
		{"pipeline.window", func(r *Receiver) { r.Pipeline.Window = -time.Second }},
		{"pipeline.max_processes", func(r *Receiver) { r.Pipeline.MaxProcesses = 10 }},
		{"pipeline.keep_reaped", func(r *Receiver) { r.Pipeline.KeepReaped = -1 }},
		{"pipeline.keep_reaped", func(r *Receiver) { r.Pipeline.KeepReaped = r.Pipeline.MaxProcesses + 1 }},
		{"pipeline.redact_patterns[0]", func(r *Receiver) { r.Pipeline.RedactPatterns = []string{"("} }},
		{"traces.root_policy", func(r *Receiver) { r.Traces.RootPolicy = "tree" }},
	} {
		r := DefaultReceiver()
		tc.set(&r)
		err := r.Check()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: Check() = %v, want a *FieldError for %s", tc.field, err, tc.field)
		}
	}
}
