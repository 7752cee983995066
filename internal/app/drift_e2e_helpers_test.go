package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	"github.com/scoutergo/server/internal/temporalclient/temporaltest"
	"github.com/scoutergo/server/internal/testenv"
	"github.com/scoutergo/server/workflows"
)

// Helpers of the drift end-to-end test: a Temporal namespace of its own, the
// worker as a child process, and HTTP stand-ins for Slack and OpsGenie.

// driftNamespace registers a namespace of the test's own on the Temporal
// test server, with the Scouter search attributes, and returns the server's
// address, the namespace and a client on it. The worker's schedule
// reconcile owns every drift:* schedule of its namespace, so sharing one
// with other tests (or other runs) would let them delete each other's
// schedules. When the test ends every schedule of the namespace is deleted,
// its running workflows are terminated and the namespace is deleted.
func driftNamespace(t *testing.T) (addr, ns string, c client.Client) {
	t.Helper()
	addr = temporaltest.Address(t)
	ns = uniqueName("drift-e2e-")
	admin := driftDial(t, addr, temporaltest.Namespace)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := admin.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err, "register namespace %s", ns)

	attrs := map[string]enumspb.IndexedValueType{}
	for _, name := range []string{workflows.SearchAttrSpace, workflows.SearchAttrName, workflows.SearchAttrVersion, workflows.SearchAttrDriftType} {
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

	c = driftDial(t, addr, ns)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		driftCleanNamespace(ctx, t, c, ns)
		if _, err := admin.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: ns}); err != nil {
			t.Logf("delete namespace %s: %v", ns, err)
		}
	})
	return addr, ns, c
}

func driftDial(t *testing.T, addr, ns string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort: addr, Namespace: ns,
		Logger: log.NewStructuredLogger(logging.Discard()),
	})
	require.NoError(t, err, "dial temporal %s namespace %s", addr, ns)
	t.Cleanup(c.Close)
	return c
}

// driftCleanNamespace deletes every schedule of the namespace and
// terminates its running workflows.
func driftCleanNamespace(ctx context.Context, t *testing.T, c client.Client, ns string) {
	it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	if err != nil {
		t.Logf("list schedules of %s: %v", ns, err)
	} else {
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Logf("list schedules of %s: %v", ns, err)
				break
			}
			if err := c.ScheduleClient().GetHandle(ctx, e.ID).Delete(ctx); err != nil {
				t.Logf("delete schedule %s: %v", e.ID, err)
			}
		}
	}
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: ns, Query: "ExecutionStatus = 'Running'", NextPageToken: token,
		})
		if err != nil {
			t.Logf("list running workflows of %s: %v", ns, err)
			return
		}
		for _, e := range resp.GetExecutions() {
			id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
			if err := c.TerminateWorkflow(ctx, id, run, "test cleanup"); err != nil {
				var nf *serviceerror.NotFound
				if !errors.As(err, &nf) {
					t.Logf("terminate %s: %v", id, err)
				}
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return
		}
	}
}

// buildWorkerBinary builds cmd/worker into a temporary directory.
func buildWorkerBinary(t *testing.T) string {
	t.Helper()
	// go test puts its own GOROOT/bin first on the test's PATH.
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "find the go command")
	bin := filepath.Join(t.TempDir(), "scouter-worker")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/scoutergo/server/cmd/worker")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build cmd/worker:\n%s", out)
	return bin
}

// workerProcess is scouter-worker running as a child process; it may be
// killed and started again. Its stdout and stderr (logs and console alerts)
// of every start go to logs.
type workerProcess struct {
	t    *testing.T
	bin  string
	env  []string
	logs *testenv.Buffer
	cmd  *exec.Cmd
	done chan error
}

// startWorkerProcess runs bin with exactly env (plus PATH and HOME) and
// waits until it polls its task queue. The process is stopped (SIGTERM,
// then SIGKILL) when the test ends.
func startWorkerProcess(t *testing.T, bin string, env map[string]string) *workerProcess {
	t.Helper()
	w := &workerProcess{t: t, bin: bin, logs: &testenv.Buffer{}}
	w.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		w.env = append(w.env, k+"="+v)
	}
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("worker output:\n%s", driftTail(w.logs.String(), 30000))
		}
	})
	w.start()
	return w
}

