package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/scoutergo/server/internal/app"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/pgtest"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePorts returns an HTTP port whose successor (metrics) is free too, and
// a gRPC port.
func freePorts(t *testing.T) (httpPort, grpcPort int) {
	t.Helper()
	for range 50 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			a.Close()
			continue
		}
		c, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		g := c.Addr().(*net.TCPAddr).Port
		a.Close()
		b.Close()
		c.Close()
		return p, g
	}
	t.Fatal("no free port pair")
	return 0, 0
}

func lookup(env map[string]string) config.Lookup {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// TestServerAuthEndToEnd runs the whole server on random ports against a
// fresh database: default users, HTTP login and a protected route, gRPC
// login and an authenticated call.
func TestServerAuthEndToEnd(t *testing.T) {
	httpPort, grpcPort := freePorts(t)
	cfg, err := config.Load(lookup(map[string]string{
		"DATABASE_URI":        pgtest.NewURI(t),
		"MIN_POOL_SIZE":       "0",
		"MAX_POOL_SIZE":       "4",
		"SCOUTER_SERVER_PORT": fmt.Sprint(httpPort),
		"SCOUTER_GRPC_PORT":   fmt.Sprint(grpcPort),
		// SCOUTER_ENCRYPT_SECRET etc. unset: the public default, with a warning.
	}))
	require.NoError(t, err)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunServer(ctx, cfg, logger, app.ModeBoth) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "RunServer result")
		case <-time.After(30 * time.Second):
			t.Error("RunServer did not return")
		}
	})

	base := fmt.Sprintf("http://127.0.0.1:%d/scouter", httpPort)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string, header http.Header) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		req.Header = header
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(body)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/healthcheck")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("server stopped early: %v\n%s", err, logs.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "server never answered:\n%s", logs.String())
		time.Sleep(50 * time.Millisecond)
	}

	assert.Contains(t, logs.String(), "INSECURE AUTH SECRETS")
	assert.Contains(t, logs.String(), "SCOUTER_ENCRYPT_SECRET")
	assert.Contains(t, logs.String(), "created the default users")
	assert.NotContains(t, logs.String(), "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=", "secret value logged")

	// HTTP: login as admin, call a protected route.
	status, _, body := get("/auth/login", http.Header{"Username": {"admin"}, "Password": {"admin"}})
	require.Equal(t, http.StatusOK, status, body)
	var tok struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	require.NotEmpty(t, tok.Token)

	status, _, body = get("/user", http.Header{"Authorization": {"Bearer " + tok.Token}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"username":"admin"`)
	assert.Contains(t, body, `"username":"guest"`)

	status, _, body = get("/user", nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, `{"error":"Unauthorized","message":"No access token provided"}`, body)

	// gRPC: login as guest (what GrpcConfig() does), then an authenticated call.
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	login, err := scouterv1.NewAuthServiceClient(conn).Login(cctx, &scouterv1.LoginRequest{Username: "guest", Password: "guest"})
	require.NoError(t, err)
	assert.Equal(t, "success", login.GetStatus())
	health, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{Service: "scouter.grpc.v1.MessageService"})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, health.GetStatus())
	v, err := scouterv1.NewAuthServiceClient(conn).ValidateToken(cctx, &scouterv1.ValidateTokenRequest{Token: login.GetToken()})
	require.NoError(t, err)
	assert.True(t, v.GetIsAuthenticated())
	// The interceptor accepts the token (the message service itself may be
	// a stand-in; it must not answer UNAUTHENTICATED).
	mctx := metadata.AppendToOutgoingContext(cctx, "authorization", "Bearer "+login.GetToken())
	_, err = scouterv1.NewMessageServiceClient(conn).InsertMessage(mctx, &scouterv1.InsertMessageRequest{MessageRecord: []byte(`{"records":[]}`)})
	assert.False(t, err != nil && strings.Contains(err.Error(), "Unauthenticated"), "got %v", err)
	_, err = scouterv1.NewMessageServiceClient(conn).InsertMessage(cctx, &scouterv1.InsertMessageRequest{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Missing authorization token")
}

func TestProductionRefusesDefaultSecrets(t *testing.T) {
	_, err := config.Load(lookup(map[string]string{"SCOUTER_ENV": "production"}))
	require.Error(t, err)
	for _, name := range []string{"SCOUTER_ENCRYPT_SECRET", "SCOUTER_REFRESH_SECRET", "SCOUTER_BOOTSTRAP_KEY"} {
		assert.Contains(t, err.Error(), name)
	}
	_, err = config.Load(lookup(map[string]string{
		"SCOUTER_ENV":            "production",
		"SCOUTER_ENCRYPT_SECRET": strings.Repeat("a", 32),
		"SCOUTER_REFRESH_SECRET": strings.Repeat("b", 32),
		"SCOUTER_BOOTSTRAP_KEY":  strings.Repeat("c", 32),
	}))
	require.NoError(t, err)
}
