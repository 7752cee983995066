package workflows_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/alerting"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/internal/temporalclient/temporaltest"
	"github.com/scoutergo/server/workflows"
)

// A distinct flag name, so it cannot clash with other recorders in this
// package.
var updateAlertFanOut = flag.Bool("update-alertfanout", false,
	"record the AlertFanOut history into testdata/histories/alertfanout.json")

const alertFanOutHistory = "testdata/histories/alertfanout.json"

// TestAlertFanOutOnDevServer runs a fan-out end to end on the Temporal test
// server with the real activities, Postgres and a stand-in for Slack that
// answers 500 twice, then 200: exactly one message is delivered, after
// three attempts, and recorded. A second fan-out of the same run sends
// nothing. The recorded history must replay against the current code; with
// -update-alertfanout it becomes the committed replay corpus file.
func TestAlertFanOutOnDevServer(t *testing.T) {
	addr := temporaltest.Address(t)
	pool := pgtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var entityID int32
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO scouter.drift_entities (uid, space, name, version, drift_type)
		VALUES ('uid-1', 'repo_1', 'model_1', '1.0.0', 'Custom') RETURNING id`).Scan(&entityID))
	_, err := pool.Exec(ctx, `INSERT INTO scouter.drift_profile (uid, entity_id, name, space, version, drift_type, profile, schedule)
		VALUES ('uid-1', $1, 'model_1', 'repo_1', '1.0.0', 'Custom', $2::jsonb, '*/5 * * * * *')`, entityID, []byte(`{
		"config": {"space": "repo_1", "name": "model_1", "version": "1.0.0", "uid": "uid-1", "drift_type": "Custom",
			"alert_config": {"schedule": "*/5 * * * * *", "dispatch_config": {"Slack": {"channel": "#ml-alerts"}},
				"alert_conditions": {"mse": {"baseline_value": 12.0, "alert_threshold": "Above", "delta": 1.0}}}},
		"metrics": {"mse": 12.0}, "scouter_version": "0.25.0"}`))
	require.NoError(t, err)
	at := time.Date(2026, 3, 26, 12, 0, 5, 0, time.UTC)
	runID := "drift:repo_1/model_1/1.0.0/Custom-2026-03-26T12:00:05Z"
	_, err = pool.Exec(ctx, `INSERT INTO scouter.drift_alert (created_at, entity_id, entity_name, alert, run_id, alert_key)
		VALUES ($1, $2, 'mse', $3::jsonb, $4, 'mse')`, at, entityID,
		[]byte(`{"Custom": {"metric_name": "mse", "baseline_value": 12.0, "observed_value": 14.0, "delta": 1.0, "alert_threshold": "Above"}}`), runID)
	require.NoError(t, err)

	var calls atomic.Int32
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"ok": false, "error": "internal_error"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok": true}`)
	}))
	defer slack.Close()

	sender, err := alerting.NewSlackSender(alerting.NewHTTPClient(5*time.Second), slack.URL, "xoxb-test")
	require.NoError(t, err)
	console, err := alerting.NewConsoleSender(io.Discard)
	require.NoError(t, err)
	d, err := alerting.NewWithSenders(map[alerting.Channel]alerting.Sender{alerting.Slack: sender, alerting.Console: console})
	require.NoError(t, err)
	acts, err := activities.NewAlertActivities(pool, d, 3)
	require.NoError(t, err)

	queue := fmt.Sprintf("scouter-test-alertfanout-%d", time.Now().UnixNano())
	if *updateAlertFanOut {
		queue = "scouter"
	}
	c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: temporaltest.Namespace},
		logging.Discard(), temporalclient.Options{Identity: "replay-recorder"})
	require.NoError(t, err)
	defer c.Close()
	w := worker.New(c, queue, worker.Options{})
	workflows.Register(w, acts)
	require.NoError(t, w.Start())
	defer w.Stop()

	in := &workflows.AlertFanOutInput{
		Profile:  workflows.ProfileKey{Space: "repo_1", Name: "model_1", Version: "1.0.0", DriftType: "Custom"},
		EntityID: entityID, RunID: runID, RunAt: at,
	}
	run := func(id string) workflows.AlertFanOutResult {
		t.Helper()
		wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, workflows.AlertFanOutWorkflow, in)
		require.NoError(t, err)
		var res workflows.AlertFanOutResult
		require.NoError(t, wr.Get(ctx, &res))
		return res
	}

	id := workflows.AlertFanOutID(runID) + fmt.Sprintf("-recorded-%d", time.Now().UnixNano())
	assert.Equal(t, workflows.AlertFanOutResult{Delivered: 1}, run(id))
	assert.Equal(t, int32(3), calls.Load(), "500, 500, then 200")
	rows, err := dbsqlc.New(pool).ListAlertDeliveries(ctx, runID)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, activities.DeliveryDelivered, rows[0].Status)
	assert.Equal(t, int32(3), rows[0].Attempts)

	assert.Equal(t, workflows.AlertFanOutResult{Skipped: 1}, run(id+"-again"))
	assert.Equal(t, int32(3), calls.Load(), "a delivered message is not sent again")

	data := fanOutHistoryJSON(ctx, t, c, id)
	path := filepath.Join(t.TempDir(), "alertfanout.json")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	r := worker.NewWorkflowReplayer()
	workflows.RegisterWorkflows(r)
	require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, path), "replay the fresh history")

	if *updateAlertFanOut {
		require.NoError(t, os.WriteFile(alertFanOutHistory, data, 0o644))
		t.Logf("wrote %s", alertFanOutHistory)
	}
}

// fanOutHistoryJSON renders a closed workflow's history as `temporal
// workflow show --output json` does.
func fanOutHistoryJSON(ctx context.Context, t *testing.T, c client.Client, workflowID string) []byte {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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
