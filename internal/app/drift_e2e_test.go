package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/workflows"
)

// The drift profiles of the test tick every five seconds.
const (
	driftCron  = "*/5 * * * * *"
	driftEvery = 5 * time.Second
	// driftLead is how long before a tick the test's records must be sent
	// at the latest: the run reads its window at tick + lateness (half the
	// interval here), so the ingest pipeline has lead + 2.5 s to commit.
	driftLead = 1500 * time.Millisecond

	driftSlackToken = "xoxb-e2e-token"
	driftGenieKey   = "e2e-genie-key"
	driftVersion    = "1.0.0"
)

// TestDriftAlertingE2E runs drift checks and alerting end to end on the
// Temporal test server: the server in process (profiles → schedules), the
// worker as a real process (scouter-worker, killed with SIGKILL and started
// again), local HTTP stand-ins for Slack and OpsGenie, and a Postgres
// database of its own.
//
//  1. Two active Custom profiles (metric mse, baseline 1, Above) ticking
//     every 5 s, one dispatching to Slack (#alerts), one to OpsGenie; their
//     schedules exist and tick 5 s apart.
//  2. Out-of-range values stamped inside the next window: per profile one
//     drift_alert row for that run, one accepted request at its stand-in
//     with upstream's text (drift.md §5.5), alert_delivery delivered after
//     1 attempt. OpsGenie gets the GenieKey and the alias
//     scouter:<run id>:custom:mse. The OpsGenie profile is then
//     deactivated.
//  3. Slack answers 500 twice: the next run's message is accepted once,
//     after 3 attempts, as alert_delivery records.
//  4. The worker is SIGKILLed while the run's DeliverAlert activity is
//     running and before it sends: the test holds a lock on alert_delivery
//     so the activity's first statement waits, sees that statement waiting
//     in pg_stat_activity and the activity started in Temporal, kills the
//     worker, releases the lock and starts the worker again. The activity
//     is retried after its start-to-close timeout (30 s, no env var to
//     shorten it) and the run completes with one alert row, one accepted
//     Slack message and one delivered alert_delivery row (2 attempts).
//     A kill between the send and the record would resend (the documented
//     window); this kill lands before the send.
//  5. The worker is SIGKILLed while a DriftCheck run waits on its durable
//     timer for late records (window loaded, nothing computed): the
//     restarted worker finishes the run (one alert, run id = workflow id,
//     created_at = tick) and delivers it once.
//  6. Deactivating a profile pauses its schedule: no further runs.
func TestDriftAlertingE2E(t *testing.T) {
	began := time.Now()
	phase := func(what string) { t.Logf("%5.1fs %s", time.Since(began).Seconds(), what) }

	dbURI := pgtest.NewURI(t)
	temporalAddr, ns, tc := driftNamespace(t)
	slack := newAlertStandIn(t, http.StatusOK, `{"ok": true}`, `{"ok": false, "error": "internal_error"}`)
	opsgenie := newAlertStandIn(t, http.StatusAccepted,
		`{"result": "Request will be processed", "took": 0.01, "requestId": "e2e"}`, `{"message": "internal error"}`)
	bin := buildWorkerBinary(t)
	phase("worker binary built")

	env := map[string]string{
		"DATABASE_URI":        dbURI,
		"TEMPORAL_ADDRESS":    temporalAddr,
		"TEMPORAL_NAMESPACE":  ns,
		"TEMPORAL_TASK_QUEUE": uniqueName("drift-e2e-"),
		"SLACK_APP_TOKEN":     driftSlackToken,
		"SLACK_API_URL":       slack.srv.URL,
		"OPSGENIE_API_KEY":    driftGenieKey,
		"OPSGENIE_API_URL":    opsgenie.srv.URL + "/v2/alerts",
		"MAX_RETRIES":         "3",
	}
	srv := startE2EServer(t, env)
	workerEnv := maps.Clone(env)
	workerEnv["MIN_POOL_SIZE"], workerEnv["MAX_POOL_SIZE"], workerEnv["LOG_LEVEL"] = "1", "8", "info"
	worker := startWorkerProcess(t, bin, workerEnv)
	phase("server and worker up")

	e := &driftE2E{t: t, srv: srv, pool: pgtest.Connect(t, dbURI), tc: tc, taskQueue: env["TEMPORAL_TASK_QUEUE"],
		space: uniqueName("drift-e2e-")}
	a := e.register("model-slack", `{"Slack": {"channel": "#alerts"}}`)
	b := e.register("model-opsgenie", `{"OpsGenie": {"team": "ml-team", "priority": "P3"}}`)
	e.waitSchedule(a)
	e.waitSchedule(b)
	phase("profiles registered, schedules ticking")

	// 2. One out-of-range window per profile.
	tick := e.sendForNextTick(5, a)
	e.sendAt(b, tick.Add(-300*time.Millisecond), 4)
	runA1 := e.waitDelivered(a, tick, 30*time.Second)
	runB1 := e.waitDelivered(b, tick, 30*time.Second)
	phase("first runs delivered")
	e.verifyRuns(a, "Slack", []wantRun{{value: 5, attempts: 1}})
	e.verifyRuns(b, "OpsGenie", []wantRun{{value: 4, attempts: 1}})
	e.verifySlack(slack, a, []wantRun{{value: 5}})
	require.Len(t, slack.requests(), 1, "Slack requests")
	e.verifyOpsGenie(opsgenie, b, runB1.RunID, 4)

	pausedB := e.deactivate(b)
	phase("OpsGenie profile paused")

	// 3. Slack fails twice, then accepts.
	slack.failNextRequests(2)
	tick = e.sendForNextTick(6, a)
	runA2 := e.waitDelivered(a, tick, 30*time.Second)
	phase("retried run delivered")
	require.NotEqual(t, runA1.RunID, runA2.RunID)
	e.verifyRuns(a, "Slack", []wantRun{{value: 5, attempts: 1}, {value: 6, attempts: 3}})
	e.verifySlack(slack, a, []wantRun{{value: 5}, {value: 6}})
	reqs := slack.requests()
	require.Len(t, reqs, 4, "Slack requests: 1 for the first run, 500, 500, 200 for the second")
	assert.Equal(t, []int{200, 500, 500, 200}, statuses(reqs))
	assert.Equal(t, reqs[1].Body, reqs[3].Body, "a retry sends the same message")
	assert.GreaterOrEqual(t, reqs[3].At.Sub(reqs[1].At), 2*time.Second, "retries back off 1 s, then 2 s")

	// 4. SIGKILL while the run's delivery is in flight, before it sends.
	ctx := t.Context()
	lockConn, err := pgx.Connect(ctx, dbURI)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lockConn.Close(context.Background()) })
	lock, err := lockConn.Begin(ctx)
	require.NoError(t, err)
	_, err = lock.Exec(ctx, "LOCK TABLE scouter.alert_delivery IN EXCLUSIVE MODE")
	require.NoError(t, err)

	tick = e.sendForNextTick(7, a)
	var run3 alertRow
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		rows := e.alertsSince(a, tick)
		require.Len(c, rows, 1, "alert rows of the run at %s", tick)
		run3 = rows[0]
	}, time.Until(tick)+20*time.Second, 100*time.Millisecond)
	fanID := workflows.AlertFanOutID(run3.RunID)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		d, err := tc.DescribeWorkflow(ctx, fanID, "")
		require.NoError(c, err, "describe %s", fanID)
		desc := d.RawResponse
		require.Equal(c, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
		var started bool
		for _, pa := range desc.GetPendingActivities() {
			if pa.GetActivityType().GetName() == "DeliverAlert" && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
				assert.EqualValues(c, 1, pa.GetAttempt())
				started = true
			}
		}
		require.True(c, started, "DeliverAlert of %s not started yet", fanID)
		require.Positive(c, e.deliveryInsertsWaiting(), "no DeliverAlert waiting on the alert_delivery lock")
	}, 20*time.Second, 50*time.Millisecond)
	require.Len(t, slack.requests(), 4, "nothing sent for the run before the kill")
	worker.kill()
	killedAt := time.Now()
	phase("worker killed with DeliverAlert waiting before its send")
	require.NoError(t, lock.Rollback(ctx))
	worker.start()
	phase("worker restarted")

	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var fan workflows.AlertFanOutResult
	require.NoError(t, tc.GetWorkflow(wctx, fanID, "").Get(wctx, &fan), "fan-out %s", fanID)
	assert.Equal(t, workflows.AlertFanOutResult{Delivered: 1}, fan)
	var check workflows.DriftCheckResult
	require.NoError(t, tc.GetWorkflow(wctx, run3.RunID, "").Get(wctx, &check), "drift check %s", run3.RunID)
	assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusOK, Alerts: 1, FanOutRun: fanID}, check)
	phase(fmt.Sprintf("run completed %.1fs after the kill", time.Since(killedAt).Seconds()))
	want := []wantRun{{value: 5, attempts: 1}, {value: 6, attempts: 3}, {value: 7, attempts: 2}}
	e.verifyRuns(a, "Slack", want)
	e.verifySlack(slack, a, want)
	require.Len(t, slack.requests(), 5, "the killed attempt sent nothing, the retry sent once")

	// 5. SIGKILL while a DriftCheck run waits for late records (its
	// window loaded, nothing computed yet): the new worker finishes it.
	tick = e.sendForNextTick(8, a)
	runID := a.scheduleID + "-" + tick.Format(time.RFC3339)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.True(c, e.timerStarted(runID), "%s is not waiting for late records yet", runID)
	}, time.Until(tick)+10*time.Second, 20*time.Millisecond)
	require.Empty(t, e.alertsSince(a, tick), "alerts before the window was read")
	worker.kill()
	killedAt = time.Now()
	phase("worker killed with a DriftCheck waiting for late records")
	worker.start()
	wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	require.NoError(t, tc.GetWorkflow(wctx, runID, "").Get(wctx, &check), "drift check %s", runID)
	assert.Equal(t, workflows.DriftCheckResult{Status: workflows.DriftStatusOK, Alerts: 1,
		FanOutRun: workflows.AlertFanOutID(runID)}, check)
	fan = workflows.AlertFanOutResult{}
	require.NoError(t, tc.GetWorkflow(wctx, check.FanOutRun, "").Get(wctx, &fan), "fan-out %s", check.FanOutRun)
	assert.Equal(t, workflows.AlertFanOutResult{Delivered: 1}, fan)
	phase(fmt.Sprintf("run completed %.1fs after the kill", time.Since(killedAt).Seconds()))
	want = append(want, wantRun{value: 8, attempts: 1})
	e.verifyRuns(a, "Slack", want)
	e.verifySlack(slack, a, want)
	require.Len(t, slack.requests(), 6, "Slack requests in all")
	run4 := e.alertsSince(a, tick)
	require.Len(t, run4, 1)
	assert.Equal(t, runID, run4[0].RunID, "the alert's run id is the DriftCheck workflow id")
	assert.True(t, run4[0].CreatedAt.Equal(tick), "alert created_at %s is the tick %s", run4[0].CreatedAt, tick)
	e.verifyProfileRow(a, tick)

	// 6. Deactivate: the schedule pauses and no run starts any more.
	pausedA := e.deactivate(a)
	phase("Slack profile paused")
	time.Sleep(driftEvery + time.Second)
	e.assertNoNewRuns(a, pausedA)
	e.assertNoNewRuns(b, pausedB)
	e.verifyRuns(a, "Slack", want)
	e.verifyRuns(b, "OpsGenie", []wantRun{{value: 4, attempts: 1}})
	assert.Len(t, slack.requests(), 6, "Slack requests in all")
	assert.Len(t, opsgenie.requests(), 1, "OpsGenie requests in all")
	phase("done")
}

