package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/internal/temporalclient/temporaltest"
	"github.com/scoutergo/server/workflows"
)

var recordDriftCheck = flag.Bool("record-driftcheck", false,
	"write the DriftCheck histories recorded by TestDriftCheckOnServer into testdata/histories")

// serverFanOut stands in for AlertFanOut on the test worker: it records
// the input of each run.
type serverFanOut struct {
	mu     sync.Mutex
	inputs []workflows.AlertFanOutInput
}

func (f *serverFanOut) run(_ workflow.Context, in *workflows.AlertFanOutInput) (*workflows.AlertFanOutResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, *in)
	return &workflows.AlertFanOutResult{Delivered: 1}, nil
}

func (f *serverFanOut) runs() []workflows.AlertFanOutInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]workflows.AlertFanOutInput(nil), f.inputs...)
}

type serverEnv struct {
	t     *testing.T
	ctx   context.Context
	c     client.Client
	pool  *pgxpool.Pool
	q     *dbsqlc.Queries
	queue string
	fan   *serverFanOut
	seq   int
}

const serverCustomProfile = `{
  "config": {
    "sample_size": 25, "space": "%[1]s", "name": "%[2]s", "version": "1.0.0", "uid": "uid-%[2]s",
    "alert_config": {
      "dispatch_config": {"Console": {"enabled": true}}, "schedule": "0 0 * * * *",
      "alert_conditions": {"mse": {"baseline_value": 12, "alert_threshold": "Above", "delta": 1}}
    },
    "drift_type": "Custom"
  },
  "metrics": {"mse": 12},
  "scouter_version": "0.25.0"
}`

// addProfile registers a Custom profile (or the given body) whose previous
// run was an hour ago and returns its key and entity id.
func (e *serverEnv) addProfile(name, driftType, body string, active bool) (workflows.ProfileKey, int32) {
	e.t.Helper()
	key := workflows.ProfileKey{Space: "drift-server-test", Name: name, Version: "1.0.0", DriftType: driftType}
	if body == "" {
		body = fmt.Sprintf(serverCustomProfile, key.Space, name)
	}
	ent, err := e.q.UpsertEntity(e.ctx, dbsqlc.UpsertEntityParams{
		UID: "uid-" + name, Space: key.Space, Name: name, Version: key.Version, DriftType: driftType,
	})
	require.NoError(e.t, err)
	prev := time.Now().UTC().Add(-time.Hour)
	_, err = e.q.InsertDriftProfile(e.ctx, dbsqlc.InsertDriftProfileParams{
		UID: "uid-" + name, EntityID: ent.ID, Name: name, Space: key.Space, Version: key.Version, DriftType: driftType,
		Profile: json.RawMessage(body), Active: active, Schedule: "0 0 * * * *", PreviousRun: &prev,
		ScouterVersion: "0.25.0", CreatedAt: prev,
	})
	require.NoError(e.t, err)
	return key, ent.ID
}

// addMSE stores an mse record stamped a few seconds ago (inside the next
// run's window).
func (e *serverEnv) addMSE(entityID int32, value float64) {
	e.t.Helper()
	_, err := e.q.InsertCustomDriftBatch(e.ctx, dbsqlc.InsertCustomDriftBatchParams{
		CreatedAt: []time.Time{time.Now().UTC().Add(-3 * time.Second)}, EntityID: []int32{entityID},
		Metric: []string{"mse"}, Value: []float64{value},
	})
	require.NoError(e.t, err)
}

// start runs DriftCheck directly (its tick is then its start time).
func (e *serverEnv) start(key workflows.ProfileKey) string {
	e.t.Helper()
	e.seq++
	id := fmt.Sprintf("%s-%d-%d", workflows.DriftScheduleID(key), time.Now().UnixNano(), e.seq)
	_, err := e.c.ExecuteWorkflow(e.ctx, client.StartWorkflowOptions{ID: id, TaskQueue: e.queue},
		workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: key})
	require.NoError(e.t, err)
	return id
}

