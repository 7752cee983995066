package redis

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/transport/transporttest"
)

// envURL names the variable holding the test server's URL.
const envURL = "SCOUTER_TEST_REDIS_URL"

func serverURL() string {
	if u := os.Getenv(envURL); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// testClient connects a test-side client, failing the test with a hint when
// no server answers.
func testClient(t *testing.T) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(serverURL())
	require.NoError(t, err)
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Ping(ctx).Err(), "no Redis at %s: start it or set %s", serverURL(), envURL)
	return c
}

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// withClientName adds go-redis's client_name option to a URL, so a test can
// find its consumer's connection in CLIENT LIST.
func withClientName(u, name string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "client_name=" + name
}

// numSub returns the number of subscriptions to channel.
func numSub(t *testing.T, c *goredis.Client, channel string) int64 {
	t.Helper()
	m, err := c.PubSubNumSub(context.Background(), channel).Result()
	require.NoError(t, err)
	return m[channel]
}

func waitNumSub(t *testing.T, c *goredis.Client, channel string, want int64) {
	t.Helper()
	require.Eventually(t, func() bool { return numSub(t, c, channel) == want }, 10*time.Second, 10*time.Millisecond,
		"waiting for %d subscription(s) to %s", want, channel)
}

// publish publishes like upstream's producer: PUBLISH channel json.
func publish(t *testing.T, c *goredis.Client, channel string, msgs []string) {
	t.Helper()
	for _, m := range msgs {
		require.NoError(t, c.Publish(context.Background(), channel, m).Err())
	}
}

// logBuffer collects log lines for assertions and echoes them to the test log.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

type harness struct {
	c    *Consumer
	reg  *prometheus.Registry
	logs *logBuffer
	done chan error
	stop context.CancelFunc
}

func testConfig(addr, channel string, workers int) config.Redis {
	return config.Redis{Addr: config.Secret(addr), ConsumerCount: workers, Channel: channel}
}

// start builds a consumer with short backoffs, applies tweaks and runs it
// until the test ends (or h.stop).
func start(t *testing.T, cfg config.Redis, h Handler, tweaks ...func(*Consumer)) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &logBuffer{t: t}
	c, err := New(cfg, h, slog.New(slog.NewTextHandler(logs, nil)), reg)
	require.NoError(t, err)
	c.retryMin, c.retryMax = 5*time.Millisecond, 40*time.Millisecond
	c.reconnectMin, c.reconnectMax = 20*time.Millisecond, 200*time.Millisecond
	for _, tweak := range tweaks {
		tweak(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{c: c, reg: reg, logs: logs, done: make(chan error, 1), stop: cancel}
	go func() { hs.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-hs.done:
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return hs
}

// shutdown cancels Run and returns how long Run took to return, and its result.
func (hs *harness) shutdown(t *testing.T) (time.Duration, error) {
	t.Helper()
	begin := time.Now()
	hs.stop()
	select {
	case err := <-hs.done:
		hs.done <- err // for the cleanup
		return time.Since(begin), err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of cancel")
		return 0, nil
	}
}

func TestEachMessageProcessedOnce(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	channel := uniqueName("scouter_test_")
	rec := transporttest.NewRecorder()
	rec.Delay = 2 * time.Millisecond // long enough for the workers to overlap
	hs := start(t, testConfig(serverURL(), channel, 3), rec)
	waitNumSub(t, client, channel, 1)

	want := transporttest.Payloads("once", 300)
	publish(t, client, channel, want)
	rec.WaitFor(t, 20*time.Second, "messages handled", transporttest.Handled(want, 1))
	_, err := hs.shutdown(t)
	require.NoError(t, err)

	calls := rec.Calls()
	for _, p := range want {
		assert.Equal(t, 1, calls[p], "handler calls for %s", p)
	}
	assert.Len(t, calls, len(want))
	assert.Equal(t, map[string]bool{"redis:" + channel: true}, rec.Sources())
	assert.Equal(t, int32(3), rec.MaxActive(), "messages handled at once (workers)")
	assert.InDelta(t, len(want), testutil.ToFloat64(hs.c.metrics.consumed), 0)
	assert.InDelta(t, 0, testutil.ToFloat64(hs.c.metrics.handlerErrors), 0)
	n, err := testutil.GatherAndCount(hs.reg, MetricConsumed, MetricHandlerErrors)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "registered metrics")
}

func TestOneSubscriptionForAllWorkers(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	channel := uniqueName("scouter_test_")
	start(t, testConfig(serverURL(), channel, 5), transporttest.NewRecorder())
	waitNumSub(t, client, channel, 1)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int64(1), numSub(t, client, channel), "subscriptions with 5 workers")
}