// driftE2E is the state of TestDriftAlertingE2E.
type driftE2E struct {
	t         *testing.T
	srv       *e2eServer
	pool      *pgxpool.Pool
	tc        client.Client
	taskQueue string
	space     string
}

// driftProfile is a registered profile.
type driftProfile struct {
	key        workflows.ProfileKey
	uid        string
	entityID   int32
	scheduleID string
}

// wantRun is what one run that saw data must leave behind: the observed
// average and the delivery attempts.
type wantRun struct {
	value    float64
	attempts int32
}

// register registers an active Custom profile (metric mse, baseline 1,
// Above, no delta) with dispatch config dispatch.
func (e *driftE2E) register(name, dispatch string) *driftProfile {
	t := e.t
	t.Helper()
	profileJSON := fmt.Sprintf(`{
  "config": {
    "sample_size": 25, "space": %q, "name": %q, "version": %q,
    "uid": "00000000-0000-0000-0000-000000000000",
    "alert_config": {
      "dispatch_config": %s,
      "schedule": %q,
      "alert_conditions": {"mse": {"baseline_value": 1.0, "alert_threshold": "Above", "delta": null}}
    },
    "drift_type": "Custom"
  },
  "metrics": {"mse": 1.0},
  "scouter_version": "0.25.0"
}`, e.space, name, driftVersion, dispatch, driftCron)
	status, body := e.srv.post("/profile", mustJSON(map[string]any{
		"space":             e.space,
		"drift_type":        "Custom",
		"profile":           profileJSON,
		"version_request":   map[string]any{"version": driftVersion, "version_type": "Minor", "pre_tag": nil, "build_tag": nil},
		"active":            true,
		"deactivate_others": false,
	}))
	require.Equal(t, http.StatusOK, status, "register %s: %s", name, body)
	resp := decodeInto[struct {
		Space, Name, Version, UID, Status string
		Active                            bool
	}](t, body)
	require.Equal(t, "success", resp.Status, string(body))
	require.True(t, resp.Active, string(body))
	require.Equal(t, driftVersion, resp.Version, string(body))

	p := &driftProfile{
		key: workflows.ProfileKey{Space: e.space, Name: name, Version: driftVersion, DriftType: "Custom"},
		uid: resp.UID,
	}
	p.scheduleID = workflows.DriftScheduleID(p.key)
	require.NoError(t, e.pool.QueryRow(t.Context(),
		"SELECT entity_id FROM scouter.drift_profile WHERE uid = $1", resp.UID).Scan(&p.entityID))
	return p
}

