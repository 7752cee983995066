//lint:file-ignore SA1019 the test calls grpc.reflection.v1alpha on purpose: older clients still use it.

package grpcapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scoutergo/server/internal/testenv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/grpcapi"
)

const (
	messageService = "scouter.grpc.v1.MessageService"
	authService    = "scouter.grpc.v1.AuthService"
	datasetService = "scouter.grpc.v1.DatasetService"
)

// lines decodes the JSON log lines written so far.
func logLines(t *testing.T, b *testenv.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "log line %q", line)
		out = append(out, m)
	}
	return out
}

type harness struct {
	srv  *grpcapi.Server
	conn *grpc.ClientConn
	reg  *prometheus.Registry
	logs *testenv.Buffer
	// served receives Serve's result once the server stops.
	served chan error
}

// start serves a grpcapi.Server built from deps over bufconn. deps.Logger and deps.Registerer
// are filled in by the harness.
func start(t *testing.T, deps grpcapi.Deps) *harness {
	t.Helper()
	logs := &testenv.Buffer{}
	reg := prometheus.NewRegistry()
	deps.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps.Registerer = reg

	srv, err := grpcapi.New(deps)
	require.NoError(t, err)

	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(128<<20),
			grpc.MaxCallSendMsgSize(128<<20),
		),
	)
	require.NoError(t, err)

	h := &harness{srv: srv, conn: conn, reg: reg, logs: logs, served: served}
	t.Cleanup(func() {
		assert.NoError(t, conn.Close())
		srv.GRPC().Stop()
		select {
		case err := <-served:
			assert.NoError(t, err, "Serve result")
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Stop")
		}
	})
	return h
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (h *harness) healthStatus(t *testing.T, name string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := healthpb.NewHealthClient(h.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{Service: name})
	require.NoError(t, err, "health check %q", name)
	return resp.GetStatus()
}

func TestHealthServingThenNotServing(t *testing.T) {
	h := start(t, grpcapi.Deps{})
	names := []string{"", messageService, authService, datasetService}
	require.ElementsMatch(t, names, grpcapi.HealthServiceNames())

	for _, name := range names {
		t.Run("serving/"+name, func(t *testing.T) {
			got := h.healthStatus(t, name)
			assert.Equal(t, healthpb.HealthCheckResponse_SERVING, got, "got %v, want SERVING", got)
		})
	}

	_, err := healthpb.NewHealthClient(h.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	assert.Equal(t, codes.NotFound, status.Code(err), "unknown service: got %v", err)

	h.srv.SetNotServing()
	for _, name := range names {
		t.Run("not_serving/"+name, func(t *testing.T) {
			got := h.healthStatus(t, name)
			assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, got, "got %v, want NOT_SERVING", got)
		})
	}
}

func TestReflectionListsServices(t *testing.T) {
	h := start(t, grpcapi.Deps{})
	want := []string{messageService, authService, datasetService, "grpc.health.v1.Health"}

	t.Run("v1", func(t *testing.T) {
		stream, err := reflectionv1.NewServerReflectionClient(h.conn).ServerReflectionInfo(testCtx(t))
		require.NoError(t, err)
		require.NoError(t, stream.Send(&reflectionv1.ServerReflectionRequest{
			MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{},
		}))
		resp, err := stream.Recv()
		require.NoError(t, err)
		var got []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			got = append(got, s.GetName())
		}
		assert.Subset(t, got, want)

		// The descriptor comes from the file clients see as grpc.v1.proto.
		require.NoError(t, stream.Send(&reflectionv1.ServerReflectionRequest{
			MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: messageService},
		}))
		resp, err = stream.Recv()
		require.NoError(t, err)
		require.NotEmpty(t, resp.GetFileDescriptorResponse().GetFileDescriptorProto())
		assert.Contains(t, string(resp.GetFileDescriptorResponse().GetFileDescriptorProto()[0]), "grpc.v1.proto")
		require.NoError(t, stream.CloseSend())
	})

	t.Run("v1alpha", func(t *testing.T) {
		stream, err := reflectionv1alpha.NewServerReflectionClient(h.conn).ServerReflectionInfo(testCtx(t))
		require.NoError(t, err)
		require.NoError(t, stream.Send(&reflectionv1alpha.ServerReflectionRequest{
			MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{},
		}))
		resp, err := stream.Recv()
		require.NoError(t, err)
		var got []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			got = append(got, s.GetName())
		}
		assert.Subset(t, got, want)
		require.NoError(t, stream.CloseSend())
	})
}

