package export

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// exportError is a failed export attempt, classified as the OTLP
// exporter specification says: retryable or permanent, with the wait the
// server asked for (gRPC RetryInfo, HTTP Retry-After).
type exportError struct {
	// kind names the failure for reports, one per kind of trouble:
	// "gRPC Unavailable", "HTTP 503", "connection error".
	kind      string
	retryable bool
	// throttle is the server's requested wait; zero when it named none.
	throttle time.Duration
	// unimplemented marks a server that does not serve this signal
	// (gRPC Unimplemented, HTTP 404).
	unimplemented bool
	// detail is what the endpoint or the connection said, for reports.
	detail string
	err    error
}

func (e *exportError) Error() string { return e.err.Error() }
func (e *exportError) Unwrap() error { return e.err }

// classify returns err as an exportError; an error the senders did not
// classify (a test sender's) is retryable.
func classify(err error) *exportError {
	var ee *exportError
	if errors.As(err, &ee) {
		return ee
	}
	return &exportError{kind: "error", retryable: true, err: err}
}

// retryPolicy is the retry policy: exponential growth by 1.5 from initial
// to max, each wait drawn uniformly from ±50 % of it (the OTel SDK's
// policy), for at most maxElapsed in all.
type retryPolicy struct {
	initial, max, maxElapsed time.Duration
}

// jittered returns the wait for interval: uniform in [0.5, 1.5)×interval.
func jittered(interval time.Duration) time.Duration {
	return interval/2 + time.Duration(rand.Int64N(int64(interval)|1))
}

// retry calls attempt, each call bounded by timeout, until it succeeds,
// fails permanently, the next wait would pass maxElapsed, or ctx ends.
// failed is told of every failed attempt and whether it will be retried.
// It returns nil or the last attempt's error.
func (p retryPolicy) retry(ctx context.Context, timeout time.Duration, attempt func(context.Context) error,
	failed func(e *exportError, retrying bool)) error {
	start := time.Now()
	interval := p.initial
	var timer *time.Timer
	for {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := attempt(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		e := classify(err)
		if !e.retryable {
			failed(e, false)
			return e
		}
		wait := max(jittered(interval), e.throttle)
		interval = min(time.Duration(float64(interval)*1.5), p.max)
		if time.Since(start)+wait > p.maxElapsed {
			failed(e, false)
			return fmt.Errorf("gave up after %s: %w", time.Since(start).Round(time.Millisecond), e)
		}
		failed(e, true)
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return err
		case <-timer.C:
		}
	}
}
