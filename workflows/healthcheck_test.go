package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scoutergo/server/workflows"
)

func TestHealthCheckWorkflow(t *testing.T) {
	tests := []struct {
		name       string
		probes     []workflows.Probe
		wantProbes []workflows.ProbeResult
		wantErr    string
	}{
		{
			name:       "no probes",
			wantProbes: []workflows.ProbeResult{},
		},
		{
			name: "all pass, sorted by name",
			probes: []workflows.Probe{
				{Name: "zeta", Check: func(context.Context) error { return nil }},
				{Name: "alpha", Check: func(context.Context) error { return nil }},
			},
			wantProbes: []workflows.ProbeResult{{Name: "alpha", OK: true}, {Name: "zeta", OK: true}},
		},
		{
			name: "one fails",
			probes: []workflows.Probe{
				{Name: "postgres", Check: func(context.Context) error { return errors.New("connection refused") }},
				{Name: "nil check"},
			},
			wantProbes: []workflows.ProbeResult{
				{Name: "nil check", Error: "probe has no check function"},
				{Name: "postgres", Error: "connection refused"},
			},
			wantErr: "probes failed: nil check: probe has no check function; postgres: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.RegisterActivity(&workflows.HealthActivities{Identity: "w1", Probes: tt.probes})
			workflows.RegisterWorkflows(env)

			env.ExecuteWorkflow(workflows.HealthCheckWorkflow, &workflows.HealthCheckInput{Nonce: "n1"})
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var got workflows.HealthCheckResult
			require.NoError(t, env.GetWorkflowResult(&got))
			for i := range got.Probes {
				got.Probes[i].DurationMS = 0
			}
			assert.Equal(t, "n1", got.Nonce)
			assert.Equal(t, "w1", got.Worker)
			assert.Equal(t, tt.wantProbes, got.Probes)
			if tt.wantErr == "" {
				assert.NoError(t, got.Err())
			} else {
				assert.EqualError(t, got.Err(), tt.wantErr)
			}
		})
	}
}

func TestHealthCheckWorkflowRunsProbeOnce(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *workflows.HealthActivities
	env.RegisterActivity(a)
	workflows.RegisterWorkflows(env)
	env.OnActivity(a.ProbeWorker, mock.Anything, mock.Anything).
		Return(nil, temporal.NewApplicationError("worker broken", "Broken")).Once()

	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, &workflows.HealthCheckInput{Nonce: "n"})
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "worker broken")
	env.AssertExpectations(t)
}

func TestHealthCheckWorkflowRejectsNilInput(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(&workflows.HealthActivities{})
	workflows.RegisterWorkflows(env)
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, nil)
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	assert.Equal(t, "InvalidInput", appErr.Type())
}
