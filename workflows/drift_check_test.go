package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/workflows"
)

var (
	testKey  = workflows.ProfileKey{Space: "statworld", Name: "test_app", Version: "0.1.0", DriftType: "Spc"}
	testRef  = activities.ProfileRef{Space: "statworld", Name: "test_app", Version: "0.1.0", DriftType: "Spc"}
	testTick = time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
)

const testRunID = "drift:statworld/test_app/0.1.0/Spc-2026-03-26T12:00:00Z"

// fanOutRecorder stands in for the AlertFanOut workflow (written
// elsewhere): it records its input.
type fanOutRecorder struct{ inputs []workflows.AlertFanOutInput }

func (f *fanOutRecorder) run(_ workflow.Context, in *workflows.AlertFanOutInput) (*workflows.AlertFanOutResult, error) {
	f.inputs = append(f.inputs, *in)
	return &workflows.AlertFanOutResult{Delivered: 1}, nil
}

// newDriftEnv returns a test environment running DriftCheck as a schedule
// would: workflow id testRunID, TemporalScheduledStartTime testTick, and the
// clock at the tick plus a second.
func newDriftEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fanOutRecorder) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	fan := &fanOutRecorder{}
	env.RegisterWorkflowWithOptions(workflows.DriftCheck, workflow.RegisterOptions{Name: workflows.DriftCheckWorkflow})
	env.RegisterWorkflowWithOptions(fan.run, workflow.RegisterOptions{Name: workflows.AlertFanOutWorkflow})
	env.RegisterActivity(&activities.DriftActivities{})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testRunID})
	env.SetStartTime(testTick.Add(time.Second))
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		temporal.NewSearchAttributeKeyTime(workflows.ScheduledStartTimeAttr).ValueSet(testTick))))
	return env, fan
}

func loaded(maxRetries int) *activities.LoadProfileResult {
	return &activities.LoadProfileResult{
		RunID: testRunID, Found: true, Active: true, EntityID: 7, UID: "uid-7", DriftType: "Spc", Schedule: "0 0 * * * *",
		WindowStart: testTick.Add(-time.Hour), WindowEnd: testTick, MaxRetries: maxRetries,
	}
}

func driftResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) *workflows.DriftCheckResult {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.DriftCheckResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res
}

func TestDriftCheckOK(t *testing.T) {
	env, fan := newDriftEnv(t)
	var a *activities.DriftActivities
	env.OnActivity(a.LoadProfile, mock.Anything, &activities.LoadProfileInput{Profile: testRef, Tick: testTick, RunID: testRunID}).
		Return(loaded(3), nil).Once()
	env.OnActivity(a.ComputeAndStore, mock.Anything, &activities.ComputeAndStoreInput{
		EntityID: 7, DriftType: "Spc", RunID: testRunID, WindowStart: testTick.Add(-time.Hour), WindowEnd: testTick,
	}).Return(&activities.ComputeAndStoreResult{Evaluated: 3}, nil).Once()
	env.OnActivity(a.RecordRun, mock.Anything, &activities.RecordRunInput{Profile: testRef, Tick: testTick}).
		Return(&activities.RecordRunResult{Updated: 1}, nil).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	res := driftResult(t, env)
	assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusOK}, *res)
	assert.Empty(t, fan.inputs, "no alerts, no fan-out")
	env.AssertExpectations(t)
}

func TestDriftCheckAlertsStartFanOut(t *testing.T) {
	env, fan := newDriftEnv(t)
	var a *activities.DriftActivities
	env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).Return(loaded(3), nil).Once()
	env.OnActivity(a.ComputeAndStore, mock.Anything, mock.Anything).
		Return(&activities.ComputeAndStoreResult{Evaluated: 2, Alerts: 3, Inserted: 3, Stored: 3}, nil).Once()
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(&activities.RecordRunResult{Updated: 1}, nil).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	res := driftResult(t, env)
	assert.Equal(t, workflows.DriftStatusOK, res.Status)
	assert.Equal(t, 3, res.Alerts)
	assert.Equal(t, workflows.AlertFanOutID(testRunID), res.FanOutRun)
	require.Len(t, fan.inputs, 1, "one fan-out")
	assert.Equal(t, workflows.AlertFanOutInput{Profile: testKey, EntityID: 7, RunID: testRunID, RunAt: testTick}, fan.inputs[0])
	env.AssertExpectations(t)
}

