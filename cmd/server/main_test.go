package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scoutergo/server/internal/testenv"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/scoutergo/server/internal/pgtest"
)

// buildServer compiles this command once per test binary.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "scouter-server-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "scouter-server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func serverBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	require.NoError(t, err)
	return bin
}

func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}

func waitHTTP(t *testing.T, url string, logs *testenv.Buffer) *http.Response {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			return resp
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never answered; server output:\n%s", url, logs.String())
	return nil
}

func TestServerProcessServesAndStopsGracefully(t *testing.T) {
	bin := serverBinary(t)
	httpPort, grpcPort := testenv.ServerPorts(t)
	logs := &testenv.Buffer{}
	cmd := exec.Command(bin)
	cmd.Env = baseEnv(
		"DATABASE_URI="+pgtest.NewURI(t),
		fmt.Sprintf("SCOUTER_SERVER_PORT=%d", httpPort),
		fmt.Sprintf("SCOUTER_GRPC_PORT=%d", grpcPort),
		"MIN_POOL_SIZE=1", "MAX_POOL_SIZE=10",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	resp := waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/scouter/healthcheck", httpPort), logs)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"alive":true}`, string(body))

	resp = waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort+1), logs)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "go_goroutines")

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "scouter.grpc.v1.MessageService"})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, hc.GetStatus())

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "server output:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not stop within 30 s after SIGTERM; output:\n%s", logs.String())
	}
	assert.Contains(t, logs.String(), "shutting down")
	assert.Contains(t, logs.String(), "server stopped")

	// Nothing listens any more.
	_, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), time.Second)
	assert.Error(t, err)
}

func TestServerRefusesBadConfiguration(t *testing.T) {
	bin := serverBinary(t)
	tests := []struct {
		name string
		env  string
		want string
	}{
		{"pool size", "MAX_POOL_SIZE=abc", `MAX_POOL_SIZE="abc": want a whole number`},
		{"min above max", "MIN_POOL_SIZE=300", `MIN_POOL_SIZE="300": must not exceed MAX_POOL_SIZE (200)`},
		{"uri", "DATABASE_URI=postgres://u@h:port/x", `DATABASE_URI=`},
		{"negative count", "KAFKA_WORKER_COUNT=-1", `KAFKA_WORKER_COUNT="-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cmd := exec.Command(bin)
			cmd.Env = baseEnv(tt.env)
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, 2, ee.ExitCode())
			assert.Contains(t, out.String(), tt.want)
		})
	}
}

func TestServerConfigCommandMasksSecrets(t *testing.T) {
	bin := serverBinary(t)
	cmd := exec.Command(bin, "config")
	cmd.Env = baseEnv("SCOUTER_ENCRYPT_SECRET=very-secret-value-of-sufficient-length", "MAX_POOL_SIZE=42",
		"DATABASE_URI=postgres://scouter:dbpassword@db:5432/scouter")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	s := string(out)
	assert.Contains(t, s, "MAX_POOL_SIZE=42\n")
	assert.Contains(t, s, "SCOUTER_ENCRYPT_SECRET=****\n")
	assert.NotContains(t, s, "very-secret")
	assert.NotContains(t, s, "dbpassword")
	assert.True(t, strings.Contains(s, "TEMPORAL_ADDRESS=127.0.0.1:7233"), s)
}

func TestServerMigrateCommand(t *testing.T) {
	bin := serverBinary(t)
	uri := pgtest.NewEmptyURI(t)
	for range 2 { // idempotent
		cmd := exec.Command(bin, "migrate")
		cmd.Env = baseEnv("DATABASE_URI=" + uri)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Contains(t, string(out), "migrations applied")
	}
	pool := pgtest.Connect(t, uri)
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'scouter' AND table_name = 'drift_profile'`).Scan(&n))
	assert.Equal(t, 1, n)
}