// calls holds one representative RPC per service.
func calls(conn *grpc.ClientConn) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"MessageService/InsertMessage": func(ctx context.Context) error {
			_, err := scouterv1.NewMessageServiceClient(conn).InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: []byte(`{}`)})
			return err
		},
		"AuthService/Login": func(ctx context.Context) error {
			_, err := scouterv1.NewAuthServiceClient(conn).Login(ctx, &scouterv1.LoginRequest{Username: "admin", Password: "admin"})
			return err
		},
		"DatasetService/ListDatasets": func(ctx context.Context) error {
			_, err := scouterv1.NewDatasetServiceClient(conn).ListDatasets(ctx, &scouterv1.ListDatasetsRequest{})
			return err
		},
		"DatasetService/ExplainQuery": func(ctx context.Context) error {
			_, err := scouterv1.NewDatasetServiceClient(conn).ExplainQuery(ctx, &scouterv1.ExplainQueryRequest{Sql: "select 1"})
			return err
		},
	}
}

func TestNilServicesAnswerUnimplemented(t *testing.T) {
	h := start(t, grpcapi.Deps{})
	for name, call := range calls(h.conn) {
		t.Run(name, func(t *testing.T) {
			err := call(testCtx(t))
			assert.Equal(t, codes.Unimplemented, status.Code(err), "got %v, want Unimplemented", err)
		})
	}
}

type panickingMessage struct {
	scouterv1.UnimplementedMessageServiceServer
}

func (panickingMessage) InsertMessage(context.Context, *scouterv1.InsertMessageRequest) (*scouterv1.InsertMessageResponse, error) {
	panic("boom in handler")
}

type okMessage struct {
	scouterv1.UnimplementedMessageServiceServer
}

func (okMessage) InsertMessage(context.Context, *scouterv1.InsertMessageRequest) (*scouterv1.InsertMessageResponse, error) {
	return &scouterv1.InsertMessageResponse{}, nil
}

// A successful call logs at debug, as the HTTP access log does.
func TestSuccessfulCallLogsAtDebug(t *testing.T) {
	h := start(t, grpcapi.Deps{Message: okMessage{}})
	_, err := scouterv1.NewMessageServiceClient(h.conn).InsertMessage(testCtx(t),
		&scouterv1.InsertMessageRequest{MessageRecord: []byte(`{}`)})
	require.NoError(t, err)
	lines := logLines(t, h.logs)
	require.Len(t, lines, 1)
	assert.Equal(t, "finished call", lines[0]["msg"])
	assert.Equal(t, "OK", lines[0]["status"])
	assert.Equal(t, "DEBUG", lines[0]["level"])
}

func TestPanicBecomesInternalAndServerKeepsServing(t *testing.T) {
	h := start(t, grpcapi.Deps{Message: panickingMessage{}})
	client := scouterv1.NewMessageServiceClient(h.conn)

	for i := range 2 {
		_, err := client.InsertMessage(testCtx(t), &scouterv1.InsertMessageRequest{MessageRecord: []byte(`{}`)})
		require.Error(t, err, "call %d", i)
		st, _ := status.FromError(err)
		assert.Equal(t, codes.Internal, st.Code(), "call %d: got %v, want Internal", i, err)
		assert.NotContains(t, st.Message(), "boom", "panic value must not reach the client")
	}

	// Still serving other RPCs.
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, h.healthStatus(t, messageService))
	_, err := scouterv1.NewAuthServiceClient(h.conn).Login(testCtx(t), &scouterv1.LoginRequest{})
	assert.Equal(t, codes.Unimplemented, status.Code(err))

	var panics, finished int
	for _, line := range logLines(t, h.logs) {
		switch line["msg"] {
		case "grpc handler panic":
			panics++
			assert.Equal(t, "boom in handler", line["panic"])
			assert.Equal(t, "/"+messageService+"/InsertMessage", line["method"])
			assert.Contains(t, line["stack"], "panickingMessage")
		case "finished call":
			if line["method"] == "/"+messageService+"/InsertMessage" {
				finished++
				assert.Equal(t, "Internal", line["status"])
			}
		}
	}
	assert.Equal(t, 2, panics, "panic log lines")
	assert.Equal(t, 2, finished, "finished-call log lines for InsertMessage")
}

