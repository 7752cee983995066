package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/scoutergo/server/workflows"
)

// DefaultCheckTimeout bounds `scouter-worker check`.
const DefaultCheckTimeout = 30 * time.Second

// NewCheckID returns a workflow ID for one health check from this process:
// host, pid and start time keep concurrent checks apart.
func NewCheckID(now time.Time) string {
	return workflows.HealthCheckID(strings.ReplaceAll(Identity(), "@", "-") + "-" + now.UTC().Format("20060102T150405.000000000Z"))
}

// Check starts the HealthCheck workflow with the given ID on taskQueue and
// waits at most timeout for a worker to run it. It returns the worker's
// report; the error is non-nil when no worker answered in time, the
// workflow failed, or a probe failed (the report is returned too then).
func Check(ctx context.Context, c client.Client, taskQueue, workflowID string, timeout time.Duration) (*workflows.HealthCheckResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflowID,
		TaskQueue: taskQueue,
		// The check ends on the server too if no worker picks it up.
		WorkflowExecutionTimeout: timeout,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, workflows.HealthCheckWorkflow, &workflows.HealthCheckInput{Nonce: workflowID})
	if err != nil {
		return nil, fmt.Errorf("start health check %s: %w", workflowID, err)
	}
	var res workflows.HealthCheckResult
	if err := run.Get(ctx, &res); err != nil {
		// Out of time shows up as the local deadline, the server's
		// DeadlineExceeded on the long poll, or the workflow's own timeout.
		var deadline *serviceerror.DeadlineExceeded
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline) || temporal.IsTimeoutError(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("no worker finished health check %s on task queue %s within %s (is scouter-worker running?): %w",
				workflowID, taskQueue, timeout, err)
		}
		return nil, fmt.Errorf("health check %s: %w", workflowID, err)
	}
	if res.Nonce != workflowID {
		return &res, fmt.Errorf("health check %s: answer carries nonce %q", workflowID, res.Nonce)
	}
	if err := res.Err(); err != nil {
		return &res, fmt.Errorf("health check %s: %w", workflowID, err)
	}
	return &res, nil
}
