package workflows_test

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/workflows"
)

func historyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no histories in testdata/histories")
	return files
}

// TestReplayHistories replays every recorded history against the current
// workflow code. A failure means a change is not replay-safe: put it behind
// workflow.GetVersion (see STYLE.md) instead of editing the history.
//
// Record a history from a dev server with
// `temporal workflow show -w <id> -o json > workflows/testdata/histories/<name>.json`;
// the HealthCheck history is rewritten by
// `go test ./internal/worker -run TestHealthCheckHistoryReplays -update`.
func TestReplayHistories(t *testing.T) {
	for _, f := range historyFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.RegisterWorkflows(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f), "replay %s", f)
		})
	}
}

var _ worker.WorkflowRegistry = (*names)(nil)

// names records the workflow type names RegisterWorkflows registers.
type names []string

func (n *names) RegisterWorkflow(w any) {
	*n = append(*n, runtime.FuncForPC(reflect.ValueOf(w).Pointer()).Name())
}

func (n *names) RegisterWorkflowWithOptions(w any, o workflow.RegisterOptions) {
	if o.Name == "" {
		n.RegisterWorkflow(w)
		return
	}
	*n = append(*n, o.Name)
}

func (n *names) RegisterDynamicWorkflow(any, workflow.DynamicRegisterOptions) {}

// TestEveryWorkflowHasAHistory keeps the corpus complete: each registered
// workflow type needs at least one recorded history.
func TestEveryWorkflowHasAHistory(t *testing.T) {
	var registered names
	workflows.RegisterWorkflows(&registered)
	require.NotEmpty(t, registered)

	recorded := map[string]bool{}
	for _, f := range historyFiles(t) {
		fh, err := os.Open(f)
		require.NoError(t, err)
		h, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
		require.NoError(t, fh.Close())
		require.NoError(t, err, "parse %s", f)
		require.NotEmpty(t, h.GetEvents(), "%s has no events", f)
		started := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
		require.NotNil(t, started, "%s: first event is not WorkflowExecutionStarted", f)
		recorded[started.GetWorkflowType().GetName()] = true
	}
	sort.Strings(registered)
	for _, name := range registered {
		assert.True(t, recorded[name], "workflow %s has no history in testdata/histories", name)
	}
}