// waitSchedule waits until the server synced p's schedule and checks what
// Temporal describes: a DriftCheck on the test's task queue, overlap SKIP,
// not paused, ticks 5 s apart.
func (e *driftE2E) waitSchedule(p *driftProfile) {
	t := e.t
	t.Helper()
	var desc *client.ScheduleDescription
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		desc, err = e.tc.ScheduleClient().GetHandle(t.Context(), p.scheduleID).Describe(t.Context())
		require.NoError(c, err, "describe schedule %s", p.scheduleID)
	}, 30*time.Second, 100*time.Millisecond)
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "schedule action is %T", desc.Schedule.Action)
	assert.Equal(t, workflows.DriftCheckWorkflow, action.Workflow)
	assert.Equal(t, e.taskQueue, action.TaskQueue)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, desc.Schedule.Policy.Overlap)
	assert.False(t, desc.Schedule.State.Paused)
	next := desc.Info.NextActionTimes
	require.GreaterOrEqual(t, len(next), 2, "next action times")
	for i := 1; i < len(next); i++ {
		assert.Equal(t, driftEvery, next[i].Sub(next[i-1]), "ticks of %q", driftCron)
		assert.Zero(t, next[i].UnixNano()%int64(driftEvery), "tick %s on a multiple of 5 s", next[i])
	}
}

