package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/activities"
)

// Retry schedule shared by every activity.
const (
	RetryInitialInterval    = time.Second
	RetryBackoffCoefficient = 2.0
	RetryMaximumInterval    = time.Minute
)

// NonRetryableErrorTypes lists the application error types (the type
// argument of temporal.NewNonRetryableApplicationError and friends) that
// end an activity at once instead of retrying. Activities add their
// permanent-failure types here. It is a function, not a package variable,
// so that no caller can change the list for everyone else.
func NonRetryableErrorTypes() []string {
	return []string{
		activities.ErrTypeAlertDeliveryRejected,
		activities.ErrTypeInvalidProfile,
		activities.ErrTypeInvalidDriftInput,
	}
}

// RetryPolicy is the shared activity retry policy: 1+maxRetries attempts
// (maxRetries is MAX_RETRIES; a negative value counts as 0), starting 1 s
// apart and doubling up to 1 min.
func RetryPolicy(maxRetries int) *temporal.RetryPolicy {
	if maxRetries < 0 {
		maxRetries = 0
	}
	return &temporal.RetryPolicy{
		InitialInterval:        RetryInitialInterval,
		BackoffCoefficient:     RetryBackoffCoefficient,
		MaximumInterval:        RetryMaximumInterval,
		MaximumAttempts:        int32(min(1+maxRetries, 1<<30)),
		NonRetryableErrorTypes: NonRetryableErrorTypes(),
	}
}

// ActivityOptions are the options every activity runs with: the given
// StartToCloseTimeout (always set) and the shared retry policy.
func ActivityOptions(startToClose time.Duration, maxRetries int) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		RetryPolicy:         RetryPolicy(maxRetries),
	}
}
