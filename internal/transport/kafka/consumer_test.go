package kafka

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errTransient = errors.New("database unavailable")

// offsetsByPartition groups the offsets of calls by partition, in call order.
func offsetsByPartition(calls []delivery) map[partKey][]int64 {
	out := make(map[partKey][]int64)
	for _, d := range calls {
		out[d.key] = append(out[d.key], d.offset)
	}
	return out
}

// sorted returns offs in ascending order.
func sorted(offs []int64) []int64 {
	out := slices.Clone(offs)
	slices.Sort(out)
	return out
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestConsumesTwoTopicsInOrder(t *testing.T) {
	const partitions, perPartition = 3, 40
	topics := []string{"alpha", "beta"}
	_, brokers := newCluster(t, partitions, topics...)
	want := produce(t, brokers, topics, partitions, perPartition, 0)

	rec := &recorder{t: t}
	reg := prometheus.NewRegistry()
	c := newTestConsumer(t, testConfig(brokers, "two-topics", 1, topics...), rec, reg)
	run := start(t, c)

	eventually(t, 20*time.Second, func() bool { return len(rec.done()) >= len(want) },
		"want %d messages handled", len(want))

	calls := rec.all()
	require.Len(t, calls, len(want), "every message handled exactly once")
	byPart := offsetsByPartition(calls)
	for _, k := range keysOf(partitions, topics...) {
		assert.Equal(t, seq(0, perPartition), byPart[k], "offsets of %v in the order the handler got them", k)
	}
	wantSet := make(map[produced]int)
	for _, p := range want {
		wantSet[p] = 1
	}
	assert.Equal(t, wantSet, handledSet(calls), "payload at each offset")

	took, err := run.stop(t, 10*time.Second)
	require.NoError(t, err)
	t.Logf("Run returned %s after cancel", took)

	got := committed(t, brokers, "two-topics", keysOf(partitions, topics...)...)
	for _, k := range keysOf(partitions, topics...) {
		assert.Equal(t, int64(perPartition), got[k], "committed offset of %v", k)
	}
	for _, topic := range topics {
		assert.Equal(t, float64(partitions*perPartition),
			testutil.ToFloat64(c.metrics.consumed.WithLabelValues(topic)), "consumed metric of %s", topic)
	}
	assert.Equal(t, 0.0, testutil.ToFloat64(c.metrics.handlerErrors.WithLabelValues("alpha")))
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	assert.ElementsMatch(t, []string{metricConsumed, metricHandlerErrors, metricCommitErrors, metricConsumerErrors, metricInFlight}, names)
}

func TestHandlerErrorRetriesSameMessage(t *testing.T) {
	const n, poison = 10, 5
	topic := "retry"
	key := partKey{topic: topic, partition: 0}
	_, brokers := newCluster(t, 1, topic)
	produce(t, brokers, []string{topic}, 1, n, 0)

	var (
		failures     int
		attemptTimes []time.Time
		commitSeen   = int64(-2) // committed offset seen by the successful retry
	)
	rec := &recorder{t: t}
	rec.decide = func(_ context.Context, d delivery) error {
		if d.offset != poison {
			return nil
		}
		attemptTimes = append(attemptTimes, time.Now())
		if failures < 2 {
			failures++
			return errTransient
		}
		got, err := committedOffsets(brokers, "retry", key)
		if err != nil {
			t.Error(err)
		}
		commitSeen = got[key]
		return nil
	}
	c := newTestConsumer(t, testConfig(brokers, "retry", 1, topic), rec, nil)
	run := start(t, c)

	eventually(t, 20*time.Second, func() bool { return len(rec.done()) >= n }, "want %d messages stored", n)
	_, err := run.stop(t, 10*time.Second)
	require.NoError(t, err)

	calls := rec.all()
	perOffset := make(map[int64]int)
	var firstStarts []int64
	for _, d := range calls {
		if perOffset[d.offset] == 0 {
			firstStarts = append(firstStarts, d.offset)
		}
		perOffset[d.offset]++
		if d.offset == poison {
			assert.Equal(t, "retry/0/5", d.payload, "every attempt carries the same message")
		}
	}
	assert.Equal(t, seq(0, n), firstStarts, "messages reach the handler in offset order")
	for off := range int64(n) {
		want := 1
		if off == poison {
			want = 3 // failed twice, then stored
		}
		assert.Equal(t, want, perOffset[off], "handler calls for offset %d", off)
	}
	assert.Equal(t, seq(0, n), sorted(offsetsByPartition(rec.done())[key]), "each message stored once")
	require.Len(t, attemptTimes, 3)
	assert.GreaterOrEqual(t, attemptTimes[1].Sub(attemptTimes[0]), c.backoffMin, "first retry waits the initial backoff")
	assert.GreaterOrEqual(t, attemptTimes[2].Sub(attemptTimes[1]), 2*c.backoffMin, "second retry waits twice as long")
	assert.Equal(t, int64(poison), commitSeen, "while the message failed, offsets before it were committed and none after it")
	assert.Equal(t, int64(n), committed(t, brokers, "retry", key)[key], "everything committed at the end")
	assert.Equal(t, 2.0, testutil.ToFloat64(c.metrics.handlerErrors.WithLabelValues(topic)))
	assert.Equal(t, float64(n), testutil.ToFloat64(c.metrics.consumed.WithLabelValues(topic)))
}

// TestFailingPartitionDoesNotBlockOthers: while one partition waits to retry,
// the member's other partitions are handled.
func TestFailingPartitionDoesNotBlockOthers(t *testing.T) {
	const n = 20
	topic := "isolate"
	_, brokers := newCluster(t, 2, topic)
	produce(t, brokers, []string{topic}, 2, n, 0)

	var healthy atomic.Bool
	rec := &recorder{t: t}
	rec.decide = func(_ context.Context, d delivery) error {
		if d.key.partition == 0 && d.offset == 3 && !healthy.Load() {
			return errTransient
		}
		return nil
	}
	c := newTestConsumer(t, testConfig(brokers, "isolate", 1, topic), rec, nil)
	run := start(t, c)

	p0, p1 := partKey{topic: topic, partition: 0}, partKey{topic: topic, partition: 1}
	eventually(t, 20*time.Second, func() bool {
		return testutil.ToFloat64(c.metrics.handlerErrors.WithLabelValues(topic)) >= 1
	}, "want partition 0 to fail")
	eventually(t, 20*time.Second, func() bool { return len(offsetsByPartition(rec.done())[p1]) == n },
		"partition 1 handled while partition 0 fails")
	assert.NotContains(t, offsetsByPartition(rec.done())[p0], int64(3), "the failing message is not stored")
	eventually(t, 5*time.Second, func() bool { return committed(t, brokers, "isolate", p1)[p1] == n },
		"partition 1 committed while partition 0 fails")
	eventually(t, 5*time.Second, func() bool { return committed(t, brokers, "isolate", p0)[p0] == 3 },
		"partition 0 committed up to the failing message")
	time.Sleep(300 * time.Millisecond) // room for a wrong commit past it
	assert.Equal(t, int64(3), committed(t, brokers, "isolate", p0)[p0], "partition 0 committed up to the failing message, not past it")

	healthy.Store(true)
	eventually(t, 10*time.Second, func() bool { return len(offsetsByPartition(rec.done())[p0]) == n },
		"partition 0 resumes once the handler recovers")
	assert.Equal(t, seq(0, n), sorted(offsetsByPartition(rec.done())[p0]))
	_, err := run.stop(t, 10*time.Second)
	require.NoError(t, err)
	got := committed(t, brokers, "isolate", p0, p1)
	assert.Equal(t, map[partKey]int64{p0: n, p1: n}, got)
}

func TestRestartResumesFromCommittedOffsets(t *testing.T) {
	const partitions, perPartition, first = 2, 20, 15
	topic := "restart"
	_, brokers := newCluster(t, partitions, topic)
	want := produce(t, brokers, []string{topic}, partitions, perPartition, 0)
	reg := prometheus.NewRegistry()
	cfg := testConfig(brokers, "restart", 1, topic)

	// First consumer: stops itself after storing `first` messages (and
	// what is in flight then).
	var stopFirst context.CancelFunc
	var handled atomic.Int32
	rec1 := &recorder{t: t}
	rec1.decide = func(context.Context, delivery) error {
		if handled.Add(1) == first {
			stopFirst()
		}
		return nil
	}
	c1 := newTestConsumer(t, cfg, rec1, reg)
	ctx, cancel := context.WithCancel(context.Background())
	stopFirst = cancel
	defer cancel()
	require.NoError(t, c1.Run(ctx))
	require.GreaterOrEqual(t, len(rec1.done()), first)
	require.Equal(t, len(rec1.all()), len(rec1.done()), "the first consumer stops after its in-flight messages are stored")

	keys := keysOf(partitions, topic)
	commits := committed(t, brokers, "restart", keys...)
	var sum int64
	for _, k := range keys {
		done := sorted(offsetsByPartition(rec1.done())[k])
		assert.Equal(t, seq(0, int64(len(done))), done, "the first consumer stored a prefix of %v", k)
		next := int64(len(done))
		if next == 0 {
			next = -1001 // nothing committed for an untouched partition
		}
		assert.Equal(t, next, commits[k], "committed offset of %v after a clean stop", k)
		sum += max(commits[k], 0)
	}
	assert.Equal(t, int64(len(rec1.done())), sum)

	// Second consumer in the same group and registry.
	rec2 := &recorder{t: t}
	c2 := newTestConsumer(t, cfg, rec2, reg)
	run := start(t, c2)
	eventually(t, 20*time.Second, func() bool { return len(rec1.done())+len(rec2.done()) >= len(want) },
		"want all %d messages handled", len(want))
	time.Sleep(300 * time.Millisecond) // room for unexpected redeliveries
	_, err := run.stop(t, 10*time.Second)
	require.NoError(t, err)

	// At least once: every message handled; the second consumer starts at
	// each partition's committed offset, so nothing committed is redone.
	counts := handledSet(rec1.done(), rec2.done())
	for _, p := range want {
		assert.GreaterOrEqual(t, counts[p], 1, "message %v handled", p)
	}
	for k, offs := range offsetsByPartition(rec2.done()) {
		assert.Equal(t, max(commits[k], 0), offs[0], "second consumer starts %v at the committed offset", k)
	}
	assert.Len(t, counts, len(want), "no unknown messages")
	assert.Equal(t, len(want), len(rec1.done())+len(rec2.done()), "a clean stop commits everything handled: no duplicates")
	assert.Equal(t, float64(len(want)), testutil.ToFloat64(c2.metrics.consumed.WithLabelValues(topic)),
		"both consumers count on the shared registry")
}

// TestWorkersSharePartitionsAcrossRebalances: two workers of one Consumer
// split the partitions; a second Consumer joins and the first leaves while
// messages flow, and every message is still handled at least once.
func TestWorkersSharePartitionsAcrossRebalances(t *testing.T) {
	const partitions, batch = 4, 60
	topic := "shared"
	group := "shared"
	_, brokers := newCluster(t, partitions, topic)
	keys := keysOf(partitions, topic)
	slow := func(context.Context, delivery) error { time.Sleep(2 * time.Millisecond); return nil }
	want := produce(t, brokers, []string{topic}, partitions, batch, 0)

	recA := &recorder{t: t, decide: slow}
	a := newTestConsumer(t, testConfig(brokers, group, 2, topic), recA, nil)
	runA := start(t, a)

	// Both workers of A own partitions.
	eventually(t, 20*time.Second, func() bool {
		owners := 0
		for _, parts := range groupAssignments(t, brokers, group) {
			if len(parts) > 0 {
				owners++
			}
		}
		return owners == 2
	}, "want both workers to own partitions")
	eventually(t, 20*time.Second, func() bool { return len(handledSet(recA.done())) == len(want) },
		"want the first batch handled by A")

	// B joins while a second batch flows; then A leaves during a third.
	want = append(want, produce(t, brokers, []string{topic}, partitions, batch, 0)...)
	recB := &recorder{t: t, decide: slow}
	b := newTestConsumer(t, testConfig(brokers, group, 1, topic), recB, nil)
	runB := start(t, b)
	eventually(t, 20*time.Second, func() bool {
		assigned := groupAssignments(t, brokers, group)
		for _, parts := range assigned {
			if len(parts) == 0 {
				return false
			}
		}
		return len(assigned) == 3
	}, "want three members owning partitions after B joins")
	want = append(want, produce(t, brokers, []string{topic}, partitions, batch, 0)...)
	eventually(t, 20*time.Second, func() bool { return len(recB.done()) > 0 }, "want B to handle messages")
	_, err := runA.stop(t, 15*time.Second)
	require.NoError(t, err)
	eventually(t, 20*time.Second, func() bool {
		assigned := groupAssignments(t, brokers, group)
		return len(assigned) == 1 && len(firstValue(assigned)) == partitions
	}, "want B to own every partition after A leaves")
	want = append(want, produce(t, brokers, []string{topic}, partitions, batch, 0)...)

	eventually(t, 30*time.Second, func() bool { return len(handledSet(recA.done(), recB.done())) == len(want) },
		"want all %d messages handled", len(want))
	_, err = runB.stop(t, 10*time.Second)
	require.NoError(t, err)

	counts := handledSet(recA.done(), recB.done())
	for _, p := range want {
		assert.GreaterOrEqual(t, counts[p], 1, "message %v handled", p)
	}
	assert.NotEmpty(t, recB.done(), "B took over partitions")
	dups := len(recA.done()) + len(recB.done()) - len(want)
	t.Logf("%d messages, %d redelivered", len(want), dups)
	got := committed(t, brokers, group, keys...)
	for _, k := range keys {
		assert.Equal(t, int64(4*batch), got[k], "committed offset of %v", k)
	}
	// Within one consumer, a partition's messages are handled in order.
	for name, rec := range map[string]*recorder{"A": recA, "B": recB} {
		for k, offs := range offsetsByPartition(rec.done()) {
			assert.True(t, sort.SliceIsSorted(offs, func(i, j int) bool { return offs[i] < offs[j] }),
				"%s handled %v out of order: %v", name, k, offs)
		}
	}
}

func firstValue[K comparable, V any](m map[K]V) V {
	for _, v := range m {
		return v
	}
	var zero V
	return zero
}

// TestShutdown: cancelling ctx stops fetching, lets the in-flight message
// finish, commits and returns promptly; a handler that outlives the grace
// period is cancelled and its message stays uncommitted.
func TestShutdown(t *testing.T) {
	tests := []struct {
		name       string
		grace      time.Duration
		release    bool    // the blocked handler is released by the test
		wantCommit int64   // committed offset after Run returns
		wantDone   []int64 // offsets stored
	}{
		{name: "in-flight message finishes and is committed", grace: 5 * time.Second, release: true, wantCommit: 10, wantDone: seq(0, 10)},
		{name: "handler outliving the grace period is cancelled", grace: 300 * time.Millisecond, wantCommit: 3,
			wantDone: append(seq(0, 3), seq(4, 10)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := "stop"
			key := partKey{topic: topic, partition: 0}
			_, brokers := newCluster(t, 1, topic)
			produce(t, brokers, []string{topic}, 1, 10, 0)

			inFlight := make(chan struct{})
			release := make(chan struct{})
			var ctxErrAtRelease error
			rec := &recorder{t: t}
			rec.decide = func(ctx context.Context, d delivery) error {
				if d.offset != 3 {
					return nil
				}
				close(inFlight)
				select {
				case <-release:
					ctxErrAtRelease = ctx.Err()
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			c := newTestConsumer(t, testConfig(brokers, "stop", 1, topic), rec, nil)
			c.handlerGrace = tt.grace
			run := start(t, c)

			select {
			case <-inFlight:
			case <-time.After(20 * time.Second):
				require.FailNow(t, "message 3 never reached the handler")
			}
			eventually(t, 10*time.Second, func() bool { return len(rec.done()) == 9 }, "want the messages beside 3 stored")
			if tt.release {
				go func() {
					time.Sleep(200 * time.Millisecond)
					close(release)
				}()
			}
			took, err := run.stop(t, 10*time.Second)
			require.NoError(t, err)
			t.Logf("Run returned %s after cancel", took)
			assert.Less(t, took, tt.grace+3*time.Second, "Run returns promptly")
			if tt.release {
				assert.GreaterOrEqual(t, took, 200*time.Millisecond, "Run waited for the in-flight message")
				assert.NoError(t, ctxErrAtRelease, "the in-flight message's context is not cancelled by shutdown")
			} else {
				assert.GreaterOrEqual(t, took, tt.grace, "the handler got the grace period")
			}
			assert.Equal(t, tt.wantDone, sorted(offsetsByPartition(rec.done())[key]), "stored messages")
			assert.Equal(t, tt.wantCommit, committed(t, brokers, "stop", key)[key], "committed on shutdown")
		})
	}
}

// TestLargeMessagePassedToHandler: a message over the pipeline's 10 MiB
// limit reaches the handler whole (the pipeline dead-letters it).
func TestLargeMessagePassedToHandler(t *testing.T) {
	topic := "large"
	_, brokers := newCluster(t, 1, topic)
	const size = 12 << 20
	want := produce(t, brokers, []string{topic}, 1, 1, size)
	rec := &recorder{t: t}
	c := newTestConsumer(t, testConfig(brokers, "large", 1, topic), rec, nil)
	start(t, c)
	eventually(t, 20*time.Second, func() bool { return len(rec.done()) == 1 }, "want the large message handled")
	got := rec.done()[0]
	assert.Len(t, got.payload, len(want[0].payload))
	assert.Equal(t, want[0].payload, got.payload)
}

// TestRebalanceWhileRetrying: a partition paused for a retry is released on
// revoke, and when it is assigned again consumption restarts at the failed
// message.
func TestRebalanceWhileRetrying(t *testing.T) {
	const partitions, n = 2, 10
	topic := "rebalance-retry"
	group := "rebalance-retry"
	_, brokers := newCluster(t, partitions, topic)
	want := produce(t, brokers, []string{topic}, partitions, n, 0)
	p0 := partKey{topic: topic, partition: 0}

	// The database is down for message p0@2, whichever member handles it.
	var healthy atomic.Bool
	decide := func(_ context.Context, d delivery) error {
		if d.key == p0 && d.offset == 2 && !healthy.Load() {
			return errTransient
		}
		return nil
	}
	recA := &recorder{t: t, decide: decide}
	a := newTestConsumer(t, testConfig(brokers, group, 1, topic), recA, nil)
	start(t, a)
	eventually(t, 20*time.Second, func() bool {
		return testutil.ToFloat64(a.metrics.handlerErrors.WithLabelValues(topic)) >= 1
	}, "want A to fail on p0@2")

	// B joins (rebalance) and leaves again (rebalance): A gets every
	// partition back, including the one it had paused.
	recB := &recorder{t: t, decide: decide}
	b := newTestConsumer(t, testConfig(brokers, group, 1, topic), recB, nil)
	runB := start(t, b)
	eventually(t, 20*time.Second, func() bool {
		assigned := groupAssignments(t, brokers, group)
		for _, parts := range assigned {
			if len(parts) == 0 {
				return false
			}
		}
		return len(assigned) == 2
	}, "want A and B to own a partition each")
	_, err := runB.stop(t, 10*time.Second)
	require.NoError(t, err)
	eventually(t, 20*time.Second, func() bool {
		assigned := groupAssignments(t, brokers, group)
		return len(assigned) == 1 && len(firstValue(assigned)) == partitions
	}, "want A to own every partition after B leaves")
	assert.Equal(t, int64(2), committed(t, brokers, group, p0)[p0], "the failed message is not committed")

	healthy.Store(true)
	eventually(t, 20*time.Second, func() bool { return len(handledSet(recA.done(), recB.done())) == len(want) },
		"want every message handled once the handler recovers")
	got := sorted(offsetsByPartition(recA.done())[p0])
	require.NotEmpty(t, got)
	assert.Equal(t, int64(n-1), got[len(got)-1], "A consumed p0 to the end after getting it back")
	assert.Contains(t, got, int64(2), "A stored the failed message after getting p0 back")
}

// TestKeepsMessagesInFlight: a member keeps up to KAFKA_MAX_IN_FLIGHT
// messages of one partition in the handler at once, takes no more while
// they are stuck (it holds and then pauses), and loses nothing when they
// are released.
func TestKeepsMessagesInFlight(t *testing.T) {
	const n, limit = 60, 8
	topic := "window"
	key := partKey{topic: topic, partition: 0}
	_, brokers := newCluster(t, 1, topic)
	want := produce(t, brokers, []string{topic}, 1, n, 0)

	gate := make(chan struct{})
	rec := &recorder{t: t, decide: func(ctx context.Context, _ delivery) error {
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	cfg := testConfig(brokers, "window", 1, topic)
	cfg.MaxInFlight = limit
	c := newTestConsumer(t, cfg, rec, nil)
	run := start(t, c)

	eventually(t, 20*time.Second, func() bool { return len(rec.all()) == limit }, "want %d messages in flight", limit)
	time.Sleep(300 * time.Millisecond) // room for the member to overshoot
	assert.Len(t, rec.all(), limit, "no message started beyond the limit while all are stuck")
	assert.Equal(t, float64(limit), testutil.ToFloat64(c.metrics.inFlight))
	assert.Equal(t, seq(0, limit), offsetsByPartition(rec.all())[key])

	close(gate)
	eventually(t, 20*time.Second, func() bool { return len(rec.done()) == n }, "want all %d messages stored", n)
	_, err := run.stop(t, 10*time.Second)
	require.NoError(t, err)

	assert.Equal(t, seq(0, n), offsetsByPartition(rec.all())[key], "each message started once, in offset order")
	assert.Len(t, handledSet(rec.done()), len(want))
	assert.LessOrEqual(t, rec.concurrency(), limit)
	assert.Equal(t, 0.0, testutil.ToFloat64(c.metrics.inFlight))
	assert.Equal(t, int64(n), committed(t, brokers, "window", key)[key])
}

// TestOutageRetriesOnePerPartition: while the database is down, every
// message in flight fails; each partition then retries one message per
// backoff period (not all of them), and once the database is back every
// message is stored exactly once and committed.
func TestOutageRetriesOnePerPartition(t *testing.T) {
	const partitions, n, limit = 3, 40, 16
	topic := "outage"
	_, brokers := newCluster(t, partitions, topic)
	want := produce(t, brokers, []string{topic}, partitions, n, 0)

	var down atomic.Bool
	down.Store(true)
	var failedCalls atomic.Int32
	rec := &recorder{t: t, decide: func(context.Context, delivery) error {
		if down.Load() {
			failedCalls.Add(1)
			return errTransient
		}
		return nil
	}}
	cfg := testConfig(brokers, "outage", 1, topic)
	cfg.MaxInFlight = limit
	c := newTestConsumer(t, cfg, rec, nil)
	c.backoffMin = 200 * time.Millisecond
	run := start(t, c)

	eventually(t, 20*time.Second, func() bool { return failedCalls.Load() >= limit }, "want the first messages to fail")
	time.Sleep(time.Second) // backoffs of 200, 400 and 800 ms: at most 3 retries per partition
	failed := failedCalls.Load()
	assert.LessOrEqual(t, failed, int32(limit+3*partitions), "retries while down: one message per partition and backoff")
	assert.Len(t, rec.done(), 0)
	assert.LessOrEqual(t, len(rec.all()), int(limit+3*partitions), "nothing beyond the limit started while down")

	down.Store(false)
	eventually(t, 20*time.Second, func() bool { return len(rec.done()) >= len(want) }, "want all %d messages stored", len(want))
	_, err := run.stop(t, 10*time.Second)
	require.NoError(t, err)
	counts := handledSet(rec.done())
	assert.Len(t, counts, len(want))
	for _, p := range want {
		assert.Equal(t, 1, counts[p], "message %v stored once", p)
	}
	for k, off := range committed(t, brokers, "outage", keysOf(partitions, topic)...) {
		assert.Equal(t, int64(n), off, "committed offset of %v", k)
	}
	assert.Equal(t, float64(failed), testutil.ToFloat64(c.metrics.handlerErrors.WithLabelValues(topic))-
		float64(failedCalls.Load()-failed))
}
