package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/alerting"
	"github.com/scoutergo/server/internal/drift"
	"github.com/scoutergo/server/workflows"
)

var runAt = time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)

func fanOutInput() *workflows.AlertFanOutInput {
	return &workflows.AlertFanOutInput{
		Profile:  workflows.ProfileKey{Space: "repo_1", Name: "model_1", Version: "1.0.0", DriftType: "Custom"},
		EntityID: 7,
		RunID:    "drift:repo_1/model_1/1.0.0/Custom-2026-03-26T12:00:00Z",
		RunAt:    runAt,
	}
}

func ptr[T any](v T) *T { return &v }

func customAlert(metric string, observed float64) drift.AlertMap {
	return drift.AlertMap{Custom: &drift.MetricAlert{MetricName: metric, BaselineValue: 5, ObservedValue: observed,
		Delta: ptr(1.0), AlertThreshold: drift.Above}}
}

func newFanOutEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *activities.AlertActivities) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *activities.AlertActivities
	env.RegisterActivity(a)
	workflows.RegisterWorkflows(env)
	return env, a
}

func deliverFor(channel alerting.Channel, key string) any {
	return mock.MatchedBy(func(in *activities.DeliverAlertInput) bool {
		return in.Target.Channel == channel && in.MessageKey == key
	})
}

// TestAlertFanOutTwoChannels: two channels, two Custom alerts, so four
// deliveries. Slack's first message fails once (retryable) then succeeds;
// OpsGenie rejects its second message for good (no retry); the others
// succeed at once.
func TestAlertFanOutTwoChannels(t *testing.T) {
	env, a := newFanOutEnv(t)
	plan := &activities.LoadAlertRunResult{
		Space: "repo_1", Name: "model_1", Version: "1.0.0",
		Targets: []activities.AlertTarget{
			{Channel: alerting.Slack, Requested: alerting.Slack, SlackChannel: "#ml"},
			{Channel: alerting.OpsGenie, Requested: alerting.OpsGenie, Team: "ml", Priority: "P5"},
		},
		Alerts:     []drift.AlertMap{customAlert("mae", 10), customAlert("mse", 14)},
		MaxRetries: 3,
	}
	env.OnActivity(a.LoadAlertRun, mock.Anything, mock.MatchedBy(func(in *activities.LoadAlertRunInput) bool {
		return in.EntityID == 7 && in.RunAt.Equal(runAt) && in.Space == "repo_1"
	})).Return(plan, nil).Once()

	delivered := &activities.DeliverAlertResult{Status: activities.ResultDelivered, Attempts: 1}
	env.OnActivity(a.DeliverAlert, mock.Anything, deliverFor(alerting.Slack, "custom:mae")).
		Return(nil, errors.New("slack answered status 500: oops")).Once()
	env.OnActivity(a.DeliverAlert, mock.Anything, deliverFor(alerting.Slack, "custom:mae")).
		Return(&activities.DeliverAlertResult{Status: activities.ResultDelivered, Attempts: 2}, nil).Once()
	env.OnActivity(a.DeliverAlert, mock.Anything, deliverFor(alerting.Slack, "custom:mse")).Return(delivered, nil).Once()
	env.OnActivity(a.DeliverAlert, mock.Anything, deliverFor(alerting.OpsGenie, "custom:mae")).
		Return(&activities.DeliverAlertResult{Status: activities.ResultSkipped, Attempts: 1}, nil).Once()
	env.OnActivity(a.DeliverAlert, mock.Anything, deliverFor(alerting.OpsGenie, "custom:mse")).
		Return(nil, temporal.NewNonRetryableApplicationError("opsgenie rejected the alert: status 401",
			activities.ErrTypeAlertDeliveryRejected, nil)).Once()

	env.ExecuteWorkflow(workflows.AlertFanOutWorkflow, fanOutInput())

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var got workflows.AlertFanOutResult
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.Equal(t, workflows.AlertFanOutResult{Delivered: 2, Failed: 1, Skipped: 1}, got)
	env.AssertExpectations(t) // every Once() was used: the retry happened, the rejection was not retried
	env.AssertNumberOfCalls(t, "DeliverAlert", 5)
}

// TestAlertFanOutRetriesUpToMaxRetries: a delivery that keeps failing is
// tried 1 + MAX_RETRIES times, then counted as failed.
func TestAlertFanOutRetriesUpToMaxRetries(t *testing.T) {
	env, a := newFanOutEnv(t)
	env.OnActivity(a.LoadAlertRun, mock.Anything, mock.Anything).Return(&activities.LoadAlertRunResult{
		Targets:    []activities.AlertTarget{{Channel: alerting.Console, Requested: alerting.Slack}},
		Alerts:     []drift.AlertMap{customAlert("mae", 10)},
		MaxRetries: 2,
	}, nil).Once()
	env.OnActivity(a.DeliverAlert, mock.Anything, mock.Anything).Return(nil, errors.New("down")).Times(3)

	env.ExecuteWorkflow(workflows.AlertFanOutWorkflow, fanOutInput())

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var got workflows.AlertFanOutResult
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.Equal(t, workflows.AlertFanOutResult{Failed: 1}, got)
	env.AssertExpectations(t)
}

func TestAlertFanOutNoAlerts(t *testing.T) {
	env, a := newFanOutEnv(t)
	env.OnActivity(a.LoadAlertRun, mock.Anything, mock.Anything).
		Return(&activities.LoadAlertRunResult{Targets: []activities.AlertTarget{}, Alerts: []drift.AlertMap{}}, nil).Once()

	env.ExecuteWorkflow(workflows.AlertFanOutWorkflow, fanOutInput())

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var got workflows.AlertFanOutResult
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.Equal(t, workflows.AlertFanOutResult{}, got)
	env.AssertNumberOfCalls(t, "DeliverAlert", 0)
}