// trigger runs DriftCheck from a Temporal Schedule, as in production, and
// returns the run's workflow id.
func (e *serverEnv) trigger(key workflows.ProfileKey) string {
	e.t.Helper()
	e.seq++
	schedID := fmt.Sprintf("%s-%d-%d", workflows.DriftScheduleID(key), time.Now().UnixNano(), e.seq)
	h, err := e.c.ScheduleClient().Create(e.ctx, client.ScheduleOptions{
		ID:   schedID,
		Spec: client.ScheduleSpec{},
		Action: &client.ScheduleWorkflowAction{
			ID: schedID, Workflow: workflows.DriftCheckWorkflow, TaskQueue: e.queue,
			Args: []any{&workflows.DriftCheckInput{Profile: key}},
		},
	})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = h.Delete(context.Background()) })
	require.NoError(e.t, h.Trigger(e.ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}))
	var id string
	require.Eventually(e.t, func() bool {
		d, err := h.Describe(e.ctx)
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		id = d.Info.RecentActions[0].StartWorkflowResult.WorkflowID
		return true
	}, 20*time.Second, 100*time.Millisecond, "schedule %s never started its run", schedID)
	return id
}

// sub returns e reporting to the subtest t.
func (e *serverEnv) sub(t *testing.T) *serverEnv {
	c := *e
	c.t = t
	return &c
}

func (e *serverEnv) result(id string) (*workflows.DriftCheckResult, error) {
	e.t.Helper()
	var res workflows.DriftCheckResult
	err := e.c.GetWorkflow(e.ctx, id, "").Get(e.ctx, &res)
	return &res, err
}

// tick returns the run's TemporalScheduledStartTime.
func (e *serverEnv) tick(id string) time.Time {
	e.t.Helper()
	d, err := e.c.DescribeWorkflow(e.ctx, id, "")
	require.NoError(e.t, err)
	p, ok := d.RawResponse.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.ScheduledStartTimeAttr]
	require.True(e.t, ok, "run %s has no %s", id, workflows.ScheduledStartTimeAttr)
	var t time.Time
	require.NoError(e.t, converter.GetDefaultDataConverter().FromPayload(p, &t))
	return t.UTC()
}

type serverAlert struct {
	CreatedAt time.Time
	RunID     string
	Key       string
}

