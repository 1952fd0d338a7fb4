package export

import (
	"context"
	"time"
)

// Backoff between export attempts of one batch.
const (
	retryInitial = 250 * time.Millisecond
	retryMax     = 5 * time.Second
)

// retry calls attempt until it succeeds or ctx ends, waiting with
// exponential backoff in between. It returns the last attempt's error.
//
// It is the one retry policy of both protocols and both signals, so that
// what survives an outage is predictable.
func retry(ctx context.Context, timeout time.Duration, attempt func(context.Context) error) error {
	wait := retryInitial
	var timer *time.Timer
	for {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := attempt(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
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
		wait = min(2*wait, retryMax)
	}
}
