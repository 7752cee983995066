// Package kafka consumes MessageRecord payloads from Kafka topics and hands
// each one to the ingest pipeline, at least once.
//
// KAFKA_WORKER_COUNT members join the consumer group KAFKA_GROUP and share
// the partitions of all KAFKA_TOPIC topics. Each member handles the messages
// of a partition in order, one at a time. An offset is stored and committed
// only after the handler has returned nil for that message and for every
// message before it in the partition, so a crash or a rebalance redelivers
// uncommitted messages rather than losing them. When the handler fails
// (the database is down), the partition is paused and the same message is
// retried with exponential backoff; other partitions keep flowing.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/scoutergo/server/internal/config"
)

// Handler stores one message durably: nil means the message is done (stored,
// or dead-lettered as poison) and its offset may be committed; an error means
// a transient failure (e.g. database down): the message must be processed
// again.
type Handler interface {
	Handle(ctx context.Context, source string, payload []byte) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, source string, payload []byte) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, source string, payload []byte) error {
	return f(ctx, source, payload)
}

// Defaults of the consumer's timing. Tests shorten some of them.
const (
	defaultPollTimeout    = 100 * time.Millisecond
	defaultCommitInterval = time.Second
	defaultBackoffMin     = 500 * time.Millisecond
	defaultBackoffMax     = 30 * time.Second
	defaultHandlerGrace   = 10 * time.Second
	defaultCloseTimeout   = 10 * time.Second
)

// Consumer runs the Kafka group members. Build it with New and start it
// with Run.
type Consumer struct {
	cfg     config.Kafka
	handler Handler
	log     *slog.Logger
	metrics *metrics
	confs   []ckafka.ConfigMap // one per worker

	pollTimeout    time.Duration // longest wait in Poll; bounds shutdown latency
	commitInterval time.Duration // longest time a handled offset stays uncommitted under load
	backoffMin     time.Duration // first retry delay after a handler error
	backoffMax     time.Duration // cap of the retry delay
	handlerGrace   time.Duration // time the in-flight message gets to finish after ctx is cancelled
	closeTimeout   time.Duration // bound on leaving the group and closing a member
}

