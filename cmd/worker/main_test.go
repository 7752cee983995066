package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/temporalclient/temporaltest"
	"github.com/scoutergo/server/internal/worker"
)

func lookup(env map[string]string) config.Lookup {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestRunCommands(t *testing.T) {
	corpus := filepath.Join("..", "..", "workflows", "testdata", "histories")
	corpusFile := filepath.Join(corpus, "healthcheck.json")
	data, err := os.ReadFile(corpusFile)
	require.NoError(t, err)
	all, err := filepath.Glob(filepath.Join(corpus, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, all)
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, bytes.ReplaceAll(data, []byte(`"ProbeWorker"`), []byte(`"Renamed"`)), 0o644))

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "usage: scouter-worker"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "bad config", args: []string{"config"}, env: map[string]string{"POLLING_WORKER_COUNT": "zero"}, wantCode: 2,
			wantStderr: "POLLING_WORKER_COUNT"},
		{name: "config", args: []string{"config"}, env: map[string]string{"TEMPORAL_TASK_QUEUE": "q1"}, wantCode: 0,
			wantStdout: "TEMPORAL_TASK_QUEUE=q1\n"},
		{name: "config masks secrets", args: []string{"config"}, env: map[string]string{"SCOUTER_DEFAULT_PASSWORD": "hunter2"}, wantCode: 0,
			wantStdout: "SCOUTER_DEFAULT_PASSWORD=****"},
		{name: "run with extra args", args: []string{"run", "x"}, wantCode: 2, wantStderr: "unexpected arguments"},
		{name: "replay corpus dir", args: []string{"replay", corpus}, wantCode: 0, wantStdout: fmt.Sprintf("ok: %d histories replayed", len(all))},
		{name: "replay file", args: []string{"replay", corpusFile}, wantCode: 0, wantStdout: "ok: 1 histories replayed"},
		{name: "replay ignores bad config", args: []string{"replay", corpusFile}, env: map[string]string{"POLLING_WORKER_COUNT": "zero"},
			wantCode: 0, wantStdout: "ok: 1 histories replayed"},
		{name: "replay non-deterministic", args: []string{"replay", corpusFile, bad}, wantCode: 1, wantStderr: "nondeterministic"},
		{name: "replay nothing", args: []string{"replay"}, wantCode: 2, wantStderr: "no history files given"},
		{name: "replay missing file", args: []string{"replay", "nope.json"}, wantCode: 2, wantStderr: "nope.json"},
		{name: "check bad flag", args: []string{"check", "-timeout", "soon"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, lookup(tt.env), &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code, "exit code; stderr:\n%s", stderr.String())
			assert.Contains(t, stdout.String(), tt.wantStdout)
			assert.Contains(t, stderr.String(), tt.wantStderr)
			assert.NotContains(t, stdout.String()+stderr.String(), "hunter2")
		})
	}
}

func TestCheckCommand(t *testing.T) {
	addr := temporaltest.Address(t)
	queue := fmt.Sprintf("scouter-cmd-check-%d", time.Now().UnixNano())
	env := map[string]string{"TEMPORAL_ADDRESS": addr, "TEMPORAL_TASK_QUEUE": queue}

	// No worker polls the queue yet: the check gives up.
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "-timeout", "2s"}, lookup(env), &stdout, &stderr)
	assert.Equal(t, 1, code, "stderr:\n%s", stderr.String())
	assert.Contains(t, stderr.String(), "is scouter-worker running?")

	// Start the worker the way `scouter-worker` does, then check again.
	cfg, err := config.Load(lookup(env))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- worker.Run(ctx, cfg, logging.Discard(), worker.Deps{}) }()
	defer func() {
		cancel()
		require.NoError(t, <-errc)
	}()

	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"check"}, lookup(env), &stdout, &stderr)
	assert.Equal(t, 0, code, "stderr:\n%s", stderr.String())
	assert.Contains(t, stdout.String(), "ok: worker "+worker.Identity())
	assert.Contains(t, stdout.String(), "on task queue "+queue)
}
