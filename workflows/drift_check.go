package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/activities"
)

// Timeouts of the DriftCheck activities and the retries of its first one.
const (
	// DriftLoadTimeout bounds reading the profile row.
	DriftLoadTimeout = 30 * time.Second
	// DriftComputeTimeout bounds aggregating and evaluating one window
	// (about a second for a million records) and storing its alerts.
	DriftComputeTimeout = 10 * time.Minute
	// DriftComputeHeartbeat: ComputeAndStore heartbeats every
	// activities.HeartbeatInterval, so a worker that dies mid-check holds
	// the profile's next ticks (overlap policy SKIP) for this long, not
	// DriftComputeTimeout.
	DriftComputeHeartbeat = 3 * activities.HeartbeatInterval
	// DriftRecordTimeout bounds writing the run's outcome.
	DriftRecordTimeout = 30 * time.Second
	// DriftLoadMaxRetries: LoadProfile runs before the workflow knows the
	// worker's MAX_RETRIES (it returns it), so it uses MAX_RETRIES' default.
	DriftLoadMaxRetries = activities.DefaultMaxRetries
)

// DriftCheckResult.Status values.
const (
	DriftStatusOK      = "ok"
	DriftStatusFailed  = "failed"
	DriftStatusSkipped = "skipped"
)

// ScheduledStartTimeAttr is the search attribute in which Temporal records
// the scheduled time of a run started by a Schedule.
const ScheduledStartTimeAttr = "TemporalScheduledStartTime"

// DriftCheck runs one schedule tick of a drift profile:
//
//  1. LoadProfile: the profile row and the window (previous tick, this
//     tick]; a missing or inactive profile, or a tick that is not after the
//     previous run, ends the run as skipped without writing anything;
//  2. a durable timer until tick + lateness, so records stamped before the
//     tick that are still in flight land in this window;
//  3. ComputeAndStore: aggregate the window in Postgres, evaluate it and
//     store the alerts (idempotent, created_at = tick, run_id = workflow id);
//  4. RecordRun: previous_run = tick, next_run, status 'pending';
//  5. when the run has alerts, start the AlertFanOut child (id
//     AlertFanOutID(run id), abandoned on close so a slow channel never
//     delays the next tick; an already started fan-out counts as started).
//
// The tick is the run's TemporalScheduledStartTime, or its start time when
// it was not started by a Schedule, truncated to the microsecond (Postgres'
// resolution) so the alerts' created_at equals it exactly.
//
// A profile that cannot be evaluated (InvalidProfile, InvalidDriftInput)
// is recorded as 'failed' with the reason, and the workflow completes with
// Status "failed", so the next tick runs as usual. A transient error is
// retried, 1 + MAX_RETRIES attempts in all; when they are spent the run is
// recorded 'failed' too, previous_run stays (the next window covers this
// one as well), and the workflow fails with the error.
func DriftCheck(ctx workflow.Context, in *DriftCheckInput) (*DriftCheckResult, error) {
	if in == nil {
		return nil, temporal.NewNonRetryableApplicationError("drift check input is missing", "InvalidInput", nil)
	}
	ref := activities.ProfileRef{
		Space: in.Profile.Space, Name: in.Profile.Name, Version: in.Profile.Version, DriftType: in.Profile.DriftType,
	}
	runID := workflow.GetInfo(ctx).WorkflowExecution.ID
	tick := scheduledTick(ctx)
	logger := workflow.GetLogger(ctx)
	var a *activities.DriftActivities

	lctx := workflow.WithActivityOptions(ctx, ActivityOptions(DriftLoadTimeout, DriftLoadMaxRetries))
	var loaded activities.LoadProfileResult
	if err := workflow.ExecuteActivity(lctx, a.LoadProfile, &activities.LoadProfileInput{Profile: ref, Tick: tick, RunID: runID}).
		Get(ctx, &loaded); err != nil {
		return recordFailure(ctx, ref, tick, DriftLoadMaxRetries, "load profile", err)
	}
	// From here on the run id comes out of the history (see
	// LoadProfileResult.RunID).
	if loaded.RunID != "" {
		runID = loaded.RunID
	}
	if loaded.SkipReason != "" {
		logger.Info("drift check skipped", "profile", ref.String(), "reason", loaded.SkipReason)
		return &DriftCheckResult{Status: DriftStatusSkipped, Reason: loaded.SkipReason}, nil
	}

	if wait := loaded.WindowEnd.Add(loaded.Lateness).Sub(workflow.Now(ctx)); wait > 0 {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("wait for late records: %w", err)
		}
	}

	copts := ActivityOptions(DriftComputeTimeout, loaded.MaxRetries)
	copts.HeartbeatTimeout = DriftComputeHeartbeat
	cctx := workflow.WithActivityOptions(ctx, copts)
	var computed activities.ComputeAndStoreResult
	if err := workflow.ExecuteActivity(cctx, a.ComputeAndStore, &activities.ComputeAndStoreInput{
		EntityID: loaded.EntityID, DriftType: loaded.DriftType, RunID: runID,
		WindowStart: loaded.WindowStart, WindowEnd: loaded.WindowEnd,
	}).Get(ctx, &computed); err != nil {
		return recordFailure(ctx, ref, tick, loaded.MaxRetries, "compute drift", err)
	}

	rctx := workflow.WithActivityOptions(ctx, ActivityOptions(DriftRecordTimeout, loaded.MaxRetries))
	if err := workflow.ExecuteActivity(rctx, a.RecordRun, &activities.RecordRunInput{Profile: ref, Tick: tick}).
		Get(ctx, nil); err != nil {
		return nil, fmt.Errorf("record run: %w", err)
	}

	res := &DriftCheckResult{Status: DriftStatusOK, Alerts: int(computed.Stored)}
	if computed.SkipReason != "" {
		res.Status, res.Reason = DriftStatusSkipped, computed.SkipReason
	}
	if computed.Stored == 0 {
		return res, nil
	}
	fanOut, err := startFanOut(ctx, &AlertFanOutInput{Profile: in.Profile, EntityID: loaded.EntityID, RunID: runID, RunAt: tick})
	if err != nil {
		return nil, err
	}
	res.FanOutRun = fanOut
	return res, nil
}