func TestAuthHookOnlyOnMessageAndDataset(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	hook := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		mu.Lock()
		seen = append(seen, info.FullMethod)
		mu.Unlock()
		return nil, status.Error(codes.Unauthenticated, "Missing authorization token")
	}
	h := start(t, grpcapi.Deps{AuthInterceptor: hook})
	cs := calls(h.conn)

	tests := []struct {
		call       string
		wantCode   codes.Code
		wantHooked string // full method the hook must have seen; "" = hook not called
	}{
		{"MessageService/InsertMessage", codes.Unauthenticated, "/" + messageService + "/InsertMessage"},
		{"DatasetService/ListDatasets", codes.Unauthenticated, "/" + datasetService + "/ListDatasets"},
		{"AuthService/Login", codes.Unimplemented, ""},
	}
	for _, tt := range tests {
		t.Run(tt.call, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			err := cs[tt.call](testCtx(t))
			assert.Equal(t, tt.wantCode, status.Code(err), "got %v, want %v", err, tt.wantCode)
			mu.Lock()
			defer mu.Unlock()
			if tt.wantHooked == "" {
				assert.Empty(t, seen, "hook called for %s", tt.call)
			} else {
				assert.Equal(t, []string{tt.wantHooked}, seen)
			}
		})
	}

	t.Run("health", func(t *testing.T) {
		mu.Lock()
		seen = nil
		mu.Unlock()
		assert.Equal(t, healthpb.HealthCheckResponse_SERVING, h.healthStatus(t, messageService))
		mu.Lock()
		defer mu.Unlock()
		assert.Empty(t, seen, "hook called for health")
	})
}

func TestHandledCounterAfterCall(t *testing.T) {
	h := start(t, grpcapi.Deps{})
	handled := func() float64 {
		families, err := h.reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() != "grpc_server_handled_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["grpc_service"] == messageService && labels["grpc_method"] == "InsertMessage" &&
					labels["grpc_code"] == "Unimplemented" && labels["grpc_type"] == "unary" {
					return m.GetCounter().GetValue()
				}
			}
		}
		t.Fatal("grpc_server_handled_total for MessageService/InsertMessage/Unimplemented not gathered")
		return 0
	}

	assert.Zero(t, handled(), "before the call")
	require.Equal(t, codes.Unimplemented, status.Code(calls(h.conn)["MessageService/InsertMessage"](testCtx(t))))
	assert.Equal(t, 1.0, handled(), "after one call")
}

func TestRequestSizeLimits(t *testing.T) {
	h := start(t, grpcapi.Deps{})
	big := bytes.Repeat([]byte("x"), 5<<20) // over 4 MiB, under 64 MiB

	tests := []struct {
		name string
		call func(ctx context.Context) error
		want codes.Code
	}{
		{"message over 4 MiB rejected", func(ctx context.Context) error {
			_, err := scouterv1.NewMessageServiceClient(h.conn).InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: big})
			return err
		}, codes.ResourceExhausted},
		{"auth over 4 MiB rejected", func(ctx context.Context) error {
			_, err := scouterv1.NewAuthServiceClient(h.conn).Login(ctx, &scouterv1.LoginRequest{Password: string(big)})
			return err
		}, codes.ResourceExhausted},
		{"message under 4 MiB passes", func(ctx context.Context) error {
			_, err := scouterv1.NewMessageServiceClient(h.conn).InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: big[:3<<20]})
			return err
		}, codes.Unimplemented},
		{"dataset over 4 MiB passes", func(ctx context.Context) error {
			_, err := scouterv1.NewDatasetServiceClient(h.conn).InsertBatch(ctx, &scouterv1.InsertBatchRequest{IpcData: big})
			return err
		}, codes.Unimplemented},
		{"dataset over 64 MiB rejected", func(ctx context.Context) error {
			_, err := scouterv1.NewDatasetServiceClient(h.conn).InsertBatch(ctx, &scouterv1.InsertBatchRequest{IpcData: make([]byte, 65<<20)})
			return err
		}, codes.ResourceExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(testCtx(t))
			assert.Equal(t, tt.want, status.Code(err), "got %v, want %v", err, tt.want)
		})
	}
}

