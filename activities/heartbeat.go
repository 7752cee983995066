package activities

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// HeartbeatInterval is how often a long activity without progress points of
// its own (one big SQL statement) records a heartbeat. Workflows give such
// activities a HeartbeatTimeout of a few intervals, so that the server
// notices a worker that died mid-activity within that timeout instead of
// the activity's StartToCloseTimeout.
const HeartbeatInterval = 10 * time.Second

// heartbeatWhile records a heartbeat every interval until the returned stop
// is called. Outside an activity (a test calling the method directly) it
// does nothing.
func heartbeatWhile(ctx context.Context, interval time.Duration) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
