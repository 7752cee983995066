package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scoutergo/server/internal/testenv"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/alerting"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/workflows"
)

var runAt = time.Date(2026, 3, 26, 12, 0, 5, 0, time.UTC)

const runID = "drift:repo_1/model_1/1.0.0/Custom-2026-03-26T12:00:05Z"

// slackStandIn stands in for the Slack Web API: it answers the scripted
// statuses in order (the last one repeats) and counts requests.
type slackStandIn struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func newSlackStandIn(t *testing.T, statuses ...int) *slackStandIn {
	t.Helper()
	s := &slackStandIn{statuses: statuses}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		status := s.statuses[min(len(s.bodies), len(s.statuses))-1]
		s.mu.Unlock()
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = io.WriteString(w, `{"ok": true}`)
		} else {
			_, _ = io.WriteString(w, `{"ok": false, "error": "stand-in says no"}`)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackStandIn) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

type fixture struct {
	pool     *pgxpool.Pool
	entityID int32
	console  *testenv.Buffer
}

const customProfile = `{
  "config": {"space": "repo_1", "name": "model_1", "version": "1.0.0", "uid": "uid-1", "drift_type": "Custom",
    "sample_size": 25,
    "alert_config": {"schedule": "* * * * * *", "dispatch_config": %s,
      "alert_conditions": {"mse": {"baseline_value": 12.0, "alert_threshold": "Above", "delta": 1.0}}}},
  "metrics": {"mse": 12.0},
  "scouter_version": "0.25.0"
}`

// newFixture makes a database with one Custom entity whose profile
// dispatches as given, and one stored alert of the run.
func newFixture(t *testing.T, dispatch string) *fixture {
	t.Helper()
	pool := pgtest.New(t)
	ctx := t.Context()
	var id int32
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO scouter.drift_entities (uid, space, name, version, drift_type)
		VALUES ('uid-1', 'repo_1', 'model_1', '1.0.0', 'Custom') RETURNING id`).Scan(&id))
	_, err := pool.Exec(ctx, `INSERT INTO scouter.drift_profile (uid, entity_id, name, space, version, drift_type, profile, schedule)
		VALUES ('uid-1', $1, 'model_1', 'repo_1', '1.0.0', 'Custom', $2::jsonb, '* * * * * *')`,
		id, []byte(fmt.Sprintf(customProfile, dispatch)))
	require.NoError(t, err)
	f := &fixture{pool: pool, entityID: id, console: &testenv.Buffer{}}
	f.insertAlert(t, runAt, "mse", `{"Custom": {"metric_name": "mse", "baseline_value": 12.0, "observed_value": 14.0, "delta": 1.0, "alert_threshold": "Above"}}`)
	return f
}

func (f *fixture) insertAlert(t *testing.T, at time.Time, key, alert string) {
	t.Helper()
	_, err := f.pool.Exec(t.Context(), `INSERT INTO scouter.drift_alert (created_at, entity_id, entity_name, alert, run_id, alert_key)
		VALUES ($1, $2, $3, $4::jsonb, $5, $3)`, at, f.entityID, key, []byte(alert), runID)
	require.NoError(t, err)
}

func (f *fixture) activities(t *testing.T, slackURL string, maxRetries int) *activities.AlertActivities {
	t.Helper()
	console, err := alerting.NewConsoleSender(f.console)
	require.NoError(t, err)
	senders := map[alerting.Channel]alerting.Sender{alerting.Console: console}
	if slackURL != "" {
		s, err := alerting.NewSlackSender(alerting.NewHTTPClient(5*time.Second), slackURL, "xoxb-test")
		require.NoError(t, err)
		senders[alerting.Slack] = s
	}
	d, err := alerting.NewWithSenders(senders)
	require.NoError(t, err)
	a, err := activities.NewAlertActivities(f.pool, d, maxRetries)
	require.NoError(t, err)
	return a
}

func (f *fixture) deliveries(t *testing.T) []dbsqlc.AlertDelivery {
	t.Helper()
	rows, err := dbsqlc.New(f.pool).ListAlertDeliveries(context.Background(), runID)
	require.NoError(t, err)
	return rows
}

func fanOut(t *testing.T, a *activities.AlertActivities, entityID int32) (*workflows.AlertFanOutResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	workflows.RegisterWorkflows(env)
	env.ExecuteWorkflow(workflows.AlertFanOutWorkflow, &workflows.AlertFanOutInput{
		Profile:  workflows.ProfileKey{Space: "repo_1", Name: "model_1", Version: "1.0.0", DriftType: "Custom"},
		EntityID: entityID, RunID: runID, RunAt: runAt,
	})
	require.True(t, env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res workflows.AlertFanOutResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res, nil
}

// TestDeliverRetriesThenDeliversOnce: Slack answers 500 twice, then 200.
// The fan-out sends three requests, records one delivery with three
// attempts, and a second fan-out of the same run sends nothing.
func TestDeliverRetriesThenDeliversOnce(t *testing.T) {
	f := newFixture(t, `{"Slack": {"channel": "#ml-alerts"}}`)
	slack := newSlackStandIn(t, 500, 500, 200)
	a := f.activities(t, slack.URL, 3)

	res, err := fanOut(t, a, f.entityID)
	require.NoError(t, err)
	assert.Equal(t, workflows.AlertFanOutResult{Delivered: 1}, *res)
	reqs := slack.requests()
	require.Len(t, reqs, 3, "two failures and one success")
	for _, body := range reqs {
		assert.JSONEq(t, reqs[0], body, "every attempt sends the same message")
	}
	var sent struct {
		Channel string `json:"channel"`
		Blocks  []struct {
			Text struct{ Text string } `json:"text"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal([]byte(reqs[0]), &sent))
	assert.Equal(t, "#ml-alerts", sent.Channel)
	require.Len(t, sent.Blocks, 3)
	assert.Equal(t, "*Name*: model_1 *Space*: repo_1 *Version*: 1.0.0", sent.Blocks[1].Text.Text)
	assert.Equal(t, "The mse metric value has increased beyond the threshold (initial value + 1)\nInitial Metric Value: 12\nCurrent Metric Value: 14\n",
		sent.Blocks[2].Text.Text)

	d := f.deliveries(t)
	require.Len(t, d, 1)
	assert.Equal(t, "Slack", d[0].Channel)
	assert.Equal(t, "custom:mse", d[0].MessageKey)
	assert.Equal(t, activities.DeliveryDelivered, d[0].Status)
	assert.Equal(t, int32(3), d[0].Attempts, "attempts recorded")
	assert.Nil(t, d[0].LastError)
	assert.NotNil(t, d[0].DeliveredAt)

	res, err = fanOut(t, a, f.entityID)
	require.NoError(t, err)
	assert.Equal(t, workflows.AlertFanOutResult{Skipped: 1}, *res)
	assert.Len(t, slack.requests(), 3, "an already delivered message is never sent again")
}

