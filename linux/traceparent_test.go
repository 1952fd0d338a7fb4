package linux

import "testing"

func TestTraceParentFrom(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []struct {
		env, want string
	}{
		{"PATH=/bin\x00TRACEPARENT=" + tp + "\x00HOME=/root\x00", tp},
		{"TRACEPARENT=" + tp, tp},
		{"PATH=/bin\x00XTRACEPARENT=nope\x00", ""},
		{"PATH=/bin\x00traceparent=" + tp + "\x00", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := traceParentFrom([]byte(c.env)); got != c.want {
			t.Errorf("traceParentFrom(%q) = %q, want %q", c.env, got, c.want)
		}
	}
}
