package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/activities"
)

// Ids and cadence of the schedule reconcile (the database is the source of
// truth; the reconcile makes Temporal's drift schedules match it).
const (
	// ReconcileStartupID is the workflow id of the reconcile every worker
	// starts when it begins polling. Several workers starting together share
	// the one running execution.
	ReconcileStartupID = "reconcile:startup"
	// ReconcileScheduleID is the Temporal Schedule that runs the reconcile
	// every ReconcileInterval; its runs are "reconcile-schedules-<time>".
	// It does not start with "drift:", so the reconcile never deletes it.
	ReconcileScheduleID = "reconcile-schedules"
	// ReconcileInterval is how often the reconcile schedule fires.
	ReconcileInterval = 5 * time.Minute
)

// Activity options of the reconcile: one pass makes a few Temporal calls per
// profile, so it gets minutes, heartbeats after every profile, and is tried
// three times (the next scheduled pass retries anyway).
const (
	reconcileStartToClose = 10 * time.Minute
	reconcileHeartbeat    = time.Minute
	reconcileMaxRetries   = 2
)

// ReconcileSchedulesInput is the input of the ReconcileSchedules workflow
// (no parameters yet).
type ReconcileSchedulesInput struct{}

// ReconcileSchedules runs one reconcile pass of the drift schedules as a
// single activity and returns what it did.
func ReconcileSchedules(ctx workflow.Context, _ *ReconcileSchedulesInput) (*activities.ReconcileSchedulesResult, error) {
	opts := ActivityOptions(reconcileStartToClose, reconcileMaxRetries)
	opts.HeartbeatTimeout = reconcileHeartbeat
	ctx = workflow.WithActivityOptions(ctx, opts)

	var a *activities.ScheduleActivities
	var res activities.ReconcileSchedulesResult
	if err := workflow.ExecuteActivity(ctx, a.ReconcileSchedules, &activities.ReconcileSchedulesInput{}).Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