// TestDeliverRejectedIsNotRetried: a 400 ends the delivery at once and is
// recorded as failed.
func TestDeliverRejectedIsNotRetried(t *testing.T) {
	f := newFixture(t, `{"Slack": {"channel": "#ml-alerts"}}`)
	slack := newSlackStandIn(t, 400)

	res, err := fanOut(t, f.activities(t, slack.URL, 3), f.entityID)
	require.NoError(t, err)
	assert.Equal(t, workflows.AlertFanOutResult{Failed: 1}, *res)
	assert.Len(t, slack.requests(), 1, "a rejection is not retried")
	d := f.deliveries(t)
	require.Len(t, d, 1)
	assert.Equal(t, activities.DeliveryFailed, d[0].Status)
	assert.Equal(t, int32(1), d[0].Attempts)
	require.NotNil(t, d[0].LastError)
	assert.Contains(t, *d[0].LastError, "slack rejected the alert: status 400")
}

// TestDeliverGivesUpAfterMaxRetries: 1 + MAX_RETRIES attempts, then failed.
func TestDeliverGivesUpAfterMaxRetries(t *testing.T) {
	f := newFixture(t, `{"Slack": {"channel": "#ml-alerts"}}`)
	slack := newSlackStandIn(t, 503)

	res, err := fanOut(t, f.activities(t, slack.URL, 1), f.entityID)
	require.NoError(t, err)
	assert.Equal(t, workflows.AlertFanOutResult{Failed: 1}, *res)
	assert.Len(t, slack.requests(), 2)
	d := f.deliveries(t)
	require.Len(t, d, 1)
	assert.Equal(t, activities.DeliveryFailed, d[0].Status, "the last attempt marks the delivery failed")
	assert.Equal(t, int32(2), d[0].Attempts)
	require.NotNil(t, d[0].LastError)
	assert.Contains(t, *d[0].LastError, "status 503")
}