func TestTransientErrorRetried(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	channel := uniqueName("scouter_test_")
	const fails = 3
	rec := transporttest.NewRecorder()
	rec.Fail = func(_ string, call int) error {
		if call <= fails {
			return errors.New("database unavailable")
		}
		return nil
	}
	hs := start(t, testConfig(serverURL(), channel, 2), rec)
	waitNumSub(t, client, channel, 1)

	want := transporttest.Payloads("retry", 10)
	publish(t, client, channel, want)
	rec.WaitFor(t, 20*time.Second, "messages handled", transporttest.Handled(want, fails+1))
	_, err := hs.shutdown(t)
	require.NoError(t, err)

	calls := rec.Calls()
	for _, p := range want {
		assert.Equal(t, fails+1, calls[p], "handler calls for %s", p)
	}
	assert.InDelta(t, len(want), testutil.ToFloat64(hs.c.metrics.consumed), 0)
	assert.InDelta(t, fails*len(want), testutil.ToFloat64(hs.c.metrics.handlerErrors), 0)
}

// pubsubClientID returns the id of the pubsub connection named name, or 0.
func pubsubClientID(t *testing.T, c *goredis.Client, name string) int64 {
	t.Helper()
	out, err := c.Do(context.Background(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	require.NoError(t, err)
	for _, line := range strings.Split(out, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] == name && fields["sub"] == "1" {
			id, err := strconv.ParseInt(fields["id"], 10, 64)
			require.NoError(t, err)
			return id
		}
	}
	return 0
}

func TestResubscribeAfterClientKill(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	channel := uniqueName("scouter_test_")
	name := uniqueName("scouter_test_client_")
	rec := transporttest.NewRecorder()
	hs := start(t, testConfig(withClientName(serverURL(), name), channel, 2), rec)
	waitNumSub(t, client, channel, 1)

	before := transporttest.Payloads("before", 20)
	publish(t, client, channel, before)
	rec.WaitFor(t, 10*time.Second, "messages handled", transporttest.Handled(before, 1))

	// The equivalent of CLIENT KILL TYPE pubsub, limited to our connection
	// so other subscribers on the server are left alone.
	id := pubsubClientID(t, client, name)
	require.NotZero(t, id, "our pubsub connection in CLIENT LIST")
	killed, err := client.ClientKillByFilter(context.Background(), "ID", strconv.FormatInt(id, 10)).Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), killed, "connections killed")

	var newID int64
	require.Eventually(t, func() bool {
		newID = pubsubClientID(t, client, name)
		return newID != 0 && newID != id
	}, 10*time.Second, 10*time.Millisecond, "a new subscribed connection")
	after := transporttest.Payloads("after", 20)
	publish(t, client, channel, after)
	rec.WaitFor(t, 10*time.Second, "messages handled", transporttest.Handled(after, 1))

	_, err = hs.shutdown(t)
	require.NoError(t, err)
	calls := rec.Calls()
	for _, p := range append(before, after...) {
		assert.Equal(t, 1, calls[p], "handler calls for %s", p)
	}
	assert.GreaterOrEqual(t, hs.logs.count("redis reconnecting"), 1, "the lost connection is logged")
	assert.GreaterOrEqual(t, hs.logs.count("redis subscribed"), 2, "subscribed, then subscribed again")
}

// freezingProxy forwards TCP connections to target until freeze, after
// which the connections open at that moment stay open but carry nothing
// (like a peer that vanished without a FIN). Later connections work.
type freezingProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   []*atomic.Bool // frozen flag per open connection
	conns  []net.Conn
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &freezingProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *freezingProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		frozen := &atomic.Bool{}
		p.mu.Lock()
		p.open = append(p.open, frozen)
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go pipe(out, in, frozen)
		go pipe(in, out, frozen)
	}
}

// pipe copies src to dst, discarding what arrives once frozen.
func pipe(dst io.Writer, src io.Reader, frozen *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.open {
		f.Store(true)
	}
}