// sendForNextTick sends one mse record of value for each profile, stamped
// 300 ms before the first tick at least driftLead away, and returns that
// tick.
func (e *driftE2E) sendForNextTick(value float64, ps ...*driftProfile) time.Time {
	now := time.Now().UTC()
	tick := now.Truncate(driftEvery).Add(driftEvery)
	if tick.Sub(now) < driftLead {
		tick = tick.Add(driftEvery)
	}
	for _, p := range ps {
		e.sendAt(p, tick.Add(-300*time.Millisecond), value)
	}
	return tick
}

// sendAt sends one Custom record through POST /scouter/message.
func (e *driftE2E) sendAt(p *driftProfile, at time.Time, value float64) {
	e.t.Helper()
	status, body := e.srv.post("/message", mustJSON(map[string]any{"records": []any{
		map[string]any{"Custom": map[string]any{
			"created_at": at.UTC().Format(time.RFC3339Nano), "uid": p.uid, "metric": "mse", "value": value, "entity_id": 0,
		}},
	}}))
	require.Equal(e.t, http.StatusOK, status, "send record: %s", body)
}

// alertRow is one scouter.drift_alert row.
type alertRow struct {
	RunID      string
	CreatedAt  time.Time
	EntityName string
	Alert      json.RawMessage
}

