package worker_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/internal/temporalclient/temporaltest"
	"github.com/scoutergo/server/internal/worker"
	"github.com/scoutergo/server/workflows"
)

var update = flag.Bool("update", false, "record the HealthCheck history into workflows/testdata/histories")

const corpusFile = "../../workflows/testdata/histories/healthcheck.json"

func testConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, err)
	return cfg
}

func uniqueQueue(t *testing.T) string {
	return fmt.Sprintf("scouter-test-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

// startWorker runs worker.Run in the background and returns a client for
// the same server. The worker is stopped, and Run's result checked, when
// the test ends.
func startWorker(t *testing.T, cfg *config.Config, deps worker.Deps) client.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- worker.Run(ctx, cfg, logging.Discard(), deps) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			assert.NoError(t, err, "Run after cancel")
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of cancel")
		}
	})

	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	c, err := temporalclient.Dial(dctx, cfg.Temporal, logging.Discard(), temporalclient.Options{Identity: deps.Identity})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestRunAndCheck(t *testing.T) {
	addr := temporaltest.Address(t)
	ok := func(context.Context) error { return nil }

	tests := []struct {
		name       string
		probes     []workflows.Probe
		wantErr    string
		wantProbes []string
	}{
		{name: "healthy", probes: []workflows.Probe{{Name: "db", Check: ok}}, wantProbes: []string{"db"}},
		{
			name:       "probe down",
			probes:     []workflows.Probe{{Name: "db", Check: func(context.Context) error { return errors.New("down") }}, {Name: "blob", Check: ok}},
			wantErr:    "probes failed: db: down",
			wantProbes: []string{"blob", "db"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queue := uniqueQueue(t)
			cfg := testConfig(t, map[string]string{
				"TEMPORAL_ADDRESS": addr, "TEMPORAL_TASK_QUEUE": queue,
				"POLLING_WORKER_COUNT": "2", "SHUTDOWN_TIMEOUT_SECONDS": "5",
			})
			c := startWorker(t, cfg, worker.Deps{Probes: tt.probes})

			id := worker.NewCheckID(time.Now())
			res, err := worker.Check(context.Background(), c, queue, id, 30*time.Second)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			}
			require.NotNil(t, res)
			assert.Equal(t, worker.Identity(), res.Worker)
			assert.Equal(t, id, res.Nonce)
			var names []string
			for _, p := range res.Probes {
				names = append(names, p.Name)
			}
			assert.Equal(t, tt.wantProbes, names)
		})
	}
}

func TestCheckWithoutWorkerTimesOut(t *testing.T) {
	addr := temporaltest.Address(t)
	queue := uniqueQueue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: temporaltest.Namespace}, logging.Discard(), temporalclient.Options{})
	require.NoError(t, err)
	defer c.Close()

	start := time.Now()
	res, err := worker.Check(ctx, c, queue, worker.NewCheckID(start), 2*time.Second)
	require.Error(t, err)
	assert.Nil(t, res)
	assert.Contains(t, err.Error(), "is scouter-worker running?")
	assert.Contains(t, err.Error(), queue)
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestRunGivesUpWhenContextEnds(t *testing.T) {
	port := temporaltest.FreePort(t)
	cfg := testConfig(t, map[string]string{"TEMPORAL_ADDRESS": net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := worker.Run(ctx, cfg, logging.Discard(), worker.Deps{})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "connect to temporal")
}

func TestOptions(t *testing.T) {
	cfg := testConfig(t, map[string]string{"POLLING_WORKER_COUNT": "7", "SHUTDOWN_TIMEOUT_SECONDS": "12"})
	o := worker.Options(cfg)
	assert.Equal(t, 7, o.MaxConcurrentActivityExecutionSize)
	assert.Equal(t, 12*time.Second, o.WorkerStopTimeout)
}

// historyJSON fetches a closed workflow's history and renders it the way
// `temporal workflow show --output json` does: protojson of
// history.v1.History, two-space indent, payloads not shortened.
func historyJSON(ctx context.Context, t *testing.T, c client.Client, workflowID string) []byte {
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

// TestHealthCheckHistoryReplays records a real HealthCheck history, replays
// it, and proves the replayer rejects a history the code no longer matches.
// With -update it also rewrites the committed replay corpus file.
func TestHealthCheckHistoryReplays(t *testing.T) {
	addr := temporaltest.Address(t)
	queue := uniqueQueue(t)
	if *update {
		queue = "scouter"
	}
	cfg := testConfig(t, map[string]string{"TEMPORAL_ADDRESS": addr, "TEMPORAL_TASK_QUEUE": queue})
	const identity = "replay-recorder"
	c := startWorker(t, cfg, worker.Deps{Identity: identity})

	id := workflows.HealthCheckID(fmt.Sprintf("recorded-%d", time.Now().UnixNano()))
	_, err := worker.Check(context.Background(), c, queue, id, 30*time.Second)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := historyJSON(ctx, t, c, id)
	require.Contains(t, string(data), `"ProbeWorker"`, "history should schedule the ProbeWorker activity")

	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, data, 0o644))
	require.NoError(t, worker.Replay(logging.Discard(), good), "replay a fresh history")

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, bytes.ReplaceAll(data, []byte(`"ProbeWorker"`), []byte(`"SomethingElse"`)), 0o644))
	err = worker.Replay(logging.Discard(), good, bad)
	require.Error(t, err, "replay must reject a history whose activity no longer matches the code")
	assert.Contains(t, err.Error(), bad)
	assert.NotContains(t, err.Error(), good)

	if *update {
		require.NoError(t, os.WriteFile(corpusFile, data, 0o644))
		t.Logf("wrote %s", corpusFile)
	}
}

func TestReplayCorpus(t *testing.T) {
	files, err := worker.HistoryFiles(filepath.Dir(corpusFile))
	require.NoError(t, err)
	require.NoError(t, worker.Replay(logging.Discard(), files...))
}

func TestReplayBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.json")
	require.NoError(t, os.WriteFile(junk, []byte("{not json"), 0o644))

	tests := []struct {
		name  string
		files []string
	}{
		{name: "none"},
		{name: "missing", files: []string{filepath.Join(dir, "missing.json")}},
		{name: "not json", files: []string{junk}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Error(t, worker.Replay(logging.Discard(), tt.files...))
		})
	}
}

func TestHistoryFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.json", "a.json", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("{}"), 0o644))
	}
	empty := t.TempDir()
	single := filepath.Join(dir, "notes.txt")

	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "directory", args: []string{dir}, want: []string{filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")}},
		{name: "file kept as given", args: []string{single}, want: []string{single}},
		{name: "no args", wantErr: "no history files given"},
		{name: "empty directory", args: []string{empty}, wantErr: "has no *.json files"},
		{name: "missing", args: []string{filepath.Join(dir, "nope.json")}, wantErr: "nope.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := worker.HistoryFiles(tt.args...)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