func TestCallLogHasHouseKeysAndNoPayload(t *testing.T) {
	h := start(t, grpcapi.Deps{})
	const marker = "payload-marker-7f3a"
	_, err := scouterv1.NewMessageServiceClient(h.conn).InsertMessage(testCtx(t),
		&scouterv1.InsertMessageRequest{MessageRecord: []byte(`{"secret":"` + marker + `"}`)})
	require.Equal(t, codes.Unimplemented, status.Code(err))
	h.healthStatus(t, "")

	lines := logLines(t, h.logs)
	require.Len(t, lines, 1, "want one finished-call line and no health lines, got %v", lines)
	line := lines[0]
	assert.Equal(t, "finished call", line["msg"])
	assert.Equal(t, "ERROR", line["level"], "Unimplemented logs at error level")
	assert.Equal(t, "/"+messageService+"/InsertMessage", line["method"])
	assert.Equal(t, "Unimplemented", line["status"])
	assert.Contains(t, line["err"], "not implemented")
	assert.Contains(t, line, "duration_ms")
	for key := range line {
		assert.NotContains(t, key, ".", "dotted key %q in log line", key)
	}
	assert.NotContains(t, h.logs.String(), marker, "payload leaked into the log")
}

type blockingMessage struct {
	scouterv1.UnimplementedMessageServiceServer
	entered chan struct{}
}

func (b blockingMessage) InsertMessage(ctx context.Context, _ *scouterv1.InsertMessageRequest) (*scouterv1.InsertMessageResponse, error) {
	close(b.entered)
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestShutdown(t *testing.T) {
	t.Run("graceful when idle", func(t *testing.T) {
		h := start(t, grpcapi.Deps{})
		require.Equal(t, healthpb.HealthCheckResponse_SERVING, h.healthStatus(t, messageService))
		require.NoError(t, h.srv.Shutdown(testCtx(t)))
		select {
		case err := <-h.served:
			assert.NoError(t, err, "Serve after graceful stop")
			h.served <- nil // for the cleanup
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return after Shutdown")
		}
	})

	t.Run("forced stop when an RPC outlives ctx", func(t *testing.T) {
		entered := make(chan struct{})
		h := start(t, grpcapi.Deps{Message: blockingMessage{entered: entered}})
		callErr := make(chan error, 1)
		go func() {
			_, err := scouterv1.NewMessageServiceClient(h.conn).InsertMessage(context.Background(), &scouterv1.InsertMessageRequest{})
			callErr <- err
		}()
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("handler not entered")
		}

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		began := time.Now()
		err := h.srv.Shutdown(ctx)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v, want DeadlineExceeded", err)
		assert.Less(t, time.Since(began), 5*time.Second)

		select {
		case err := <-callErr:
			assert.Error(t, err, "the in-flight call must fail after a forced stop")
		case <-time.After(5 * time.Second):
			t.Fatal("in-flight call did not end after forced stop")
		}
	})
}

func TestNewRejectsBadDeps(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	_, err := grpcapi.New(grpcapi.Deps{Logger: logger, Registerer: reg})
	require.NoError(t, err)

	tests := []struct {
		name string
		deps grpcapi.Deps
		want string
	}{
		{"nil logger", grpcapi.Deps{Registerer: prometheus.NewRegistry()}, "Logger is nil"},
		{"nil registerer", grpcapi.Deps{Logger: logger}, "Registerer is nil"},
		{"metrics already registered", grpcapi.Deps{Logger: logger, Registerer: reg}, "register grpc metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := grpcapi.New(tt.deps)
			require.Error(t, err)
			assert.Nil(t, srv)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