// alertsSince returns p's alert rows created at or after since, oldest
// first.
func (e *driftE2E) alertsSince(p *driftProfile, since time.Time) []alertRow {
	e.t.Helper()
	rows, err := e.pool.Query(e.t.Context(), `
SELECT run_id, created_at, entity_name, alert FROM scouter.drift_alert
WHERE entity_id = $1 AND created_at >= $2 ORDER BY created_at, id`, p.entityID, since)
	require.NoError(e.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[alertRow])
	require.NoError(e.t, err)
	return out
}

// deliveryRow is one scouter.alert_delivery row.
type deliveryRow struct {
	RunID, Channel, MessageKey, Status string
	Attempts                           int32
	LastError                          *string
}

func (e *driftE2E) deliveries(p *driftProfile) []deliveryRow {
	e.t.Helper()
	rows, err := e.pool.Query(e.t.Context(), `
SELECT run_id, channel, message_key, status, attempts, last_error FROM scouter.alert_delivery
WHERE entity_id = $1 ORDER BY created_at, id`, p.entityID)
	require.NoError(e.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[deliveryRow])
	require.NoError(e.t, err)
	return out
}

// deliveryInsertsWaiting counts the sessions waiting for a lock in a
// statement on alert_delivery.
func (e *driftE2E) deliveryInsertsWaiting() int {
	var n int
	require.NoError(e.t, e.pool.QueryRow(e.t.Context(), `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND wait_event_type = 'Lock' AND query ILIKE '%alert_delivery%'`).Scan(&n))
	return n
}

// timerStarted reports whether workflow id has started a timer (the
// DriftCheck's wait for late records).
func (e *driftE2E) timerStarted(id string) bool {
	it := e.tc.GetWorkflowHistory(e.t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return false
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			return true
		}
	}
	return false
}

// waitDelivered waits for the run of p at or after tick: its alert row and
// its delivered alert_delivery row.
func (e *driftE2E) waitDelivered(p *driftProfile, tick time.Time, timeout time.Duration) alertRow {
	t := e.t
	t.Helper()
	var run alertRow
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		rows := e.alertsSince(p, tick)
		require.NotEmpty(c, rows, "no alert of %s at or after %s", p.key, tick)
		run = rows[0]
		var found bool
		for _, d := range e.deliveries(p) {
			if d.RunID == run.RunID {
				found = true
				require.Equal(c, "delivered", d.Status, "delivery of %s", run.RunID)
			}
		}
		require.True(c, found, "no delivery of %s", run.RunID)
	}, time.Until(tick)+timeout, 100*time.Millisecond)
	return run
}

