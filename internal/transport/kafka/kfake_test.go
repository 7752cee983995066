package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/kafkatest"
)

// Test helpers: an in-process Kafka-protocol broker (franz-go's kfake), a
// librdkafka producer, a recording handler and offset inspection.

// newCluster starts a one-broker kfake cluster with the given topics (see
// package kafkatest for what it adjusts so that librdkafka can use it).
func newCluster(t *testing.T, partitions int32, topics ...string) (*kfake.Cluster, string) {
	t.Helper()
	return kafkatest.NewCluster(t, partitions, topics...)
}

// produced is one message as the broker stored it.
type produced struct {
	key     partKey
	offset  int64
	payload string
}

// produce writes n messages to each partition of each topic with
// librdkafka's producer (as upstream's clients do) and returns them as
// stored, in partition order. Payloads are "<topic>/<partition>/<seq><pad>".
func produce(t *testing.T, brokers string, topics []string, partitions int32, n int, pad int) []produced {
	t.Helper()
	p, err := ckafka.NewProducer(&ckafka.ConfigMap{
		"bootstrap.servers":         brokers,
		"linger.ms":                 5,
		"message.max.bytes":         20 << 20,
		"max.in.flight":             1,
		"go.delivery.report.fields": "key,value",
		"log_level":                 3,
	})
	require.NoError(t, err)
	defer p.Close()

	total := len(topics) * int(partitions) * n
	reports := make(chan ckafka.Event, total)
	for _, topic := range topics {
		for part := range partitions {
			for seq := range n {
				topic := topic
				msg := &ckafka.Message{
					TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: part},
					Value:          []byte(fmt.Sprintf("%s/%d/%d%s", topic, part, seq, strings.Repeat("x", pad))),
				}
				require.NoError(t, p.Produce(msg, reports))
			}
		}
	}
	out := make([]produced, 0, total)
	timeout := time.After(20 * time.Second)
	for range total {
		select {
		case ev := <-reports:
			m, ok := ev.(*ckafka.Message)
			require.True(t, ok, "unexpected producer event %v", ev)
			require.NoError(t, m.TopicPartition.Error)
			out = append(out, produced{
				key:     partKey{topic: *m.TopicPartition.Topic, partition: m.TopicPartition.Partition},
				offset:  int64(m.TopicPartition.Offset),
				payload: string(m.Value),
			})
		case <-timeout:
			require.FailNow(t, "produce timed out", "%d of %d delivered", len(out), total)
		}
	}
	return out
}

// delivery is one handler call.
type delivery struct {
	key      partKey
	offset   int64
	payload  string
	err      error // what the handler returned
	finished bool  // the wait step returned
}

// parseSource splits "kafka:<topic>/<partition>@<offset>".
func parseSource(source string) (partKey, int64, error) {
	bad := fmt.Errorf("malformed source %q", source)
	rest, ok := strings.CutPrefix(source, "kafka:")
	at := strings.LastIndexByte(rest, '@')
	if !ok || at <= 0 {
		return partKey{}, 0, bad
	}
	slash := strings.LastIndexByte(rest[:at], '/')
	if slash <= 0 {
		return partKey{}, 0, bad
	}
	part, err := strconv.ParseInt(rest[slash+1:at], 10, 32)
	if err != nil {
		return partKey{}, 0, bad
	}
	off, err := strconv.ParseInt(rest[at+1:], 10, 64)
	if err != nil {
		return partKey{}, 0, bad
	}
	return partKey{topic: rest[:slash], partition: int32(part)}, off, nil
}

// recorder is a Handler that records every call in the order the consumer
// started them. decide, when set, runs in the wait step and returns the
// handler's result.
type recorder struct {
	t      *testing.T
	decide func(ctx context.Context, d delivery) error

	mu         sync.Mutex
	calls      []delivery
	waiting    int // wait steps running now
	maxWaiting int // most wait steps seen running at once
}

func (r *recorder) Start(ctx context.Context, source string, payload []byte) func() error {
	key, off, err := parseSource(source)
	if err != nil {
		r.t.Error(err)
	}
	d := delivery{key: key, offset: off, payload: string(payload)}
	r.mu.Lock()
	i := len(r.calls)
	r.calls = append(r.calls, d)
	r.mu.Unlock()
	return func() error {
		r.mu.Lock()
		r.waiting++
		r.maxWaiting = max(r.maxWaiting, r.waiting)
		r.mu.Unlock()
		var err error
		if r.decide != nil {
			err = r.decide(ctx, d)
		}
		r.mu.Lock()
		r.waiting--
		r.calls[i].err = err
		r.calls[i].finished = true
		r.mu.Unlock()
		return err
	}
}

