package export

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// reportEvery is how often the same kind of trouble is reported again.
const reportEvery = time.Minute

// maxPartialMessages bounds the distinct partial-success messages
// remembered (each reported once).
const maxPartialMessages = 64

// lineWriter writes whole lines to w, one Write each, from any goroutine.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	line := fmt.Sprintf("procotel: "+format, args...)
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
}

// reporter tells a person, while procotel runs, about one signal's export
// trouble: the first failure of each kind at once (where it went, what
// the endpoint said, whether procotel retries or drops), the recovery,
// and each distinct partial-success message once. The same kind is
// reported again at most every reportEvery. Its methods are called from
// the signal's one export goroutine.
type reporter struct {
	out      *lineWriter
	signal   string // "logs", "traces"
	endpoint string
	retryFor time.Duration
	now      func() time.Time

	last      map[string]time.Time // kind of report → when last reported
	failing   bool
	announced bool // a failure of this episode was reported
	attempts  int  // failed attempts this episode
	dropped   uint64
	partials  map[string]bool
}

func newReporter(out *lineWriter, c signalConfig, retryFor time.Duration) *reporter {
	return &reporter{out: out, signal: c.signal, endpoint: c.display(), retryFor: retryFor, now: time.Now,
		last: map[string]time.Time{}, partials: map[string]bool{}}
}

// due reports whether key may be reported now, and marks it reported.
func (r *reporter) due(key string) bool {
	now := r.now()
	if t, ok := r.last[key]; ok && now.Sub(t) < reportEvery {
		return false
	}
	r.last[key] = now
	return true
}

// failure is told of each failed attempt; retrying says whether the
// batch will be tried again.
func (r *reporter) failure(e *exportError, retrying bool) {
	r.failing = true
	r.attempts++
	var key, what string
	switch {
	case e.unimplemented:
		key = e.kind + "/unimplemented"
		what = fmt.Sprintf("the endpoint does not accept %s; dropping them; set OTEL_%s_EXPORTER=none to stop sending %s",
			r.signal, strings.ToUpper(r.signal), r.signal)
	case !e.retryable:
		key = e.kind + "/permanent"
		what = "a permanent error: dropping the batch, not retrying it"
	case retrying:
		key = e.kind + "/retrying"
		what = fmt.Sprintf("retrying the batch with backoff for up to %s, then dropping it", r.retryFor)
	default:
		key = e.kind + "/gave-up"
		what = fmt.Sprintf("gave up retrying after %s: dropping the batch", r.retryFor)
	}
	if !r.due(key) {
		return
	}
	r.announced = true
	detail := e.detail
	if detail == "" {
		detail = e.err.Error()
	}
	r.out.printf("OTLP %s export to %s failed (%s: %s); %s", r.signal, r.endpoint, e.kind, detail, what)
}

// drop is told of n records dropped after a failure.
func (r *reporter) drop(n uint64) {
	if r.failing {
		r.dropped += n
	}
}

// success is told of each successful export.
func (r *reporter) success() {
	if !r.failing {
		return
	}
	if r.announced && r.due("recovered") {
		r.out.printf("OTLP %s export to %s recovered after %d failed attempts (%d %s dropped meanwhile)",
			r.signal, r.endpoint, r.attempts, r.dropped, r.unit())
	}
	r.failing, r.announced, r.attempts, r.dropped = false, false, 0, 0
}

// partial is told of a successful export's partial-success answer for a
// batch of n.
func (r *reporter) partial(ps partialSuccess, n int) {
	if ps.rejected == 0 && ps.message == "" {
		return
	}
	if r.partials[ps.message] || len(r.partials) >= maxPartialMessages {
		return
	}
	r.partials[ps.message] = true
	msg := ps.message
	if msg == "" {
		msg = "(no message)"
	}
	r.out.printf("OTLP endpoint %s rejected %d of %d %s (counted as dropped, reason %s): %s",
		r.endpoint, ps.rejected, n, r.unit(), ReasonRejected, msg)
}

func (r *reporter) unit() string {
	if r.signal == signalLogs {
		return "log records"
	}
	return "spans"
}