// scheduledTick is the run's schedule tick (see DriftCheck).
func scheduledTick(ctx workflow.Context) time.Time {
	key := temporal.NewSearchAttributeKeyTime(ScheduledStartTimeAttr)
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(key); ok && !t.IsZero() {
		return t.UTC().Truncate(time.Microsecond)
	}
	return workflow.GetInfo(ctx).WorkflowStartTime.UTC().Truncate(time.Microsecond)
}

// startFanOut starts the AlertFanOut child and waits until it has started
// (not until it ends). It returns the child's workflow id.
func startFanOut(ctx workflow.Context, in *AlertFanOutInput) (string, error) {
	id := AlertFanOutID(in.RunID)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	})
	err := workflow.ExecuteChildWorkflow(cctx, AlertFanOutWorkflow, in).GetChildWorkflowExecution().Get(ctx, nil)
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	if err != nil && !errors.As(err, &started) {
		return "", fmt.Errorf("start alert fan-out %s: %w", id, err)
	}
	return id, nil
}

// recordFailure records a run whose step failed with err and decides the
// workflow's outcome: a permanent error completes it with Status "failed",
// a transient one (retries spent) fails it after recording.
func recordFailure(ctx workflow.Context, ref activities.ProfileRef, tick time.Time, maxRetries int, step string, err error) (*DriftCheckResult, error) {
	permanent := isPermanent(err)
	reason := step + ": " + failureMessage(err)
	if !permanent {
		reason = fmt.Sprintf("%s (after %d attempts)", reason, 1+max(maxRetries, 0))
	}
	var a *activities.DriftActivities
	rctx := workflow.WithActivityOptions(ctx, ActivityOptions(DriftRecordTimeout, maxRetries))
	recErr := workflow.ExecuteActivity(rctx, a.RecordRun, &activities.RecordRunInput{
		Profile: ref, Tick: tick, Failed: true, Reason: reason, RetryWindow: !permanent,
	}).Get(ctx, nil)
	if !permanent {
		if recErr != nil {
			workflow.GetLogger(ctx).Error("record failed drift run", "profile", ref.String(), "err", recErr)
		}
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	if recErr != nil {
		return nil, fmt.Errorf("record failed run (%s): %w", reason, recErr)
	}
	workflow.GetLogger(ctx).Warn("drift check failed", "profile", ref.String(), "reason", reason)
	return &DriftCheckResult{Status: DriftStatusFailed, Reason: reason}, nil
}

// isPermanent reports whether err is one of the drift activities'
// "cannot be evaluated" errors.
func isPermanent(err error) bool {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return false
	}
	switch appErr.Type() {
	case activities.ErrTypeInvalidProfile, activities.ErrTypeInvalidDriftInput:
		return true
	}
	return false
}

// failureMessage is the root message of an activity failure, without the
// activity error's scheduling details.
func failureMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return "timed out (" + timeoutErr.TimeoutType().String() + ")"
	}
	return err.Error()
}
