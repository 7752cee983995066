package temporalclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/internal/temporalclient/temporaltest"
)

// logSink collects JSON log records from concurrent writers.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// records returns the decoded records whose msg equals msg.
func (s *logSink) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	data := append([]byte(nil), s.buf.Bytes()...)
	s.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode log record: %v", err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func newLogger(s *logSink) *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

const retryMsg = "temporal not reachable, retrying"

// proxy forwards TCP connections from listener l to upstream until l closes.
func proxy(t *testing.T, l net.Listener, upstream string) {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = down.Close()
				continue
			}
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				_ = dst.Close()
				_ = src.Close()
			}
			go pipe(up, down)
			go pipe(down, up)
		}
	}()
}

func TestDialRetriesUntilServerAppears(t *testing.T) {
	upstream := temporaltest.Address(t)
	port := temporaltest.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	sink := &logSink{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	type result struct {
		c   client.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: temporaltest.Namespace}, newLogger(sink),
			temporalclient.Options{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AttemptTimeout: time.Second})
		done <- result{c, err}
	}()

	// Nothing listens on addr yet: wait for four logged failures, so the
	// backoff has reached its cap.
	require.Eventually(t, func() bool { return len(sink.records(t, retryMsg)) >= 4 }, 60*time.Second, 20*time.Millisecond,
		"want at least 4 %q log lines", retryMsg)
	select {
	case r := <-done:
		t.Fatalf("Dial returned before the server appeared: client %v, err %v", r.c, r.err)
	default:
	}

	// The server appears on addr.
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err, "listen on %s", addr)
	proxy(t, l, upstream)

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("Dial did not return after the server appeared")
	}
	require.NoError(t, r.err)
	defer r.c.Close()
	_, err = r.c.CheckHealth(ctx, &client.CheckHealthRequest{})
	require.NoError(t, err, "health check through the dialled client")

	recs := sink.records(t, retryMsg)
	wantWaits := []string{"50ms", "100ms", "200ms", "200ms"}
	for i, want := range wantWaits {
		rec := recs[i]
		assert.Equal(t, addr, rec["address"], "record %d address", i)
		assert.Equal(t, temporaltest.Namespace, rec["namespace"], "record %d namespace", i)
		assert.EqualValues(t, i+1, rec["attempt"], "record %d attempt", i)
		assert.NotEmpty(t, rec["err"], "record %d err", i)
		assert.Equal(t, "WARN", rec["level"], "record %d level", i)
		got, err := time.ParseDuration(want)
		require.NoError(t, err)
		assert.EqualValues(t, got, rec["retry_in"], "record %d retry_in: got %v, want %s", i, rec["retry_in"], want)
	}
	assert.Len(t, sink.records(t, "temporal reachable"), 1, "want one recovery line")
}

func TestDialStopsWhenContextEnds(t *testing.T) {
	port := temporaltest.FreePort(t) // nothing listens here
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 700*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "cancel",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(700*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			sink := &logSink{}
			start := time.Now()
			c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: "default"}, newLogger(sink),
				temporalclient.Options{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, AttemptTimeout: time.Second})
			elapsed := time.Since(start)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.True(t, errors.Is(err, tt.want), "got %v, want it to wrap %v", err, tt.want)
			assert.Contains(t, err.Error(), addr)
			assert.Less(t, elapsed, 5*time.Second, "Dial kept going after ctx ended")
			assert.NotEmpty(t, sink.records(t, retryMsg), "want a log line per failed attempt")
		})
	}
}

func TestDialMissingNamespaceRetries(t *testing.T) {
	addr := temporaltest.Address(t)
	sink := &logSink{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: "no-such-namespace"}, newLogger(sink),
		temporalclient.Options{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	require.Error(t, err)
	assert.Nil(t, c)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no-such-namespace")
	recs := sink.records(t, "temporal namespace not found, retrying")
	require.NotEmpty(t, recs, "want namespace-not-found warnings")
	assert.Equal(t, "no-such-namespace", recs[0]["namespace"])
	assert.Empty(t, sink.records(t, retryMsg), "server was reachable; got unreachable warnings")
}

func TestDialReachableServer(t *testing.T) {
	addr := temporaltest.Address(t)
	sink := &logSink{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := temporalclient.Dial(ctx, config.Temporal{Address: addr, Namespace: temporaltest.Namespace}, newLogger(sink), temporalclient.Options{})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	require.NoError(t, err)
	assert.Empty(t, sink.records(t, retryMsg), "first attempt should succeed")
}