// verifyRuns checks p's alert and delivery rows: one alert per run that saw
// data, with the observed value, and one delivered record per run on
// channel after the wanted attempts.
func (e *driftE2E) verifyRuns(p *driftProfile, channel string, want []wantRun) {
	t := e.t
	t.Helper()
	alerts := e.alertsSince(p, time.Time{})
	require.Len(t, alerts, len(want), "alert rows of %s (one per run that saw data)", p.key)
	deliveries := e.deliveries(p)
	require.Len(t, deliveries, len(want), "delivery rows of %s (one per run with alerts)", p.key)
	for i, a := range alerts {
		assert.True(t, strings.HasPrefix(a.RunID, p.scheduleID+"-"), "run id %q is a run of schedule %s", a.RunID, p.scheduleID)
		assert.Equal(t, "mse", a.EntityName)
		alert := decodeInto[struct {
			Custom *struct {
				MetricName     string   `json:"metric_name"`
				BaselineValue  float64  `json:"baseline_value"`
				ObservedValue  float64  `json:"observed_value"`
				Delta          *float64 `json:"delta"`
				AlertThreshold string   `json:"alert_threshold"`
			}
		}](t, a.Alert)
		if assert.NotNil(t, alert.Custom, "alert %s", a.Alert) {
			assert.Equal(t, "mse", alert.Custom.MetricName)
			assert.InDelta(t, 1.0, alert.Custom.BaselineValue, 0)
			assert.InDelta(t, want[i].value, alert.Custom.ObservedValue, 0, "observed value of run %d", i+1)
			assert.Nil(t, alert.Custom.Delta)
			assert.Equal(t, "Above", alert.Custom.AlertThreshold)
		}
		j := slices.IndexFunc(deliveries, func(d deliveryRow) bool { return d.RunID == a.RunID })
		if !assert.GreaterOrEqual(t, j, 0, "delivery of run %s", a.RunID) {
			continue
		}
		d := deliveries[j]
		assert.Equal(t, deliveryRow{RunID: a.RunID, Channel: channel, MessageKey: "custom:mse", Status: "delivered",
			Attempts: want[i].attempts}, d, "delivery of run %d", i+1)
	}
	runIDs := map[string]bool{}
	for _, a := range alerts {
		runIDs[a.RunID] = true
	}
	assert.Len(t, runIDs, len(alerts), "one alert row per run")
}

// customText is drift.md §5.5's text of an Above alert without delta on mse
// with baseline 1.
func customText(value float64) string {
	return fmt.Sprintf("The mse metric value has increased beyond the initial value\n"+
		"Initial Metric Value: 1\nCurrent Metric Value: %g\n", value)
}

// verifySlack checks the messages Slack accepted: one per run, in order.
func (e *driftE2E) verifySlack(slack *alertStandIn, p *driftProfile, want []wantRun) {
	t := e.t
	t.Helper()
	accepted := slack.accepted()
	require.Len(t, accepted, len(want), "messages Slack accepted (one per run with alerts)")
	for i, r := range accepted {
		assert.Equal(t, "/chat.postMessage", r.Path)
		assert.Equal(t, "Bearer "+driftSlackToken, r.Auth)
		post := decodeInto[slackPost](t, r.Body)
		assert.Equal(t, "#alerts", post.Channel)
		if !assert.Len(t, post.Blocks, 3, "blocks of %s", r.Body) {
			continue
		}
		assert.Equal(t, "header", post.Blocks[0].Type)
		assert.Equal(t, "plain_text", post.Blocks[0].Text.Type)
		assert.Equal(t, ":rotating_light: Drift Detected :rotating_light:", post.Blocks[0].Text.Text)
		if assert.NotNil(t, post.Blocks[0].Text.Emoji) {
			assert.True(t, *post.Blocks[0].Text.Emoji)
		}
		assert.Equal(t, "mrkdwn", post.Blocks[1].Text.Type)
		assert.Equal(t, fmt.Sprintf("*Name*: %s *Space*: %s *Version*: %s", p.key.Name, p.key.Space, driftVersion),
			post.Blocks[1].Text.Text)
		assert.Equal(t, "mrkdwn", post.Blocks[2].Text.Type)
		assert.Equal(t, customText(want[i].value), post.Blocks[2].Text.Text, "message %d", i+1)
	}
}