func TestAlertFanOutLoadFails(t *testing.T) {
	env, a := newFanOutEnv(t)
	env.OnActivity(a.LoadAlertRun, mock.Anything, mock.Anything).
		Return(nil, errors.New("database is down")).Times(1 + workflows.AlertLoadMaxRetries)

	env.ExecuteWorkflow(workflows.AlertFanOutWorkflow, fanOutInput())

	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "database is down")
	env.AssertExpectations(t)
}

func TestAlertFanOutRejectsBadInput(t *testing.T) {
	for name, in := range map[string]*workflows.AlertFanOutInput{
		"nil":       nil,
		"no run id": {EntityID: 1, RunAt: runAt},
		"no entity": {RunID: "r", RunAt: runAt},
		"no time":   {RunID: "r", EntityID: 1},
	} {
		t.Run(name, func(t *testing.T) {
			env, _ := newFanOutEnv(t)
			env.ExecuteWorkflow(workflows.AlertFanOutWorkflow, in)
			require.True(t, env.IsWorkflowCompleted())
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr)
			assert.Equal(t, "InvalidInput", appErr.Type())
		})
	}
}

func TestAlertMessages(t *testing.T) {
	spc := []drift.AlertMap{
		{Spc: &drift.SPCAlert{Feature: "col_1", Kind: "OutOfBounds", Zone: "Zone4"}},
		{Spc: &drift.SPCAlert{Feature: "col_2", Kind: "Consecutive", Zone: "Zone1"}},
	}
	psi := []drift.AlertMap{{Psi: &drift.PSIAlert{Feature: "f1", Drift: 0.31, Threshold: 0.042}}}
	genai := drift.AlertMap{GenAI: &drift.MetricAlert{MetricName: "genai_workflow_metric", BaselineValue: 0.8,
		ObservedValue: 0.33, Delta: ptr(0.01), AlertThreshold: drift.Below}}
	slack := activities.AlertTarget{Channel: alerting.Slack, Requested: alerting.Slack, SlackChannel: "#a"}
	console := activities.AlertTarget{Channel: alerting.Console, Requested: alerting.OpsGenie, Team: "t"}
	opsgenie := activities.AlertTarget{Channel: alerting.OpsGenie, Requested: alerting.OpsGenie, Team: "t", Priority: "P1"}

	type msg struct{ channel, key, text string }
	tests := []struct {
		name    string
		targets []activities.AlertTarget
		alerts  []drift.AlertMap
		want    []msg
	}{
		{
			name: "spc is one message, formatted per channel", targets: []activities.AlertTarget{slack, console}, alerts: spc,
			want: []msg{
				{"Slack", "spc", "Drift has been detected for the following features:\ncol_1: \n    Out of bounds error in Zone 4\ncol_2: \n    Consecutive error in Zone 1\n"},
				{"Console", "spc", "Features that have drifted: \n    col_1: \n        Kind: Out of bounds\n        Zone: Zone 4\n    col_2: \n        Kind: Consecutive\n        Zone: Zone 1\n"},
			},
		},
		{
			name: "psi is one message", targets: []activities.AlertTarget{opsgenie}, alerts: psi,
			want: []msg{{"OpsGenie", "psi", "PSI Drift has been detected for the following features:\n    f1: \n        Drift Value: Feature 'f1' has experienced drift, with a current PSI score of 0.31 that exceeds the configured threshold of 0.042.\n"}},
		},
		{
			name: "one message per metric alert, repeated names get a suffix", targets: []activities.AlertTarget{console},
			alerts: []drift.AlertMap{customAlert("mse", 14), genai, customAlert("mse", 15)},
			want: []msg{
				{"Console", "custom:mse", "The mse metric value has increased beyond the threshold (initial value + 1)\nInitial Metric Value: 5\nCurrent Metric Value: 14\n"},
				{"Console", "genai:genai_workflow_metric", "The observed genai_workflow_metric metric value has dropped below the threshold (initial value - 0.01)\nInitial Metric Value: 0.8\nCurrent Metric Value: 0.33\n"},
				{"Console", "custom:mse#2", "The mse metric value has increased beyond the threshold (initial value + 1)\nInitial Metric Value: 5\nCurrent Metric Value: 15\n"},
			},
		},
		{name: "no alerts", targets: []activities.AlertTarget{slack}},
		{name: "no targets", alerts: spc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := &activities.LoadAlertRunResult{Space: "s", Name: "n", Version: "1.0.0", Targets: tt.targets, Alerts: tt.alerts}
			got := workflows.AlertMessages("run-1", 3, plan)
			require.Len(t, got, len(tt.want))
			for i, w := range tt.want {
				g := got[i]
				assert.Equal(t, w.channel, string(g.Target.Channel), "message %d channel", i)
				assert.Equal(t, w.key, g.MessageKey, "message %d key", i)
				assert.Equal(t, w.text, g.Description, "message %d text", i)
				assert.Equal(t, "run-1", g.RunID)
				assert.Equal(t, int32(3), g.EntityID)
				assert.Equal(t, [3]string{"s", "n", "1.0.0"}, [3]string{g.Space, g.Name, g.Version})
				assert.Equal(t, "scouter:run-1:"+w.key, g.DedupKey())
			}
		})
	}
	assert.Nil(t, workflows.AlertMessages("r", 1, nil))
}

func TestNonRetryableErrorTypesListsAlertRejection(t *testing.T) {
	assert.Contains(t, workflows.NonRetryableErrorTypes(), activities.ErrTypeAlertDeliveryRejected)
}
