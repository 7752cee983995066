// Package temporaltest gives tests a real Temporal server: the one named by
// SCOUTER_TEST_TEMPORAL_ADDRESS, or a dev server started from the temporal
// CLI for the duration of the test.
package temporaltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/temporalclient"
)

// EnvAddress names the variable holding a running test server's host:port.
const EnvAddress = "SCOUTER_TEST_TEMPORAL_ADDRESS"

// Namespace is the namespace every test server has.
const Namespace = "default"

// Address returns a reachable Temporal frontend for the test: the server in
// SCOUTER_TEST_TEMPORAL_ADDRESS when set, otherwise a dev server started by
// StartDevServer. With neither available the test fails.
func Address(tb testing.TB) string {
	tb.Helper()
	if addr := os.Getenv(EnvAddress); addr != "" {
		return addr
	}
	if _, ok := Binary(); !ok {
		tb.Fatalf("no Temporal server for tests: run `make test` or set %s (or put the temporal CLI on PATH)", EnvAddress)
	}
	return StartDevServer(tb)
}

// Binary finds the temporal CLI on PATH or in $GOPATH/bin.
func Binary() (string, bool) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, true
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "temporal")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		tb.Fatalf("release port %d: %v", port, err)
	}
	return port
}

// StartDevServer runs `temporal server start-dev --headless` on a free
// port of 127.0.0.1 as a child process, waits until the default namespace
// answers, and stops the process when the test ends. It returns host:port.
func StartDevServer(tb testing.TB) string {
	tb.Helper()
	bin, ok := Binary()
	if !ok {
		tb.Fatalf("temporal CLI not found on PATH or in GOPATH/bin: run `make test` or set %s", EnvAddress)
	}
	port := FreePort(tb)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(tb.TempDir(), "temporal-dev.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		tb.Fatalf("create dev server log: %v", err)
	}
	cmd := exec.Command(bin, "server", "start-dev", "--headless",
		"--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--log-level", "error")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		tb.Fatalf("start temporal dev server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		defer logFile.Close()
		if err := cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			tb.Logf("interrupt temporal dev server: %v", err)
		}
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	go func() {
		select {
		case err := <-exited:
			exited <- err // keep it for Cleanup
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: Namespace},
		logging.Discard(), temporalclient.Options{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		out, _ := os.ReadFile(logPath)
		tb.Fatalf("temporal dev server on %s did not become ready: %v\n%s", addr, err, tail(out, 4000))
	}
	c.Close()
	return addr
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	if len(b) == 0 {
		return "(no output)"
	}
	return fmt.Sprintf("dev server output:\n%s", b)
}
