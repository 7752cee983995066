package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/transport/transporttest"
)

// envURL names the variable holding the test broker's URL.
const envURL = "SCOUTER_TEST_RABBITMQ_URL"

func brokerURL() string {
	if u := os.Getenv(envURL); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// dialBroker connects a test-side client, failing the test with a hint when
// no broker answers.
func dialBroker(t *testing.T) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(brokerURL())
	require.NoError(t, err, "no RabbitMQ at %s: start it or set %s", brokerURL(), envURL)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// testQueue returns a unique queue name and deletes the queue after the test.
func testQueue(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	q := "scouter_test_" + hex.EncodeToString(b)
	conn := dialBroker(t)
	t.Cleanup(func() {
		ch, err := conn.Channel()
		if err != nil {
			t.Logf("delete queue %s: %v", q, err)
			return
		}
		defer func() { _ = ch.Close() }()
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("delete queue %s: %v", q, err)
		}
	})
	return q
}

// publisher publishes like upstream's producer: it declares the queue with
// the default options, then publishes to the default exchange with the
// queue as routing key and default properties. It waits for publisher
// confirms so the test knows the broker holds every message.
type publisher struct {
	ch    *amqp.Channel
	queue string
}

func newPublisher(t *testing.T, queue string) *publisher {
	t.Helper()
	ch, err := dialBroker(t).Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(queue, false, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	return &publisher{ch: ch, queue: queue}
}

func (p *publisher) publish(ctx context.Context, bodies ...string) error {
	confs := make([]*amqp.DeferredConfirmation, 0, len(bodies))
	for _, b := range bodies {
		c, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, "", p.queue, false, false, amqp.Publishing{Body: []byte(b)})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		confs = append(confs, c)
	}
	for _, c := range confs {
		ok, err := c.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("wait for confirm: %w", err)
		}
		if !ok {
			return errors.New("broker nacked a publish")
		}
	}
	return nil
}

// readyCount returns the number of messages ready in queue.
func readyCount(t *testing.T, queue string) int {
	t.Helper()
	ch, err := dialBroker(t).Channel()
	require.NoError(t, err)
	defer func() { _ = ch.Close() }()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	require.NoError(t, err)
	return q.Messages
}

type harness struct {
	c    *Consumer
	reg  *prometheus.Registry
	done chan error
	stop context.CancelFunc
}

func testConfig(queue string, consumers int) config.RabbitMQ {
	return config.RabbitMQ{
		Addr:          config.Secret(brokerURL()),
		ConsumerCount: consumers,
		PrefetchCount: 10,
		Queue:         queue,
		ConsumerTag:   queue, // unique per test, so tests find their own connections
	}
}

// start builds a consumer with short backoffs and runs it until the test
// ends (or h.stop).
func start(t *testing.T, cfg config.RabbitMQ, h Handler) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := New(cfg, h, slog.New(slog.NewTextHandler(testWriter{t}, nil)), reg)
	require.NoError(t, err)
	c.reconnectMin, c.reconnectMax = 50*time.Millisecond, 500*time.Millisecond
	c.retryMin, c.retryMax = 5*time.Millisecond, 40*time.Millisecond
	c.heartbeat = 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{c: c, reg: reg, done: make(chan error, 1), stop: cancel}
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

// shutdown cancels Run and returns its result.
func (hs *harness) shutdown(t *testing.T) error {
	t.Helper()
	hs.stop()
	select {
	case err := <-hs.done:
		hs.done <- err // for the cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of cancel")
		return nil
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestConsumeAll(t *testing.T) {
	t.Parallel()
	queue := testQueue(t)
	pub := newPublisher(t, queue)
	rec := transporttest.NewRecorder()
	hs := start(t, testConfig(queue, 3), rec)

	want := transporttest.Payloads("all", 300)
	require.NoError(t, pub.publish(context.Background(), want...))
	rec.WaitFor(t, 20*time.Second, "all messages", transporttest.Handled(want, 1))

	ch, err := dialBroker(t).Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, q.Consumers, "consumers on the queue")
	assertConsumerTags(t, queue, []string{queue + "-1", queue + "-2", queue + "-3"})

	require.NoError(t, hs.shutdown(t))
	calls := rec.Calls()
	for _, b := range want {
		assert.Equal(t, 1, calls[b], "handler calls for %s", b)
	}
	assert.Len(t, calls, len(want))
	assert.Equal(t, map[string]bool{"rabbitmq:" + queue: true}, rec.Sources())
	assert.Equal(t, 0, readyCount(t, queue), "messages left in the queue: all must be acked")
	assert.InDelta(t, len(want), testutil.ToFloat64(hs.c.metrics.consumed), 0)
	assert.InDelta(t, 0, testutil.ToFloat64(hs.c.metrics.handlerErrors), 0)
	n, err := testutil.GatherAndCount(hs.reg, MetricConsumed, MetricHandlerErrors, MetricReconnects)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "registered metrics")
}

