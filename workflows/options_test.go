package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/scoutergo/server/workflows"
)

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		maxRetries   int
		wantAttempts int32
	}{
		{maxRetries: 0, wantAttempts: 1},
		{maxRetries: 3, wantAttempts: 4},
		{maxRetries: 100, wantAttempts: 101},
		{maxRetries: -5, wantAttempts: 1},
	}
	for _, tt := range tests {
		p := workflows.RetryPolicy(tt.maxRetries)
		assert.Equal(t, tt.wantAttempts, p.MaximumAttempts, "MAX_RETRIES=%d: got %d attempts, want %d", tt.maxRetries, p.MaximumAttempts, tt.wantAttempts)
		assert.Equal(t, time.Second, p.InitialInterval)
		assert.Equal(t, 2.0, p.BackoffCoefficient)
		assert.Equal(t, time.Minute, p.MaximumInterval)
		assert.Equal(t, workflows.NonRetryableErrorTypes(), p.NonRetryableErrorTypes)
	}
}

func TestActivityOptions(t *testing.T) {
	o := workflows.ActivityOptions(42*time.Second, 2)
	assert.Equal(t, 42*time.Second, o.StartToCloseTimeout)
	if assert.NotNil(t, o.RetryPolicy) {
		assert.Equal(t, int32(3), o.RetryPolicy.MaximumAttempts)
	}
}

func TestNonRetryableErrorTypesIsACopy(t *testing.T) {
	a := workflows.NonRetryableErrorTypes()
	a = append(a, "Changed")
	assert.NotContains(t, workflows.NonRetryableErrorTypes(), "Changed")
	_ = a
}

func TestHealthCheckID(t *testing.T) {
	assert.Equal(t, "healthcheck:host-1-99", workflows.HealthCheckID("host-1-99"))
}