// The run id stored with the alerts and naming the fan-out comes from
// LoadProfile's result, so a replay under a placeholder workflow id issues
// the same commands as the original run.
func TestDriftCheckRunIDComesFromHistory(t *testing.T) {
	const original = "drift:statworld/test_app/0.1.0/Spc-original"
	env, fan := newDriftEnv(t)
	var a *activities.DriftActivities
	l := loaded(3)
	l.RunID = original
	env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).Return(l, nil).Once()
	env.OnActivity(a.ComputeAndStore, mock.Anything, mock.MatchedBy(func(in *activities.ComputeAndStoreInput) bool {
		return in.RunID == original
	})).Return(&activities.ComputeAndStoreResult{Alerts: 1, Inserted: 1, Stored: 1}, nil).Once()
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(&activities.RecordRunResult{Updated: 1}, nil).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	assert.Equal(t, workflows.AlertFanOutID(original), driftResult(t, env).FanOutRun)
	require.Len(t, fan.inputs, 1)
	assert.Equal(t, original, fan.inputs[0].RunID)
	env.AssertExpectations(t)
}

func TestDriftCheckInvalidProfileIsRecordedFailed(t *testing.T) {
	env, fan := newDriftEnv(t)
	var a *activities.DriftActivities
	env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).Return(loaded(3), nil).Once()
	env.OnActivity(a.ComputeAndStore, mock.Anything, mock.Anything).
		Return(nil, temporal.NewNonRetryableApplicationError(`invalid drift profile: spc rule "8 16 4": want 8 integers`,
			activities.ErrTypeInvalidProfile, nil)).Once()
	var recorded *activities.RecordRunInput
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in *activities.RecordRunInput) (*activities.RecordRunResult, error) {
			recorded = in
			return &activities.RecordRunResult{Updated: 1}, nil
		}).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	res := driftResult(t, env)
	assert.Equal(t, workflows.DriftStatusFailed, res.Status)
	assert.Equal(t, `compute drift: invalid drift profile: spc rule "8 16 4": want 8 integers`, res.Reason)
	require.NotNil(t, recorded)
	assert.Equal(t, activities.RecordRunInput{Profile: testRef, Tick: testTick, Failed: true, Reason: res.Reason}, *recorded,
		"failed, with the reason, window consumed")
	assert.Empty(t, fan.inputs)
	env.AssertExpectations(t) // ComputeAndStore ran once: not retried
}

func TestDriftCheckLoadInvalidScheduleIsRecordedFailed(t *testing.T) {
	env, _ := newDriftEnv(t)
	var a *activities.DriftActivities
	env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).
		Return(nil, temporal.NewNonRetryableApplicationError(`invalid drift profile: schedule "0 0 * * *"`,
			activities.ErrTypeInvalidProfile, nil)).Once()
	env.OnActivity(a.RecordRun, mock.Anything, mock.MatchedBy(func(in *activities.RecordRunInput) bool {
		return in.Failed && !in.RetryWindow && in.Reason == `load profile: invalid drift profile: schedule "0 0 * * *"`
	})).Return(&activities.RecordRunResult{Updated: 1}, nil).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	res := driftResult(t, env)
	assert.Equal(t, workflows.DriftStatusFailed, res.Status)
	env.AssertExpectations(t)
}

func TestDriftCheckTransientErrorIsRetried(t *testing.T) {
	env, _ := newDriftEnv(t)
	var a *activities.DriftActivities
	env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).Return(loaded(3), nil).Once()
	env.OnActivity(a.ComputeAndStore, mock.Anything, mock.Anything).
		Return(nil, errors.New("dial tcp 127.0.0.1:5432: connection refused")).Twice()
	env.OnActivity(a.ComputeAndStore, mock.Anything, mock.Anything).
		Return(&activities.ComputeAndStoreResult{Evaluated: 1}, nil).Once()
	env.OnActivity(a.RecordRun, mock.Anything, &activities.RecordRunInput{Profile: testRef, Tick: testTick}).
		Return(&activities.RecordRunResult{Updated: 1}, nil).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	res := driftResult(t, env)
	assert.Equal(t, workflows.DriftStatusOK, res.Status)
	env.AssertExpectations(t)
}