// assertConsumerTags checks the tags the broker lists for queue.
func assertConsumerTags(t *testing.T, queue string, want []string) {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", "-q", "list_consumers", "--no-table-headers", "queue_name", "consumer_tag").CombinedOutput()
	require.NoError(t, err, "rabbitmqctl list_consumers: %s", out)
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == queue {
			got = append(got, f[1])
		}
	}
	assert.ElementsMatch(t, want, got, "consumer tags")
}

func TestTransientFailureRequeues(t *testing.T) {
	t.Parallel()
	queue := testQueue(t)
	pub := newPublisher(t, queue)
	const fails = 3
	rec := transporttest.NewRecorder()
	rec.Fail = func(_ string, call int) error {
		if call <= fails {
			return errors.New("database unavailable")
		}
		return nil
	}
	hs := start(t, testConfig(queue, 2), rec)

	want := transporttest.Payloads("retry", 20)
	require.NoError(t, pub.publish(context.Background(), want...))
	rec.WaitFor(t, 30*time.Second, "all messages past their failures", transporttest.Handled(want, fails+1))

	require.NoError(t, hs.shutdown(t))
	calls := rec.Calls()
	for _, b := range want {
		assert.Equal(t, fails+1, calls[b], "handler calls for %s", b)
	}
	assert.Equal(t, 0, readyCount(t, queue), "messages left in the queue")
	assert.InDelta(t, len(want), testutil.ToFloat64(hs.c.metrics.consumed), 0)
	assert.InDelta(t, fails*len(want), testutil.ToFloat64(hs.c.metrics.handlerErrors), 0)
}

func TestDeclareCompatibility(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		durable bool
		wantErr string // empty: the consumer must run
	}{
		{name: "upstream producer options", durable: false},
		{name: "durable queue", durable: true, wantErr: "PRECONDITION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			queue := testQueue(t)
			ch, err := dialBroker(t).Channel()
			require.NoError(t, err)
			_, err = ch.QueueDeclare(queue, tt.durable, false, false, false, nil)
			require.NoError(t, err)

			rec := transporttest.NewRecorder()
			hs := start(t, testConfig(queue, 2), rec)
			if tt.wantErr == "" {
				require.NoError(t, ch.PublishWithContext(context.Background(), "", queue, false, false, amqp.Publishing{Body: []byte("x")}))
				rec.WaitFor(t, 10*time.Second, "the message", func(c map[string]int) bool { return c["x"] == 1 })
				require.NoError(t, hs.shutdown(t))
				return
			}
			select {
			case err := <-hs.done:
				hs.done <- err
				require.Error(t, err)
				t.Logf("Run: %v", err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), "durable=false", "the error names the options we declare")
				assert.Contains(t, err.Error(), queue)
			case <-time.After(10 * time.Second):
				t.Fatal("Run kept retrying a declare that cannot succeed")
			}
		})
	}
}

