package activities

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
)

func TestHeartbeatWhile(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	var beats atomic.Int32
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })
	var afterStop int32
	env.RegisterActivityWithOptions(func(ctx context.Context) error {
		stop := heartbeatWhile(ctx, 10*time.Millisecond)
		time.Sleep(120 * time.Millisecond) // one long statement
		stop()
		afterStop = beats.Load()
		time.Sleep(50 * time.Millisecond)
		return nil
	}, activity.RegisterOptions{Name: "long"})
	_, err := env.ExecuteActivity("long")
	require.NoError(t, err)
	// The SDK throttles what reaches the server; at least the first one does.
	assert.GreaterOrEqual(t, afterStop, int32(1), "heartbeats while the activity runs")

	// Outside an activity it does nothing (and does not panic).
	heartbeatWhile(context.Background(), time.Millisecond)()
}
