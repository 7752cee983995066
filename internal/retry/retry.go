// Package retry holds the waiting primitives the consumers share: capped
// exponential backoff, a context-aware sleep, and a grace context that lets
// work in flight finish after shutdown begins.
package retry

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// Backoff returns lo·2^(attempt-1), capped at hi. Attempts count from 1;
// smaller values give lo.
func Backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Sleep waits d or until ctx ends; it reports whether the full wait passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// GraceContext returns a context that outlives ctx by grace, so a message
// in flight at shutdown can still be stored and acknowledged. The returned
// cancel releases it early.
func GraceContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-hctx.Done():
		}
	})
	return hctx, func() {
		stop()
		cancel()
	}
}

// RedactURLError describes a URL parse error without the URL, which may
// hold a password.
func RedactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return "invalid URL: " + ue.Err.Error()
	}
	return err.Error()
}