// connectionsNamed lists the broker-side ids (Erlang pids, which
// close_connection takes) of the connections whose client-provided name
// contains part.
func connectionsNamed(t *testing.T, part string) []string {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties").CombinedOutput()
	require.NoError(t, err, "rabbitmqctl list_connections: %s", out)
	// One line per connection: the pid, a tab, then the properties as an
	// Erlang term such as [{"product","..."},{"connection_name","..."},...].
	// (The JSON formatter prints pids in a form close_connection rejects.)
	var pids []string
	for _, line := range strings.Split(string(out), "\n") {
		pid, props, ok := strings.Cut(line, "\t")
		if ok && strings.Contains(props, `{"connection_name","`+part) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// closeConnections force-closes, from the broker side, the connections
// with the given pids.
func closeConnections(t *testing.T, pids []string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, pid := range pids {
		wg.Go(func() {
			out, err := exec.Command("rabbitmqctl", "-q", "close_connection", pid, "test: forced close").CombinedOutput()
			assert.NoError(t, err, "rabbitmqctl close_connection: %s", out)
		})
	}
	wg.Wait()
}

func TestReconnectUnderLoad(t *testing.T) {
	t.Parallel()
	queue := testQueue(t)
	pub := newPublisher(t, queue)
	rec := transporttest.NewRecorder()
	// Calls after the first 150 wait until the connections are closed, so
	// deliveries are in flight when they die however long rabbitmqctl
	// takes to start (~2 s, more on a loaded machine).
	closed := make(chan struct{})
	var started atomic.Int32
	rec.Hold = func() {
		if started.Add(1) > 150 {
			<-closed
		}
	}
	rec.Delay = time.Millisecond
	hs := start(t, testConfig(queue, 2), rec)
	// Find our connections before the load starts: rabbitmqctl is slow.
	var pids []string
	require.Eventually(t, func() bool {
		pids = connectionsNamed(t, "scouter "+queue+"-")
		return len(pids) == 2
	}, 20*time.Second, 100*time.Millisecond, "the consumers' two connections")

	want := transporttest.Payloads("load", 1000)
	published := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		for i := 0; i < len(want) && err == nil; i += 50 {
			err = pub.publish(ctx, want[i:i+50]...)
		}
		published <- err
	}()

	rec.WaitFor(t, 20*time.Second, "the first 100 messages", func(c map[string]int) bool { return len(c) >= 100 })
	closeConnections(t, pids)
	handledAtClose := len(rec.Calls())
	close(closed)
	require.Less(t, handledAtClose, len(want), "the close must happen under load")

	require.NoError(t, <-published)
	rec.WaitFor(t, 40*time.Second, "all 1000 messages", transporttest.Handled(want, 1))
	assert.GreaterOrEqual(t, testutil.ToFloat64(hs.c.metrics.reconnects), 2.0, "reconnects")
	now := connectionsNamed(t, "scouter "+queue+"-")
	assert.Len(t, now, 2, "reconnected connections")
	assert.NotContains(t, now, pids[0], "connections after the close are new ones")

	require.NoError(t, hs.shutdown(t))
	assert.Equal(t, 0, readyCount(t, queue), "messages left in the queue")
	dups := 0
	for _, n := range rec.Calls() {
		dups += n - 1
	}
	t.Logf("handled at close: %d; redelivered duplicates: %d; reconnects: %v",
		handledAtClose, dups, testutil.ToFloat64(hs.c.metrics.reconnects))
}

func TestQueueDeletedUnderConsumer(t *testing.T) {
	t.Parallel()
	queue := testQueue(t)
	pub := newPublisher(t, queue)
	rec := transporttest.NewRecorder()
	hs := start(t, testConfig(queue, 1), rec)
	require.NoError(t, pub.publish(context.Background(), "before"))
	rec.WaitFor(t, 10*time.Second, "the first message", func(c map[string]int) bool { return c["before"] == 1 })

	// The broker cancels our consumer; it must declare the queue again.
	ch, err := dialBroker(t).Channel()
	require.NoError(t, err)
	_, err = ch.QueueDelete(queue, false, false, false)
	require.NoError(t, err)
	conn := dialBroker(t)
	require.Eventually(t, func() bool {
		ch, err := conn.Channel() // a failed passive declare closes the channel
		if err != nil {
			return false
		}
		defer func() { _ = ch.Close() }()
		q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		return err == nil && q.Consumers == 1
	}, 10*time.Second, 50*time.Millisecond, "the queue declared again and consumed")

	require.NoError(t, pub.publish(context.Background(), "after"))
	rec.WaitFor(t, 10*time.Second, "the message after the delete", func(c map[string]int) bool { return c["after"] == 1 })
	assert.InDelta(t, 1, testutil.ToFloat64(hs.c.metrics.reconnects), 0, "reconnects")
}

// blocker is a Handler that blocks on its first call until released, and
// reports whether that call's context was still alive when it finished.
type blocker struct {
	entered  chan struct{}
	release  chan struct{}
	mu       sync.Mutex
	calls    []string
	ctxAlive bool
}

func (b *blocker) Handle(ctx context.Context, _ string, payload []byte) error {
	b.mu.Lock()
	b.calls = append(b.calls, string(payload))
	first := len(b.calls) == 1
	b.mu.Unlock()
	if !first {
		return nil
	}
	close(b.entered)
	<-b.release
	b.mu.Lock()
	b.ctxAlive = ctx.Err() == nil
	b.mu.Unlock()
	return nil
}

func TestShutdownFinishesInFlightDelivery(t *testing.T) {
	t.Parallel()
	queue := testQueue(t)
	pub := newPublisher(t, queue)
	b := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
	hs := start(t, testConfig(queue, 1), b)

	require.NoError(t, pub.publish(context.Background(), transporttest.Payloads("stop", 5)...))
	select {
	case <-b.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("handler never called")
	}
	hs.stop()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-hs.done:
		t.Fatal("Run returned while a delivery was in flight")
	default:
	}
	close(b.release)
	require.NoError(t, hs.shutdown(t))

	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Len(t, b.calls, 1, "deliveries handled after cancel")
	assert.True(t, b.ctxAlive, "the in-flight delivery's context must survive shutdown within the grace period")
	assert.Equal(t, 4, readyCount(t, queue), "the in-flight delivery is acked, the prefetched rest requeued")
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := testConfig("q", 1)
	tests := []struct {
		name    string
		mutate  func(*config.RabbitMQ)
		h       Handler
		wantErr string
	}{
		{name: "nil handler", mutate: func(*config.RabbitMQ) {}, wantErr: "handler is nil"},
		{name: "zero consumers", mutate: func(c *config.RabbitMQ) { c.ConsumerCount = 0 }, h: transporttest.NewRecorder(), wantErr: "consumer count 0"},
		{name: "prefetch too large", mutate: func(c *config.RabbitMQ) { c.PrefetchCount = 70000 }, h: transporttest.NewRecorder(), wantErr: "prefetch count 70000"},
		{name: "empty queue", mutate: func(c *config.RabbitMQ) { c.Queue = "" }, h: transporttest.NewRecorder(), wantErr: "queue name is empty"},
		{name: "empty tag", mutate: func(c *config.RabbitMQ) { c.ConsumerTag = "" }, h: transporttest.NewRecorder(), wantErr: "consumer tag is empty"},
		{name: "wrong scheme", mutate: func(c *config.RabbitMQ) { c.Addr = "http://u:hunter2@host/" }, h: transporttest.NewRecorder(), wantErr: "scheme"},
		{name: "unparsable URL", mutate: func(c *config.RabbitMQ) { c.Addr = "amqp://u:hunter2@host:port/" }, h: transporttest.NewRecorder(), wantErr: "invalid URL"},
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

	t.Run("metrics registered twice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		_, err := New(good, transporttest.NewRecorder(), slog.New(slog.DiscardHandler), reg)
		require.NoError(t, err)
		_, err = New(good, transporttest.NewRecorder(), slog.New(slog.DiscardHandler), reg)
		require.ErrorContains(t, err, "register metrics")
	})
}

func TestUnreachableBrokerRetries(t *testing.T) {
	t.Parallel()
	cfg := testConfig("unused", 1)
	cfg.Addr = "amqp://guest:guest@127.0.0.1:1/" // nothing listens on port 1
	hs := start(t, cfg, transporttest.NewRecorder())
	require.Eventually(t, func() bool { return testutil.ToFloat64(hs.c.metrics.reconnects) >= 3 },
		5*time.Second, 20*time.Millisecond, "reconnect attempts against a dead address")
	start := time.Now()
	require.NoError(t, hs.shutdown(t), "a transient failure is not a Run error")
	assert.Less(t, time.Since(start), 2*time.Second, "Run stops promptly while backing off")
}