// TestDeliverAlertActivity drives the activity alone: it sends once, then
// skips; a rejection is a non-retryable AlertDeliveryRejected error.
func TestDeliverAlertActivity(t *testing.T) {
	f := newFixture(t, `{"Slack": {"channel": "#ml-alerts"}}`)
	slack := newSlackStandIn(t, 200)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.activities(t, slack.URL, 3))
	in := &activities.DeliverAlertInput{RunID: runID, EntityID: f.entityID, MessageKey: "custom:mse",
		Target: activities.AlertTarget{Channel: alerting.Slack, Requested: alerting.Slack, SlackChannel: "#a"},
		Space:  "repo_1", Name: "model_1", Version: "1.0.0", Description: "text\n"}

	for i, want := range []string{activities.ResultDelivered, activities.ResultSkipped} {
		v, err := env.ExecuteActivity("DeliverAlert", in)
		require.NoError(t, err, "call %d", i)
		var out activities.DeliverAlertResult
		require.NoError(t, v.Get(&out))
		assert.Equal(t, want, out.Status, "call %d", i)
		assert.Equal(t, int32(1), out.Attempts)
	}
	assert.Len(t, slack.requests(), 1)

	bad := newSlackStandIn(t, 403)
	env = suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.activities(t, bad.URL, 3))
	in.MessageKey = "custom:other"
	_, err := env.ExecuteActivity("DeliverAlert", in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypeAlertDeliveryRejected, appErr.Type())
	assert.True(t, appErr.NonRetryable())

	_, err = env.ExecuteActivity("DeliverAlert", &activities.DeliverAlertInput{RunID: runID})
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypeInvalidAlertInput, appErr.Type())
}

// TestConsoleFallback: a Slack profile on a worker without Slack prints to
// the console, once.
func TestConsoleFallback(t *testing.T) {
	f := newFixture(t, `{"Slack": {"channel": "#ml-alerts"}}`)
	a := f.activities(t, "", 3)

	res, err := fanOut(t, a, f.entityID)
	require.NoError(t, err)
	assert.Equal(t, workflows.AlertFanOutResult{Delivered: 1}, *res)
	want := "\nDrift detected for repo_1/model_1/1.0.0! \nThe mse metric value has increased beyond the threshold (initial value + 1)\nInitial Metric Value: 12\nCurrent Metric Value: 14\n"
	assert.Equal(t, want, f.console.String())
	d := f.deliveries(t)
	require.Len(t, d, 1)
	assert.Equal(t, "Console", d[0].Channel)

	_, err = fanOut(t, a, f.entityID)
	require.NoError(t, err)
	assert.Equal(t, want, f.console.String(), "printed once")
}

func TestLoadAlertRun(t *testing.T) {
	f := newFixture(t, `{"OpsGenie": {"team": "ml-team", "priority": "P2"}}`)
	f.insertAlert(t, runAt, "broken", `{"Nope": {}}`)
	f.insertAlert(t, runAt.Add(time.Second), "other-run", `{"Custom": {"metric_name": "mae", "baseline_value": 1, "observed_value": 2, "delta": null, "alert_threshold": "Above"}}`)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.activities(t, "", 4))

	load := func(in *activities.LoadAlertRunInput) *activities.LoadAlertRunResult {
		t.Helper()
		v, err := env.ExecuteActivity("LoadAlertRun", in)
		require.NoError(t, err)
		var out activities.LoadAlertRunResult
		require.NoError(t, v.Get(&out))
		return &out
	}

	got := load(&activities.LoadAlertRunInput{EntityID: f.entityID, RunAt: runAt, Space: "key-space", Name: "key-name", Version: "9"})
	assert.Equal(t, "repo_1/model_1/1.0.0", got.Space+"/"+got.Name+"/"+got.Version, "names come from the profile JSON")
	assert.Equal(t, []activities.AlertTarget{{Channel: alerting.Console, Requested: alerting.OpsGenie, Team: "ml-team", Priority: "P2"}},
		got.Targets, "OpsGenie is not configured: Console")
	require.Len(t, got.Alerts, 1, "only this run's readable alerts")
	assert.Equal(t, "mse", got.Alerts[0].EntityName())
	assert.Equal(t, 1, got.Unreadable)
	assert.Equal(t, 4, got.MaxRetries)

	empty := load(&activities.LoadAlertRunInput{EntityID: f.entityID, RunAt: runAt.Add(time.Hour)})
	assert.Empty(t, empty.Alerts)
	assert.Empty(t, empty.Targets)

	_, err := f.pool.Exec(t.Context(), `DELETE FROM scouter.drift_profile`)
	require.NoError(t, err)
	gone := load(&activities.LoadAlertRunInput{EntityID: f.entityID, RunAt: runAt, Space: "s", Name: "n", Version: "v"})
	assert.Equal(t, "s/n/v", gone.Space+"/"+gone.Name+"/"+gone.Version, "the run's key stands in")
	assert.Equal(t, []activities.AlertTarget{{Channel: alerting.Console, Requested: alerting.Console}}, gone.Targets)

	_, err = env.ExecuteActivity("LoadAlertRun", &activities.LoadAlertRunInput{})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypeInvalidAlertInput, appErr.Type())
}