// all returns every call, finished or not, in start order.
func (r *recorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.calls...)
}

// done returns the calls that succeeded, in start order.
func (r *recorder) done() []delivery {
	var out []delivery
	for _, d := range r.all() {
		if d.finished && d.err == nil {
			out = append(out, d)
		}
	}
	return out
}

func (r *recorder) concurrency() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxWaiting
}

// testConfig is the config package's default Kafka settings pointed at
// brokers.
func testConfig(brokers, group string, workers int, topics ...string) config.Kafka {
	return config.Kafka{
		Brokers:          brokers,
		WorkerCount:      workers,
		Topics:           topics,
		Group:            group,
		OffsetReset:      "earliest",
		SecurityProtocol: "SASL_SSL",
		SASLMechanism:    "PLAIN",
	}
}

// newTestConsumer builds a Consumer with short timings.
func newTestConsumer(t *testing.T, cfg config.Kafka, h Handler, reg prometheus.Registerer) *Consumer {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := New(cfg, h, logger, reg)
	require.NoError(t, err)
	c.pollTimeout = 50 * time.Millisecond
	c.commitInterval = 200 * time.Millisecond
	c.backoffMin = 100 * time.Millisecond
	c.backoffMax = time.Second
	c.handlerGrace = 5 * time.Second
	c.closeTimeout = 10 * time.Second
	return c
}

// running is a Consumer.Run in a goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, c *Consumer) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("consumer did not stop")
		}
	})
	return r
}

// stop cancels the run and returns Run's result and how long it took.
func (r *running) stop(t *testing.T, within time.Duration) (time.Duration, error) {
	t.Helper()
	begin := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return time.Since(begin), err
	case <-time.After(within):
		require.FailNow(t, "Run did not return after cancel", "waited %s", within)
		return 0, nil
	}
}

// committed returns the group's committed offsets of the given partitions
// (-1001, ckafka.OffsetInvalid, when nothing is committed).
func committed(t *testing.T, brokers, group string, keys ...partKey) map[partKey]int64 {
	t.Helper()
	got, err := committedOffsets(brokers, group, keys...)
	require.NoError(t, err)
	return got
}

func committedOffsets(brokers, group string, keys ...partKey) (_ map[partKey]int64, err error) {
	kc, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers": brokers,
		"group.id":          group,
		"log_level":         3,
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, kc.Close()) }()
	tps := make([]ckafka.TopicPartition, 0, len(keys))
	for _, k := range keys {
		tps = append(tps, topicPartition(k, ckafka.OffsetInvalid))
	}
	got, err := kc.Committed(tps, 10000)
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	out := make(map[partKey]int64, len(got))
	for _, tp := range got {
		if tp.Error != nil {
			return nil, fmt.Errorf("committed offset of %s/%d: %w", *tp.Topic, tp.Partition, tp.Error)
		}
		out[partKey{topic: *tp.Topic, partition: tp.Partition}] = int64(tp.Offset)
	}
	return out, nil
}

// groupAssignments returns, per group member, the partitions it owns.
func groupAssignments(t *testing.T, brokers, group string) map[string][]partKey {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Groups, 1)
	out := make(map[string][]partKey)
	for _, m := range resp.Groups[0].Members {
		var a kmsg.ConsumerMemberAssignment
		if len(m.MemberAssignment) > 0 {
			require.NoError(t, a.ReadFrom(m.MemberAssignment))
		}
		var keys []partKey
		for _, tp := range a.Topics {
			for _, p := range tp.Partitions {
				keys = append(keys, partKey{topic: tp.Topic, partition: p})
			}
		}
		out[m.ClientID+"/"+m.MemberID] = keys
	}
	return out
}

// keysOf lists the partitions of topics.
func keysOf(partitions int32, topics ...string) []partKey {
	var out []partKey
	for _, topic := range topics {
		for p := range partitions {
			out = append(out, partKey{topic: topic, partition: p})
		}
	}
	return out
}

// eventually waits for cond, failing with msg after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, fmt.Sprintf(msg, args...), "after %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handledSet counts successful handler calls per message.
func handledSet(calls ...[]delivery) map[produced]int {
	out := make(map[produced]int)
	for _, cs := range calls {
		for _, d := range cs {
			if d.finished && d.err == nil {
				out[produced{key: d.key, offset: d.offset, payload: d.payload}]++
			}
		}
	}
	return out
}
