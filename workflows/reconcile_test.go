package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/workflows"
)

func TestReconcileSchedulesWorkflow(t *testing.T) {
	done := &activities.ReconcileSchedulesResult{Profiles: 3, Created: []string{"drift:s/n/1.0.0/Spc"}, Unchanged: 2}
	tests := []struct {
		name      string
		failures  int // attempts failing before the activity succeeds
		wantCalls int
		wantErr   string
	}{
		{name: "one pass", wantCalls: 1},
		{name: "a failed attempt is retried", failures: 2, wantCalls: 3},
		{name: "three attempts at most", failures: 5, wantCalls: 3, wantErr: "temporal unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.RegisterWorkflowWithOptions(workflows.ReconcileSchedules, workflow.RegisterOptions{Name: workflows.ReconcileSchedulesWorkflow})
			var a *activities.ScheduleActivities
			env.RegisterActivity(a)
			calls := 0
			env.OnActivity(a.ReconcileSchedules, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, in *activities.ReconcileSchedulesInput) (*activities.ReconcileSchedulesResult, error) {
					calls++
					info := activity.GetInfo(ctx)
					assert.Equal(t, time.Minute, info.HeartbeatTimeout, "heartbeat timeout")
					assert.Equal(t, 10*time.Minute, info.StartToCloseTimeout, "start-to-close timeout")
					assert.NotNil(t, in)
					if calls <= tt.failures {
						return nil, errors.New("temporal unavailable")
					}
					return done, nil
				})

			env.ExecuteWorkflow(workflows.ReconcileSchedulesWorkflow, &workflows.ReconcileSchedulesInput{})
			require.True(t, env.IsWorkflowCompleted())
			assert.Equal(t, tt.wantCalls, calls, "activity attempts")
			if tt.wantErr != "" {
				require.Error(t, env.GetWorkflowError())
				assert.Contains(t, env.GetWorkflowError().Error(), tt.wantErr)
				return
			}
			require.NoError(t, env.GetWorkflowError())
			var got activities.ReconcileSchedulesResult
			require.NoError(t, env.GetWorkflowResult(&got))
			assert.Equal(t, *done, got)
		})
	}
}