func TestResubscribeWhenConnectionGoesSilent(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	opts, err := goredis.ParseURL(serverURL())
	require.NoError(t, err)
	if opts.Network != "tcp" {
		t.Skipf("the proxy needs a TCP server, %s is %s", serverURL(), opts.Network)
	}
	proxy := newFreezingProxy(t, opts.Addr)
	channel := uniqueName("scouter_test_")
	rec := transporttest.NewRecorder()
	hs := start(t, testConfig("redis://"+proxy.ln.Addr().String()+"/0", channel, 1), rec,
		func(c *Consumer) { c.healthInterval = 200 * time.Millisecond })
	logs := hs.logs
	waitNumSub(t, client, channel, 1)

	// Idle for several intervals: pings are answered, nothing is replaced.
	time.Sleep(700 * time.Millisecond)
	assert.Zero(t, logs.count("unresponsive"), "a healthy idle subscription is kept")

	proxy.freeze()
	// The frozen connection stays subscribed on the server; a second one
	// appears when the consumer gives up on the first.
	waitNumSub(t, client, channel, 2)
	msgs := transporttest.Payloads("silent", 5)
	publish(t, client, channel, msgs)
	rec.WaitFor(t, 10*time.Second, "messages handled", transporttest.Handled(msgs, 1))
	assert.Equal(t, 1, logs.count("unresponsive"), "replacements logged")
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail bool
	}{
		{name: "idle"},
		{name: "handler failing", fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := testClient(t)
			channel := uniqueName("scouter_test_")
			rec := transporttest.NewRecorder()
			if tt.fail {
				rec.Fail = func(string, int) error { return errors.New("database unavailable") }
			}
			// A long backoff must not delay shutdown.
			hs := start(t, testConfig(serverURL(), channel, 2), rec, func(c *Consumer) { c.retryMax = time.Hour })
			waitNumSub(t, client, channel, 1)
			if tt.fail {
				publish(t, client, channel, []string{"doomed"})
				rec.WaitFor(t, 10*time.Second, "messages handled", transporttest.Handled([]string{"doomed"}, 2))
			}
			took, err := hs.shutdown(t)
			require.NoError(t, err)
			assert.Less(t, took, time.Second, "time to stop")
			// Redis drops a closed connection's subscriptions when its
			// event loop reads the close, a moment after Close returns.
			waitNumSub(t, client, channel, 0)
			if tt.fail {
				assert.Equal(t, 1, hs.logs.count("redis message dropped at shutdown"), "the loss is logged")
			}
		})
	}
}

func TestUnreachableServerRetries(t *testing.T) {
	t.Parallel()
	hs := start(t, testConfig("redis://127.0.0.1:1/0", uniqueName("scouter_test_"), 1), transporttest.NewRecorder())
	require.Eventually(t, func() bool { return hs.logs.count("redis reconnecting") >= 3 },
		5*time.Second, 20*time.Millisecond, "reconnect attempts against a dead address")
	took, err := hs.shutdown(t)
	require.NoError(t, err, "a network failure is not a Run error")
	assert.Less(t, took, time.Second, "time to stop while backing off")
}

func TestRefusalFailsFast(t *testing.T) {
	t.Parallel()
	testClient(t)
	// An unknown ACL user is refused with WRONGPASS, as a wrong password is.
	u := strings.Replace(serverURL(), "redis://", "redis://scouter-no-such-user:hunter2@", 1)
	hs := start(t, testConfig(u, uniqueName("scouter_test_"), 1), transporttest.NewRecorder())
	select {
	case err := <-hs.done:
		hs.done <- err
		require.Error(t, err)
		t.Logf("Run: %v", err)
		assert.Contains(t, err.Error(), "WRONGPASS")
		assert.NotContains(t, err.Error(), "hunter2")
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept retrying a refused login")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := testConfig("redis://127.0.0.1:6379/0", "c", 1)
	tests := []struct {
		name    string
		mutate  func(*config.Redis)
		h       Handler
		wantErr string
	}{
		{name: "nil handler", mutate: func(*config.Redis) {}, wantErr: "handler is nil"},
		{name: "zero workers", mutate: func(c *config.Redis) { c.ConsumerCount = 0 }, h: transporttest.NewRecorder(), wantErr: "consumer count 0"},
		{name: "empty channel", mutate: func(c *config.Redis) { c.Channel = "" }, h: transporttest.NewRecorder(), wantErr: "channel is empty"},
		{name: "wrong scheme", mutate: func(c *config.Redis) { c.Addr = "http://:hunter2@host/" }, h: transporttest.NewRecorder(), wantErr: "scheme"},
		{name: "unparsable URL", mutate: func(c *config.Redis) { c.Addr = "redis://:hunter2@host:port/" }, h: transporttest.NewRecorder(), wantErr: "invalid URL"},
		{name: "bad database", mutate: func(c *config.Redis) { c.Addr = "redis://:hunter2@host/x" }, h: transporttest.NewRecorder(), wantErr: "database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			_, err := New(cfg, tt.h, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "hunter2", "the error must not reveal the password")
		})
	}

	t.Run("accepted schemes", func(t *testing.T) {
		for _, addr := range []string{"redis://:pw@127.0.0.1:6379/2", "rediss://u:pw@example.com:6380", "unix:///run/redis.sock?db=1"} {
			c, err := New(testConfig(addr, "c", 1), transporttest.NewRecorder(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			require.NoError(t, err, addr)
			assert.NotContains(t, c.server, "pw", "server string for logs")
		}
	})

	t.Run("metrics registered twice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		_, err := New(good, transporttest.NewRecorder(), slog.New(slog.DiscardHandler), reg)
		require.NoError(t, err)
		_, err = New(good, transporttest.NewRecorder(), slog.New(slog.DiscardHandler), reg)
		require.ErrorContains(t, err, "register metrics")
	})
}