func TestDriftCheckRetriesExhausted(t *testing.T) {
	const maxRetries = 2
	env, fan := newDriftEnv(t)
	var a *activities.DriftActivities
	env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).Return(loaded(maxRetries), nil).Once()
	env.OnActivity(a.ComputeAndStore, mock.Anything, mock.Anything).
		Return(nil, errors.New("connection refused")).Times(1 + maxRetries)
	var recorded *activities.RecordRunInput
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in *activities.RecordRunInput) (*activities.RecordRunResult, error) {
			recorded = in
			return &activities.RecordRunResult{Updated: 1}, nil
		}).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	require.NotNil(t, recorded)
	assert.Equal(t, activities.RecordRunInput{
		Profile: testRef, Tick: testTick, Failed: true, RetryWindow: true,
		Reason: "compute drift: connection refused (after 3 attempts)",
	}, *recorded, "failed, and the next window covers this one")
	assert.Empty(t, fan.inputs)
	env.AssertExpectations(t)
}

func TestDriftCheckSkipped(t *testing.T) {
	tests := []struct {
		name   string
		loaded *activities.LoadProfileResult
	}{
		{name: "missing", loaded: &activities.LoadProfileResult{WindowEnd: testTick, SkipReason: "profile not found"}},
		{name: "inactive", loaded: &activities.LoadProfileResult{Found: true, EntityID: 7, WindowEnd: testTick, SkipReason: "profile is inactive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := newDriftEnv(t)
			var a *activities.DriftActivities
			env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).Return(tt.loaded, nil).Once()

			env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

			res := driftResult(t, env)
			assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusSkipped, Reason: tt.loaded.SkipReason}, *res)
			env.AssertExpectations(t) // nothing computed, nothing recorded
		})
	}
}

func TestDriftCheckWaitsForLateRecords(t *testing.T) {
	env, _ := newDriftEnv(t)
	var a *activities.DriftActivities
	l := loaded(3)
	l.Lateness = 30 * time.Second
	env.OnActivity(a.LoadProfile, mock.Anything, mock.Anything).Return(l, nil).Once()
	var computedAt time.Time
	env.OnActivity(a.ComputeAndStore, mock.Anything, mock.Anything).Return(
		func(context.Context, *activities.ComputeAndStoreInput) (*activities.ComputeAndStoreResult, error) {
			computedAt = env.Now()
			return &activities.ComputeAndStoreResult{}, nil
		}).Once()
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(&activities.RecordRunResult{}, nil).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	assert.Equal(t, workflows.DriftStatusOK, driftResult(t, env).Status)
	assert.False(t, computedAt.Before(testTick.Add(30*time.Second)), "computed at %s, want >= tick + 30s", computedAt)
}

func TestDriftCheckTickFallsBackToStartTime(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.DriftCheck, workflow.RegisterOptions{Name: workflows.DriftCheckWorkflow})
	env.RegisterActivity(&activities.DriftActivities{})
	start := time.Date(2026, 3, 26, 12, 0, 5, 123456789, time.UTC)
	env.SetStartTime(start)
	var a *activities.DriftActivities
	env.OnActivity(a.LoadProfile, mock.Anything, mock.MatchedBy(func(in *activities.LoadProfileInput) bool {
		return in.Profile == testRef && in.Tick.Equal(start.Truncate(time.Microsecond))
	})).
		Return(&activities.LoadProfileResult{SkipReason: "profile is inactive"}, nil).Once()

	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: testKey})

	assert.Equal(t, workflows.DriftStatusSkipped, driftResult(t, env).Status)
	env.AssertExpectations(t)
}

func TestDriftCheckNilInput(t *testing.T) {
	env, _ := newDriftEnv(t)
	env.ExecuteWorkflow(workflows.DriftCheckWorkflow, nil)
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, "InvalidInput", appErr.Type())
}