// start runs the binary and waits for its "worker started" log line.
func (w *workerProcess) start() {
	w.t.Helper()
	before := strings.Count(w.logs.String(), "worker started")
	cmd := exec.Command(w.bin, "run")
	cmd.Env = w.env
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	require.NoError(w.t, cmd.Start(), "start scouter-worker")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	w.cmd, w.done = cmd, done

	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(w.logs.String(), "worker started") == before {
		select {
		case err := <-done:
			done <- err
			w.t.Fatalf("scouter-worker exited during start-up: %v\n%s", err, driftTail(w.logs.String(), 8000))
		default:
		}
		require.True(w.t, time.Now().Before(deadline), "scouter-worker never started:\n%s", driftTail(w.logs.String(), 8000))
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (w *workerProcess) kill() {
	w.t.Helper()
	require.NoError(w.t, w.cmd.Process.Signal(syscall.SIGKILL), "kill scouter-worker")
	select {
	case <-w.done:
	case <-time.After(20 * time.Second):
		w.t.Fatal("scouter-worker still running 20s after SIGKILL")
	}
	w.cmd = nil
}

// stop ends a running process: SIGTERM (a graceful stop), SIGKILL after 20s.
func (w *workerProcess) stop() {
	if w.cmd == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(20 * time.Second):
		w.t.Log("scouter-worker ignored SIGTERM for 20s; killing it")
		_ = w.cmd.Process.Kill()
		<-w.done
	}
	w.cmd = nil
}

func driftTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// standInRequest is one request a stand-in received and what it answered.
type standInRequest struct {
	Path   string
	Auth   string
	Body   []byte
	Status int
	At     time.Time
}

// alertStandIn is a local HTTP server standing in for Slack or OpsGenie:
// it answers okStatus with okBody, or 500 while failures are queued, and
// records every request.
type alertStandIn struct {
	srv      *httptest.Server
	okStatus int
	okBody   string
	failBody string

	mu       sync.Mutex
	reqs     []standInRequest
	failNext int
}

func newAlertStandIn(t *testing.T, okStatus int, okBody, failBody string) *alertStandIn {
	t.Helper()
	s := &alertStandIn{okStatus: okStatus, okBody: okBody, failBody: failBody}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *alertStandIn) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	status, answer := s.okStatus, s.okBody
	if s.failNext > 0 {
		s.failNext--
		status, answer = http.StatusInternalServerError, s.failBody
	}
	s.reqs = append(s.reqs, standInRequest{
		Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: body, Status: status, At: time.Now(),
	})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// failNextRequests makes the next n requests answer 500.
func (s *alertStandIn) failNextRequests(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// requests returns every request so far, in arrival order.
func (s *alertStandIn) requests() []standInRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]standInRequest(nil), s.reqs...)
}

// accepted returns the requests answered with okStatus: the messages the
// channel took.
func (s *alertStandIn) accepted() []standInRequest {
	var out []standInRequest
	for _, r := range s.requests() {
		if r.Status == s.okStatus {
			out = append(out, r)
		}
	}
	return out
}

// slackPost is the part of a chat.postMessage body the test checks.
type slackPost struct {
	Channel string `json:"channel"`
	Blocks  []struct {
		Type string `json:"type"`
		Text struct {
			Type  string `json:"type"`
			Text  string `json:"text"`
			Emoji *bool  `json:"emoji"`
		} `json:"text"`
	} `json:"blocks"`
}

// opsGenieAlert is an OpsGenie Create Alert body.
type opsGenieAlert struct {
	Message     string `json:"message"`
	Description string `json:"description"`
	Responders  []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"responders"`
	VisibleTo []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"visibleTo"`
	Tags     []string `json:"tags"`
	Priority string   `json:"priority"`
	Alias    string   `json:"alias"`
}

func decodeInto[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "decode %s", b)
	return v
}
