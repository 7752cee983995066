package schedule_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/schedule"
	"github.com/scoutergo/server/internal/temporalclient/temporaltest"
	"github.com/scoutergo/server/workflows"
)

// searchAttributes are the Keyword attributes `make test` registers.
var searchAttributes = []string{
	workflows.SearchAttrSpace, workflows.SearchAttrName, workflows.SearchAttrVersion, workflows.SearchAttrDriftType,
}

// tenv is a test's own Temporal namespace on the test server (the reconcile
// owns every drift:* schedule of its namespace, so tests must not share
// one), a client on it, a task queue no worker polls, and a Manager.
type tenv struct {
	addr      string
	ns        string
	c         client.Client
	taskQueue string
	m         *schedule.Manager
}

func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// uniqueSpace is a profile space no other test uses.
func uniqueSpace(t testing.TB) string { return "sp-" + randHex(t, 4) }

func dial(t testing.TB, addr, ns string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort: addr, Namespace: ns,
		Logger: log.NewStructuredLogger(logging.Discard()),
	})
	require.NoError(t, err, "dial temporal %s", addr)
	t.Cleanup(c.Close)
	return c
}

// newEnv creates a namespace with the Scouter search attributes and a
// Manager in it (opts.Client is filled in, and opts.TaskQueue when empty,
// with a queue no worker polls). The
// namespace, and everything in it, is deleted when the test ends (which
// takes the server a few seconds: tests using newEnv run in parallel).
func newEnv(t *testing.T, opts schedule.Options) *tenv {
	t.Helper()
	t.Parallel()
	addr := temporaltest.Address(t)
	ns := "schedtest-" + randHex(t, 6)
	admin := dial(t, addr, temporaltest.Namespace)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	_, err := admin.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err, "register namespace %s", ns)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		deleteAllSchedules(ctx, t, dial(t, addr, ns))
		if _, err := admin.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: ns}); err != nil {
			t.Logf("delete namespace %s: %v", ns, err)
		}
	})
	attrs := map[string]enumspb.IndexedValueType{}
	for _, name := range searchAttributes {
		attrs[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	for {
		_, err = admin.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: ns, SearchAttributes: attrs,
		})
		var nf *serviceerror.NamespaceNotFound
		if err == nil || !errors.As(err, &nf) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, "add search attributes to %s", ns)

	c := dial(t, addr, ns)
	opts.Client = c
	if opts.TaskQueue == "" {
		opts.TaskQueue = "schedtest-" + randHex(t, 4)
	}
	opts.Logger = logging.Discard()
	m, err := schedule.NewManager(opts)
	require.NoError(t, err)
	return &tenv{addr: addr, ns: ns, c: c, taskQueue: opts.TaskQueue, m: m}
}

// deleteAllSchedules removes every schedule of the client's namespace and
// terminates the runs they started.
func deleteAllSchedules(ctx context.Context, t testing.TB, c client.Client) {
	it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	if err != nil {
		t.Logf("list schedules: %v", err)
		return
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Logf("list schedules: %v", err)
			return
		}
		h := c.ScheduleClient().GetHandle(ctx, e.ID)
		if d, err := h.Describe(ctx); err == nil {
			for _, r := range d.Info.RunningWorkflows {
				_ = c.TerminateWorkflow(ctx, r.WorkflowID, "", "test cleanup")
			}
		}
		if err := h.Delete(ctx); err != nil {
			t.Logf("delete schedule %s: %v", e.ID, err)
		}
	}
}

func (e *tenv) describe(t *testing.T, id string) *client.ScheduleDescription {
	t.Helper()
	d, err := e.c.ScheduleClient().GetHandle(t.Context(), id).Describe(t.Context())
	require.NoError(t, err, "describe schedule %s", id)
	return d
}

// exists reports whether schedule id exists (Describe is consistent, List
// is not).
func (e *tenv) exists(t *testing.T, id string) bool {
	t.Helper()
	_, err := e.c.ScheduleClient().GetHandle(t.Context(), id).Describe(t.Context())
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false
	}
	require.NoError(t, err, "describe schedule %s", id)
	return true
}

// waitListed waits until the (eventually consistent) schedule list shows
// every id.
func (e *tenv) waitListed(t *testing.T, ids ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		it, err := e.c.ScheduleClient().List(t.Context(), client.ScheduleListOptions{})
		if err != nil {
			return false
		}
		seen := map[string]bool{}
		for it.HasNext() {
			s, err := it.Next()
			if err != nil {
				return false
			}
			seen[s.ID] = true
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	}, 20*time.Second, 100*time.Millisecond, "schedules %v never listed", ids)
}

// profileJSON is internal/profile's testdata/<kind>.json with config.space,
// name and alert_config.schedule replaced.
func profileJSON(t *testing.T, kind, space, name, cron string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "profile", "testdata", strings.ToLower(kind)+".json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	cfg := m["config"].(map[string]any)
	cfg["space"], cfg["name"] = space, name
	cfg["alert_config"].(map[string]any)["schedule"] = cron
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return string(out)
}

// actionOf returns the described workflow action.
func actionOf(t *testing.T, d *client.ScheduleDescription) *client.ScheduleWorkflowAction {
	t.Helper()
	a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "action is %T, want a workflow action", d.Schedule.Action)
	return a
}