func (e *serverEnv) alerts(entityID int32) []serverAlert {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT created_at, run_id, alert_key FROM scouter.drift_alert
		WHERE entity_id = $1 ORDER BY created_at, alert_key`, entityID)
	require.NoError(e.t, err)
	defer rows.Close()
	var out []serverAlert
	for rows.Next() {
		var a serverAlert
		require.NoError(e.t, rows.Scan(&a.CreatedAt, &a.RunID, &a.Key))
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
	}
	require.NoError(e.t, rows.Err())
	return out
}

type serverRun struct {
	PreviousRun time.Time
	Status      string
	Reason      *string
}

func (e *serverEnv) profileRun(entityID int32) serverRun {
	e.t.Helper()
	var r serverRun
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `SELECT previous_run, status, status_reason
		FROM scouter.drift_profile WHERE entity_id = $1`, entityID).Scan(&r.PreviousRun, &r.Status, &r.Reason))
	r.PreviousRun = r.PreviousRun.UTC()
	return r
}

func (e *serverEnv) exists(id string) bool {
	e.t.Helper()
	_, err := e.c.DescribeWorkflow(e.ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false
	}
	require.NoError(e.t, err)
	return true
}

// record fetches a closed run's history (as `temporal workflow show -o json`
// writes it), replays it against RegisterWorkflows, and with
// -record-driftcheck writes it to testdata/histories/driftcheck-<name>.json.
func (e *serverEnv) record(name, id string) {
	e.t.Helper()
	it := e.c.GetWorkflowHistory(e.ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(e.t, err)
		h.Events = append(h.Events, ev)
	}
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	require.NoError(e.t, err)
	data = append(data, '\n')

	file := filepath.Join(e.t.TempDir(), name+".json")
	require.NoError(e.t, os.WriteFile(file, data, 0o644))
	r := worker.NewWorkflowReplayer()
	workflows.RegisterWorkflows(r)
	require.NoError(e.t, r.ReplayWorkflowHistoryFromJSONFile(nil, file), "replay %s", name)
	if *recordDriftCheck {
		dst := filepath.Join("testdata", "histories", "driftcheck-"+name+".json")
		require.NoError(e.t, os.WriteFile(dst, data, 0o644))
		e.t.Logf("wrote %s", dst)
	}
}

// TestDriftCheckOnServer runs every DriftCheck variant on a real Temporal
// server with the real activities on a real database (AlertFanOut is a
// stand-in), checks what each run wrote, and replays its history. With
// -record-driftcheck the histories become the replay corpus.
func TestDriftCheckOnServer(t *testing.T) {
	addr := temporaltest.Address(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: temporaltest.Namespace},
		logging.Discard(), temporalclient.Options{Identity: "driftcheck-recorder"})
	require.NoError(t, err)
	defer c.Close()

	e := &serverEnv{t: t, ctx: ctx, c: c, pool: pool, q: dbsqlc.New(pool), fan: &serverFanOut{},
		queue: fmt.Sprintf("scouter-test-driftcheck-%d", time.Now().UnixNano())}
	acts, err := activities.NewDriftActivities(activities.DriftDeps{DB: pool, MaxRetries: 1, Lateness: time.Second})
	require.NoError(t, err)
	w := worker.New(c, e.queue, worker.Options{Identity: "driftcheck-recorder"})
	w.RegisterWorkflowWithOptions(workflows.DriftCheck, workflow.RegisterOptions{Name: workflows.DriftCheckWorkflow})
	w.RegisterWorkflowWithOptions(e.fan.run, workflow.RegisterOptions{Name: workflows.AlertFanOutWorkflow})
	w.RegisterActivity(acts)
	require.NoError(t, w.Start())
	defer w.Stop()

	t.Run("alerts", func(t *testing.T) {
		e := e.sub(t)
		key, id := e.addProfile("alerts", "Custom", "", true)
		e.addMSE(id, 15)
		run := e.trigger(key)
		res, err := e.result(run)
		require.NoError(t, err)
		tick := e.tick(run)
		assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusOK, Alerts: 1, FanOutRun: workflows.AlertFanOutID(run)}, *res)
		assert.Equal(t, []serverAlert{{CreatedAt: tick, RunID: run, Key: "custom/mse"}}, e.alerts(id),
			"one alert, created at the schedule tick")
		assert.Equal(t, serverRun{PreviousRun: tick, Status: "pending"}, e.profileRun(id))
		require.Eventually(t, func() bool { return len(e.fan.runs()) == 1 }, 10*time.Second, 50*time.Millisecond)
		assert.Equal(t, workflows.AlertFanOutInput{Profile: key, EntityID: id, RunID: run, RunAt: tick}, e.fan.runs()[0])
		e.record("alerts", run)
	})

	t.Run("ok", func(t *testing.T) {
		e := e.sub(t)
		key, id := e.addProfile("ok", "Custom", "", true)
		e.addMSE(id, 12.5)
		run := e.start(key)
		res, err := e.result(run)
		require.NoError(t, err)
		assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusOK}, *res)
		assert.Empty(t, e.alerts(id))
		assert.False(t, e.exists(workflows.AlertFanOutID(run)), "no alerts, no fan-out")
		assert.Equal(t, "pending", e.profileRun(id).Status)
		e.record("ok", run)
	})

	t.Run("invalid profile", func(t *testing.T) {
		e := e.sub(t)
		body := strings.Replace(fmt.Sprintf(serverCustomProfile, "drift-server-test", "invalid"),
			`"alert_threshold": "Above"`, `"alert_threshold": "Sideways"`, 1)
		key, id := e.addProfile("invalid", "Custom", body, true)
		run := e.start(key)
		res, err := e.result(run)
		require.NoError(t, err, "the workflow completes, so the next tick runs as usual")
		assert.Equal(t, workflows.DriftStatusFailed, res.Status)
		assert.Contains(t, res.Reason, `unknown threshold "Sideways"`)
		pr := e.profileRun(id)
		assert.Equal(t, "failed", pr.Status)
		require.NotNil(t, pr.Reason)
		assert.Equal(t, res.Reason, *pr.Reason)
		e.record("invalid", run)
	})

	t.Run("inactive", func(t *testing.T) {
		e := e.sub(t)
		key, id := e.addProfile("inactive", "Custom", "", false)
		before := e.profileRun(id)
		run := e.start(key)
		res, err := e.result(run)
		require.NoError(t, err)
		assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusSkipped, Reason: "profile is inactive"}, *res)
		assert.Equal(t, before, e.profileRun(id), "nothing written")
		e.record("skipped", run)
	})

	t.Run("transient error then success", func(t *testing.T) {
		e := e.sub(t)
		key, id := e.addProfile("flaky", "Custom", "", true)
		e.addMSE(id, 20)
		_, err := pool.Exec(ctx, "ALTER TABLE scouter.custom_drift RENAME TO custom_drift_away")
		require.NoError(t, err)
		run := e.start(key)
		// Put the table back once the first attempt has failed.
		require.Eventually(t, func() bool {
			d, err := c.DescribeWorkflow(ctx, run, "")
			if err != nil {
				return false
			}
			for _, pa := range d.RawResponse.GetPendingActivities() {
				if pa.GetActivityType().GetName() == "ComputeAndStore" && pa.GetAttempt() >= 2 {
					return true
				}
			}
			return false
		}, 20*time.Second, 20*time.Millisecond)
		_, err = pool.Exec(ctx, "ALTER TABLE scouter.custom_drift_away RENAME TO custom_drift")
		require.NoError(t, err)
		res, err := e.result(run)
		require.NoError(t, err)
		assert.Equal(t, workflows.DriftStatusOK, res.Status)
		assert.Equal(t, 1, res.Alerts)
		assert.Len(t, e.alerts(id), 1)
		e.record("retried", run)
	})

	t.Run("retries exhausted", func(t *testing.T) {
		e := e.sub(t)
		key, id := e.addProfile("down", "Custom", "", true)
		before := e.profileRun(id)
		_, err := pool.Exec(ctx, "ALTER TABLE scouter.custom_drift RENAME TO custom_drift_away")
		require.NoError(t, err)
		defer func() {
			_, err := pool.Exec(ctx, "ALTER TABLE scouter.custom_drift_away RENAME TO custom_drift")
			require.NoError(t, err)
		}()
		run := e.start(key)
		_, err = e.result(run)
		require.Error(t, err, "the run fails once its attempts are spent")
		assert.Contains(t, err.Error(), "custom_drift")
		pr := e.profileRun(id)
		assert.Equal(t, "failed", pr.Status)
		require.NotNil(t, pr.Reason)
		assert.Contains(t, *pr.Reason, "(after 2 attempts)")
		assert.Equal(t, before.PreviousRun, pr.PreviousRun, "the next window covers this one")
		e.record("exhausted", run)
	})

	t.Run("fan-out already started", func(t *testing.T) {
		e := e.sub(t)
		key, id := e.addProfile("restarted", "Custom", "", true)
		e.addMSE(id, 30)
		e.seq++
		run := fmt.Sprintf("%s-%d-%d", workflows.DriftScheduleID(key), time.Now().UnixNano(), e.seq)
		// A fan-out under the run's child id exists already (an earlier
		// execution of the same run started it).
		earlier, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.AlertFanOutID(run), TaskQueue: e.queue},
			workflows.AlertFanOutWorkflow, &workflows.AlertFanOutInput{Profile: key, EntityID: id, RunID: run, RunAt: time.Now().UTC()})
		require.NoError(t, err)
		require.NoError(t, earlier.Get(ctx, nil))
		fanOuts := len(e.fan.runs())

		_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: run, TaskQueue: e.queue},
			workflows.DriftCheckWorkflow, &workflows.DriftCheckInput{Profile: key})
		require.NoError(t, err)
		res, err := e.result(run)
		require.NoError(t, err)
		assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusOK, Alerts: 1, FanOutRun: workflows.AlertFanOutID(run)}, *res)
		assert.Len(t, e.fan.runs(), fanOuts, "no second fan-out")
		e.record("fanout-exists", run)
	})
}