// verifyOpsGenie checks the one alert OpsGenie received.
func (e *driftE2E) verifyOpsGenie(og *alertStandIn, p *driftProfile, runID string, value float64) {
	t := e.t
	t.Helper()
	reqs := og.requests()
	require.Len(t, reqs, 1, "OpsGenie requests")
	r := reqs[0]
	assert.Equal(t, http.StatusAccepted, r.Status)
	assert.Equal(t, "/v2/alerts", r.Path)
	assert.Equal(t, "GenieKey "+driftGenieKey, r.Auth)
	a := decodeInto[opsGenieAlert](t, r.Body)
	assert.Equal(t, fmt.Sprintf("Model drift detected for %s/%s/%s", p.key.Space, p.key.Name, driftVersion), a.Message)
	assert.Equal(t, customText(value), a.Description)
	team := []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}{{Name: "ml-team", Type: "team"}}
	assert.Equal(t, team, a.Responders)
	assert.Equal(t, team, a.VisibleTo)
	assert.Equal(t, []string{"Model Drift", "Scouter"}, a.Tags)
	assert.Equal(t, "P3", a.Priority)
	assert.Equal(t, "scouter:"+runID+":custom:mse", a.Alias)
}

// verifyProfileRow checks that the profile row tells the last run: status
// pending without reason, previous_run at (or after) it, next_run one tick
// later.
func (e *driftE2E) verifyProfileRow(p *driftProfile, lastRun time.Time) {
	t := e.t
	t.Helper()
	var (
		status            string
		reason            *string
		previous, next    *time.Time
		processingStarted *time.Time
		active            bool
	)
	require.NoError(t, e.pool.QueryRow(t.Context(), `
SELECT status, status_reason, previous_run, next_run, processing_started_at, active
FROM scouter.drift_profile WHERE uid = $1`, p.uid).Scan(&status, &reason, &previous, &next, &processingStarted, &active))
	assert.True(t, active)
	assert.Equal(t, "pending", status)
	assert.Nil(t, reason)
	assert.Nil(t, processingStarted)
	if assert.NotNil(t, previous) && assert.NotNil(t, next) {
		assert.False(t, previous.Before(lastRun), "previous_run %s before the last run %s", previous, lastRun)
		assert.Equal(t, driftEvery, next.Sub(*previous), "next_run - previous_run")
	}
}

// deactivate sets p inactive through PUT /scouter/profile/status, waits
// until its schedule is paused with no run going, and returns its action
// count then.
func (e *driftE2E) deactivate(p *driftProfile) int {
	t := e.t
	t.Helper()
	status, body, err := e.srv.do(http.MethodPut, "/profile/status", nil, bytes.NewReader(mustJSON(map[string]any{
		"name": p.key.Name, "space": p.key.Space, "version": p.key.Version,
		"active": false, "drift_type": "Custom", "deactivate_others": false,
	})), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "deactivate %s: %s", p.key, body)
	var actions int
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		desc, err := e.tc.ScheduleClient().GetHandle(t.Context(), p.scheduleID).Describe(t.Context())
		require.NoError(c, err, "describe schedule %s", p.scheduleID)
		require.True(c, desc.Schedule.State.Paused, "schedule %s paused", p.scheduleID)
		require.Empty(c, desc.Info.RunningWorkflows, "runs of %s still going", p.scheduleID)
		assert.Contains(c, desc.Schedule.State.Note, "inactive")
		actions = desc.Info.NumActions
	}, 30*time.Second, 100*time.Millisecond)
	return actions
}

// assertNoNewRuns checks that p's paused schedule started nothing since it
// had actions actions.
func (e *driftE2E) assertNoNewRuns(p *driftProfile, actions int) {
	t := e.t
	t.Helper()
	desc, err := e.tc.ScheduleClient().GetHandle(t.Context(), p.scheduleID).Describe(t.Context())
	require.NoError(t, err)
	assert.True(t, desc.Schedule.State.Paused, "schedule %s paused", p.scheduleID)
	assert.Equal(t, actions, desc.Info.NumActions, "runs started by %s after it was paused", p.scheduleID)
}

func statuses(reqs []standInRequest) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}