// New validates the settings and prepares the consumer. It connects to
// nothing; Run does.
func New(cfg config.Kafka, h Handler, logger *slog.Logger, reg prometheus.Registerer) (*Consumer, error) {
	if h == nil {
		return nil, errors.New("new kafka consumer: nil handler")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WorkerCount < 1 {
		return nil, fmt.Errorf("new kafka consumer: KAFKA_WORKER_COUNT %d: want at least 1", cfg.WorkerCount)
	}
	confs := make([]ckafka.ConfigMap, cfg.WorkerCount)
	for i := range confs {
		m, err := configMap(cfg, fmt.Sprintf("scouter-%d", i))
		if err != nil {
			return nil, fmt.Errorf("new kafka consumer: %w", err)
		}
		confs[i] = m
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("new kafka consumer: %w", err)
	}
	logger = logger.With("transport", "kafka")
	if (cfg.Username == "") != (cfg.Password.Reveal() == "") {
		logger.Warn("kafka credentials ignored: KAFKA_USERNAME and KAFKA_PASSWORD must both be set")
	}
	return &Consumer{
		cfg:            cfg,
		handler:        h,
		log:            logger,
		metrics:        m,
		confs:          confs,
		pollTimeout:    defaultPollTimeout,
		commitInterval: defaultCommitInterval,
		backoffMin:     defaultBackoffMin,
		backoffMax:     defaultBackoffMax,
		handlerGrace:   defaultHandlerGrace,
		closeTimeout:   defaultCloseTimeout,
	}, nil
}

// Run joins the group with KAFKA_WORKER_COUNT members and consumes until ctx
// is cancelled or a member hits a fatal error. On cancellation each member
// stops fetching, lets the in-flight message finish (for up to a grace
// period), commits what is done and leaves the group. Run returns nil after
// a clean shutdown.
func (c *Consumer) Run(ctx context.Context) error {
	workers := make([]*worker, 0, len(c.confs))
	for i, conf := range c.confs {
		w, err := c.newWorker(i, conf)
		if err != nil {
			for _, w := range workers {
				if cerr := w.close(); cerr != nil {
					c.log.Warn("kafka consumer close", "worker", w.id, "err", cerr)
				}
			}
			return err
		}
		workers = append(workers, w)
	}
	c.log.Info("kafka consumer started", "workers", len(workers), "topics", c.cfg.Topics, "group", c.cfg.Group)

	// The handler context outlives ctx by handlerGrace so that a message in
	// flight when shutdown starts can still be stored and committed.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	var graceWG sync.WaitGroup
	runDone := make(chan struct{})
	graceWG.Go(func() {
		select {
		case <-runDone:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(c.handlerGrace)
		defer t.Stop()
		select {
		case <-runDone:
		case <-t.C:
			hcancel()
		}
	})
	defer graceWG.Wait()
	defer close(runDone)

	g, gctx := errgroup.WithContext(ctx)
	for _, w := range workers {
		g.Go(func() error { return w.run(gctx, hctx) })
	}
	err := g.Wait()
	c.log.Info("kafka consumer stopped")
	return err
}

// partKey names one partition.
type partKey struct {
	topic     string
	partition int32
}

// partState is a worker's in-flight state of one assigned partition.
type partState struct {
	next     int64 // offset of the next message to handle; -1 until the first message
	paused   bool  // a handler error paused the partition until retryAt
	attempts int   // consecutive handler errors on the message at next
	retryAt  time.Time
}

// worker is one group member. All its fields are used by its run goroutine
// only (librdkafka calls the rebalance callback from inside Poll).
type worker struct {
	*Consumer
	id     int
	kc     *ckafka.Consumer
	log    *slog.Logger
	parts  map[partKey]*partState
	stored bool // offsets stored since the last successful commit

	logs     chan ckafka.LogEvent
	logsDone chan struct{}
	logsWG   sync.WaitGroup
}

func (c *Consumer) newWorker(id int, conf ckafka.ConfigMap) (*worker, error) {
	w := &worker{
		Consumer: c,
		id:       id,
		log:      c.log.With("worker", id),
		parts:    make(map[partKey]*partState),
		logs:     make(chan ckafka.LogEvent, 256),
		logsDone: make(chan struct{}),
	}
	conf = maps.Clone(conf)
	conf["go.logs.channel.enable"] = true
	conf["go.logs.channel"] = w.logs
	kc, err := ckafka.NewConsumer(&conf)
	if err != nil {
		return nil, fmt.Errorf("create kafka consumer %d: %w", id, err)
	}
	w.kc = kc
	w.logsWG.Go(w.forwardLogs)
	if err := kc.SubscribeTopics(c.cfg.Topics, w.rebalance); err != nil {
		return nil, errors.Join(fmt.Errorf("subscribe kafka consumer %d to %v: %w", id, c.cfg.Topics, err), w.close())
	}
	return w, nil
}

// forwardLogs copies librdkafka's log lines to slog.
func (w *worker) forwardLogs() {
	for {
		select {
		case <-w.logsDone:
			return
		case ev := <-w.logs:
			level := slog.LevelDebug
			switch {
			case ev.Level <= 3:
				level = slog.LevelError
			case ev.Level == 4:
				level = slog.LevelWarn
			case ev.Level <= 6:
				level = slog.LevelInfo
			}
			w.log.Log(context.Background(), level, "librdkafka", "tag", ev.Tag, "msg", ev.Message)
		}
	}
}

// run is the member's poll loop.
func (w *worker) run(ctx, hctx context.Context) error {
	var runErr error
	lastCommit := time.Now()
loop:
	for ctx.Err() == nil {
		ev := w.kc.Poll(int(w.pollTimeout.Milliseconds()))
		switch e := ev.(type) {
		case *ckafka.Message:
			if e.TopicPartition.Error != nil {
				w.metrics.consumerErrors.Inc()
				w.log.Warn("kafka message error", "err", e.TopicPartition.Error)
				break
			}
			w.handle(hctx, e)
		case ckafka.Error:
			w.metrics.consumerErrors.Inc()
			if e.IsFatal() {
				runErr = fmt.Errorf("kafka consumer %d: fatal error: %w", w.id, e)
				break loop
			}
			w.log.Warn("kafka consumer error", "err", e)
		}
		now := time.Now()
		w.resumeDue(now)
		// Commit when the stream goes idle, and at least every
		// commitInterval under load.
		if w.stored && (ev == nil || now.Sub(lastCommit) >= w.commitInterval) {
			w.commit()
			lastCommit = now
		}
	}
	if runErr == nil {
		w.commit()
	}
	if err := w.close(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

// handle passes one message to the handler and records the outcome.
func (w *worker) handle(ctx context.Context, msg *ckafka.Message) {
	tp := msg.TopicPartition
	key := partKey{topic: *tp.Topic, partition: tp.Partition}
	off := int64(tp.Offset)
	st := w.parts[key]
	if st == nil {
		st = &partState{next: -1}
		w.parts[key] = st
	}
	switch {
	case st.paused:
		// Fetched before the pause took effect; it is fetched again
		// after the retry seek.
		return
	case st.next >= 0 && off < st.next:
		// Already handled; a stale copy from before a seek.
		return
	}

	source := fmt.Sprintf("kafka:%s/%d@%d", key.topic, key.partition, off)
	if err := w.callHandler(ctx, source, msg.Value); err != nil {
		w.metrics.handlerErrors.WithLabelValues(key.topic).Inc()
		delay := w.backoff(st.attempts)
		st.attempts++
		st.next = off
		st.paused = true
		st.retryAt = time.Now().Add(delay)
		w.log.Warn("kafka message not stored, will retry", "source", source, "attempt", st.attempts,
			"retry_in_ms", delay.Milliseconds(), "err", err)
		if perr := w.kc.Pause([]ckafka.TopicPartition{topicPartition(key, ckafka.OffsetInvalid)}); perr != nil {
			// Without the pause later messages keep arriving; they are
			// dropped while paused is set and fetched again after the seek.
			w.metrics.consumerErrors.Inc()
			w.log.Warn("kafka pause partition", "source", source, "err", perr)
		}
		return
	}
	st.attempts = 0
	st.next = off + 1
	w.metrics.consumed.WithLabelValues(key.topic).Inc()
	if _, err := w.kc.StoreMessage(msg); err != nil {
		// The offset stays uncommitted; the message is redelivered after
		// a restart or rebalance, which at-least-once allows.
		w.metrics.commitErrors.Inc()
		w.log.Warn("kafka store offset", "source", source, "err", err)
		return
	}
	w.stored = true
}

// callHandler runs the handler and turns a panic into an error, so that a
// bug in the pipeline pauses one partition instead of the whole process.
func (w *worker) callHandler(ctx context.Context, source string, payload []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return w.handler.Handle(ctx, source, payload)
}

// backoff is the delay before retry attempt n+1: backoffMin doubled per
// attempt, capped at backoffMax.
func (w *worker) backoff(attempts int) time.Duration {
	d := w.backoffMin
	for range attempts {
		d *= 2
		if d >= w.backoffMax {
			return w.backoffMax
		}
	}
	return min(d, w.backoffMax)
}

// resumeDue resumes the partitions whose retry time has come and seeks each
// back to the message that failed.
func (w *worker) resumeDue(now time.Time) {
	for key, st := range w.parts {
		if !st.paused || now.Before(st.retryAt) {
			continue
		}
		tp := topicPartition(key, ckafka.Offset(st.next))
		if err := w.kc.Resume([]ckafka.TopicPartition{tp}); err != nil {
			w.retryLater(key, st, now, "resume", err)
			continue
		}
		// Seek returns once no message fetched before it can reach
		// Poll any more, so the next message of this partition is the
		// one that failed.
		res, err := w.kc.SeekPartitions([]ckafka.TopicPartition{tp})
		if err == nil && len(res) == 1 && res[0].Error != nil {
			err = res[0].Error
		}
		if err != nil {
			// Never continue from the fetch position: that would
			// skip the failed message. Pause again and retry.
			if perr := w.kc.Pause([]ckafka.TopicPartition{tp}); perr != nil {
				err = errors.Join(err, perr)
			}
			w.retryLater(key, st, now, "seek", err)
			continue
		}
		st.paused = false
	}
}

func (w *worker) retryLater(key partKey, st *partState, now time.Time, op string, err error) {
	w.metrics.consumerErrors.Inc()
	st.retryAt = now.Add(w.backoff(st.attempts))
	w.log.Warn("kafka "+op+" partition", "topic", key.topic, "partition", key.partition, "err", err)
}

// commit synchronously commits the stored offsets.
func (w *worker) commit() {
	if !w.stored {
		return
	}
	parts, err := w.kc.Commit()
	if err != nil {
		var kerr ckafka.Error
		if errors.As(err, &kerr) && kerr.Code() == ckafka.ErrNoOffset {
			w.stored = false
			return
		}
		w.metrics.commitErrors.Inc()
		w.log.Warn("kafka commit offsets", "err", err)
		return
	}
	failed := false
	for _, p := range parts {
		if p.Error != nil {
			failed = true
			w.metrics.commitErrors.Inc()
			w.log.Warn("kafka commit offset", "topic", *p.Topic, "partition", p.Partition, "err", p.Error)
		}
	}
	w.stored = failed
}

// rebalance is librdkafka's rebalance callback, called from inside Poll.
// Returning without calling Assign/Unassign lets the library apply the
// change after the callback.
func (w *worker) rebalance(kc *ckafka.Consumer, ev ckafka.Event) error {
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		// Consumption starts from the committed offsets.
		for _, tp := range e.Partitions {
			delete(w.parts, partKey{topic: *tp.Topic, partition: tp.Partition})
		}
		w.log.Info("kafka partitions assigned", "partitions", partitionNames(e.Partitions))
	case ckafka.RevokedPartitions:
		if kc.AssignmentLost() {
			w.log.Warn("kafka assignment lost; uncommitted messages will be redelivered",
				"partitions", partitionNames(e.Partitions))
		} else {
			w.commit()
		}
		// Drop the in-flight state. A partition paused for a retry is
		// resumed so that it does not stay paused if it comes back; its
		// failed message is uncommitted and is consumed again by
		// whichever member gets the partition.
		var paused []ckafka.TopicPartition
		for _, tp := range e.Partitions {
			key := partKey{topic: *tp.Topic, partition: tp.Partition}
			if st := w.parts[key]; st != nil && st.paused {
				paused = append(paused, topicPartition(key, ckafka.OffsetInvalid))
			}
			delete(w.parts, key)
		}
		if len(paused) > 0 {
			if err := kc.Resume(paused); err != nil {
				w.metrics.consumerErrors.Inc()
				w.log.Warn("kafka resume revoked partitions", "err", err)
			}
		}
		w.stored = false
		w.log.Info("kafka partitions revoked", "partitions", partitionNames(e.Partitions))
	}
	return nil
}

// close leaves the group and destroys the client, giving up after
// closeTimeout (librdkafka then finishes in the background).
func (w *worker) close() error {
	done := make(chan error, 1)
	go func() { done <- w.kc.Close() }()
	defer func() {
		close(w.logsDone)
		w.logsWG.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("close kafka consumer %d: %w", w.id, err)
		}
		return nil
	case <-time.After(w.closeTimeout):
		return fmt.Errorf("close kafka consumer %d: not closed after %s", w.id, w.closeTimeout)
	}
}

func topicPartition(key partKey, off ckafka.Offset) ckafka.TopicPartition {
	topic := key.topic
	return ckafka.TopicPartition{Topic: &topic, Partition: key.partition, Offset: off}
}

func partitionNames(tps []ckafka.TopicPartition) []string {
	names := make([]string, 0, len(tps))
	for _, tp := range tps {
		names = append(names, fmt.Sprintf("%s/%d", *tp.Topic, tp.Partition))
	}
	return names
}
