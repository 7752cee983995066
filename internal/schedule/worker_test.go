package schedule_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/schedule"
	"github.com/scoutergo/server/workflows"
)

var update = flag.Bool("update", false, "record the ReconcileSchedules history into workflows/testdata/histories")

const corpusFile = "../../workflows/testdata/histories/reconcile_schedules.json"

// historyJSON renders a closed workflow's history the way `temporal
// workflow show --output json` does.
func historyJSON(ctx context.Context, t *testing.T, c client.Client, workflowID, runID string) []byte {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	require.NotEmpty(t, h.Events)
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	require.NoError(t, err)
	return append(b, '\n')
}

// TestReconcileWorkflowOnDevServer runs the worker side for real: a worker
// with ScheduleActivities over Postgres, the start-up reconcile, and the
// reconcile schedule firing.
func TestReconcileWorkflowOnDevServer(t *testing.T) {
	e := newEnv(t, schedule.Options{TaskQueue: "scouter", OrphanGrace: -1})
	pool := pgtest.New(t)
	ps := newProfiles(t, pool, nil) // no syncer: only the reconcile creates schedules
	active := ps.register("model", cron.EveryHour, true, false)
	inactive := ps.register("other", cron.EveryDay, false, false)
	orphan := workflows.DriftScheduleID(workflows.ProfileKey{Space: ps.space, Name: "gone", Version: "1.0.0", DriftType: "Custom"})
	createByHand(t, e, orphan)
	e.waitListed(t, orphan)

	w := sdkworker.New(e.c, e.taskQueue, sdkworker.Options{})
	workflows.Register(w, &activities.ScheduleActivities{Profiles: dbsqlc.New(pool), Schedules: e.m})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	startup := func() (*activities.ReconcileSchedulesResult, string) {
		t.Helper()
		require.NoError(t, e.m.StartWorkerReconcile(ctx))
		run := e.c.GetWorkflow(ctx, workflows.ReconcileStartupID, "")
		var res activities.ReconcileSchedulesResult
		require.NoError(t, run.Get(ctx, &res))
		return &res, run.GetRunID()
	}

	res, runID := startup()
	id := workflows.DriftScheduleID
	assert.Equal(t, 2, res.Profiles)
	assert.ElementsMatch(t, []string{id(ps.key(active)), id(ps.key(inactive))}, res.Created)
	assert.Equal(t, []string{orphan}, res.Deleted)
	checkSchedule(t, e, schedule.Profile{Key: ps.key(active), UID: active.UID, Schedule: cron.EveryHour, Active: true})
	checkSchedule(t, e, schedule.Profile{Key: ps.key(inactive), UID: inactive.UID, Schedule: cron.EveryDay})
	assert.False(t, e.exists(t, orphan))

	d := e.describe(t, workflows.ReconcileScheduleID)
	require.Len(t, d.Schedule.Spec.Intervals, 1)
	assert.Equal(t, workflows.ReconcileInterval, d.Schedule.Spec.Intervals[0].Every)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	assert.False(t, d.Schedule.State.Paused)
	a := actionOf(t, d)
	assert.Equal(t, workflows.ReconcileSchedulesWorkflow, a.Workflow)
	assert.Equal(t, workflows.ReconcileScheduleID, a.ID)

	// A second worker start: the reconcile runs again (same id, new run)
	// and finds nothing to do; the reconcile schedule is unchanged.
	again, againRun := startup()
	assert.NotEqual(t, runID, againRun, "a new run under the same id")
	assert.Empty(t, again.Created)
	assert.Empty(t, again.Deleted)
	assert.Equal(t, 2, again.Unchanged)
	out, err := e.m.EnsureReconcileSchedule(ctx)
	require.NoError(t, err)
	assert.Equal(t, schedule.Unchanged, out)

	// The reconcile schedule's action works: trigger it and wait for the run.
	require.NoError(t, e.c.ScheduleClient().GetHandle(ctx, workflows.ReconcileScheduleID).Trigger(ctx, client.ScheduleTriggerOptions{}))
	var started *client.ScheduleWorkflowExecution
	require.Eventually(t, func() bool {
		d, err := e.c.ScheduleClient().GetHandle(ctx, workflows.ReconcileScheduleID).Describe(ctx)
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		started = d.Info.RecentActions[0].StartWorkflowResult
		return started != nil
	}, 20*time.Second, 50*time.Millisecond, "the triggered reconcile never started")
	t.Logf("scheduled run %s", started.WorkflowID)
	assert.True(t, strings.HasPrefix(started.WorkflowID, workflows.ReconcileScheduleID+"-"),
		"run id %q: the schedule id plus the action time", started.WorkflowID)
	var scheduled activities.ReconcileSchedulesResult
	require.NoError(t, e.c.GetWorkflow(ctx, started.WorkflowID, started.FirstExecutionRunID).Get(ctx, &scheduled))
	assert.Equal(t, 2, scheduled.Unchanged)

	// The history replays against the current code.
	data := historyJSON(ctx, t, e.c, workflows.ReconcileStartupID, runID)
	file := filepath.Join(t.TempDir(), "reconcile.json")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	r := sdkworker.NewWorkflowReplayer()
	workflows.RegisterWorkflows(r)
	require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, file))
	if *update {
		require.NoError(t, os.WriteFile(corpusFile, data, 0o644))
		t.Logf("wrote %s", corpusFile)
	}
}
