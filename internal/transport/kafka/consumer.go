// Package kafka consumes MessageRecord payloads from Kafka topics and hands
// each one to the ingest pipeline, at least once.
//
// KAFKA_WORKER_COUNT members join the consumer group KAFKA_GROUP and share
// the partitions of all KAFKA_TOPIC topics. Each member starts the messages
// it polls in offset order and keeps up to KAFKA_MAX_IN_FLIGHT of them in
// flight at once (queued in the pipeline or being written), so that the
// pipeline can commit many messages per transaction. An offset is stored
// and committed only once its message and every message before it in the
// partition are stored, so a crash or a rebalance redelivers uncommitted
// messages rather than losing them (drift rows are idempotent, so a
// redelivered message adds nothing).
//
// When a message fails (the database is down), its partition is paused and
// the message is retried with exponential backoff; messages of the
// partition that were already in flight finish, and are retried after it
// when they failed too. Other partitions keep flowing. A member that has
// KAFKA_MAX_IN_FLIGHT messages in flight holds what it polls, and pauses
// its partitions while it holds as many again, so memory stays bounded
// while the database is slow or down.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/scoutergo/server/internal/config"
)

// Handler stores messages durably. Start begins storing one message and
// returns a function that waits for the outcome: nil means the message is
// done (stored, or dead-lettered as poison) and its offset may be
// committed; an error means a transient failure (e.g. database down): the
// message must be processed again.
//
// A member calls Start from its poll loop, in offset order within a
// partition, and each wait function once, from a goroutine of its own.
// *ingest.Pipeline implements Handler.
type Handler interface {
	Start(ctx context.Context, source string, payload []byte) (wait func() error)
}

// HandlerFunc adapts a function that stores one message to Handler: the
// whole function runs in the wait step.
type HandlerFunc func(ctx context.Context, source string, payload []byte) error

// Start returns a wait function that calls f.
func (f HandlerFunc) Start(ctx context.Context, source string, payload []byte) func() error {
	return func() error { return f(ctx, source, payload) }
}

// Defaults of the consumer's timing. Tests shorten some of them.
const (
	defaultPollTimeout    = 100 * time.Millisecond
	busyPollTimeout       = 5 * time.Millisecond // while messages are in flight
	minCommitGap          = 100 * time.Millisecond
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

	maxInFlight    int           // messages a member keeps in flight
	pollTimeout    time.Duration // longest wait in Poll when idle; bounds shutdown latency
	commitInterval time.Duration // longest time a handled offset stays uncommitted under load
	backoffMin     time.Duration // first retry delay after a handler error
	backoffMax     time.Duration // cap of the retry delay
	handlerGrace   time.Duration // time in-flight messages get to finish after ctx is cancelled or partitions are revoked
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
	maxInFlight := cfg.MaxInFlight
	if maxInFlight == 0 {
		maxInFlight = config.DefaultKafkaMaxInFlight
	}
	if maxInFlight < 1 {
		return nil, fmt.Errorf("new kafka consumer: KAFKA_MAX_IN_FLIGHT %d: want at least 1", cfg.MaxInFlight)
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
		maxInFlight:    maxInFlight,
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
// stops fetching, lets its in-flight messages finish (for up to a grace
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
	c.log.Info("kafka consumer started", "workers", len(workers), "topics", c.cfg.Topics, "group", c.cfg.Group,
		"max_in_flight", c.maxInFlight)

	// The handler context outlives ctx by handlerGrace so that messages in
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

// entryState is where a message taken from Poll stands.
type entryState int

const (
	entryPending entryState = iota // started; its wait has not returned
	entryFailed                    // the handler failed; waiting for a retry
	entryDone                      // stored; its offset may be committed once those before it are
)

// entry is one message taken from Poll and not yet committed.
type entry struct {
	msg    *ckafka.Message // kept until stored, for a retry
	offset int64
	state  entryState
}

// partState is a member's state of one assigned partition. A new
// assignment gets a new partState; completions that name an older one are
// ignored.
type partState struct {
	key     partKey
	entries []*entry // taken from Poll and not yet committed, in offset order
	next    int64    // offset after the last message taken; -1 before the first

	failed   int       // entries in state entryFailed
	probe    *entry    // the failed entry being retried, nil between retries
	attempts int       // consecutive failed retries of the probe
	retryAt  time.Time // when the next probe starts

	retryPaused bool // paused because a message failed
	throttled   bool // paused because the member is full
}

func (st *partState) paused() bool { return st.retryPaused || st.throttled }

// completion is a wait function's outcome.
type completion struct {
	st  *partState
	e   *entry
	err error
}

// worker is one group member. All its fields but the completions channel
// are used by its run goroutine only (librdkafka calls the rebalance
// callback from inside Poll).
type worker struct {
	*Consumer
	id     int
	kc     *ckafka.Consumer
	log    *slog.Logger
	parts  map[partKey]*partState
	stored bool // offsets stored since the last successful commit

	hctx        context.Context // the handlers' context
	completions chan completion // capacity maxInFlight: a wait never blocks on it
	running     int             // wait goroutines alive (including those of revoked partitions)
	waiting     int             // failed entries waiting for a retry
	held        []*ckafka.Message
	throttling  bool // throttle paused partitions that unthrottle has not resumed

	logs     chan ckafka.LogEvent
	logsDone chan struct{}
	logsWG   sync.WaitGroup
}

func (c *Consumer) newWorker(id int, conf ckafka.ConfigMap) (*worker, error) {
	w := &worker{
		Consumer:    c,
		id:          id,
		log:         c.log.With("worker", id),
		parts:       make(map[partKey]*partState),
		completions: make(chan completion, c.maxInFlight),
		logs:        make(chan ckafka.LogEvent, 256),
		logsDone:    make(chan struct{}),
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
	w.hctx = hctx
	var runErr error
	lastCommit := time.Now()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
loop:
	for ctx.Err() == nil {
		w.drainCompletions()
		now := time.Now()
		w.retryDue(now)
		w.startHeld()

		var ev ckafka.Event
		if w.full() {
			// No room for another message: wait for one to finish, but
			// keep serving Poll (rebalances, errors, max.poll.interval.ms).
			wake.Reset(w.pollTimeout)
			select {
			case c := <-w.completions:
				w.complete(c)
			case <-wake.C:
			case <-ctx.Done():
			}
			ev = w.kc.Poll(0)
		} else {
			timeout := w.pollTimeout
			if w.running > 0 || w.waiting > 0 {
				timeout = min(timeout, busyPollTimeout)
			}
			ev = w.kc.Poll(int(timeout.Milliseconds()))
		}
		switch e := ev.(type) {
		case *ckafka.Message:
			if e.TopicPartition.Error != nil {
				w.metrics.consumerErrors.Inc()
				w.log.Warn("kafka message error", "err", e.TopicPartition.Error)
				break
			}
			w.take(e)
		case ckafka.Error:
			w.metrics.consumerErrors.Inc()
			if e.IsFatal() {
				runErr = fmt.Errorf("kafka consumer %d: fatal error: %w", w.id, e)
				break loop
			}
			w.log.Warn("kafka consumer error", "err", e)
		}
		// Commit when the stream goes idle, and at least every
		// commitInterval under load.
		if since := time.Since(lastCommit); w.stored && (ev == nil && since >= minCommitGap || since >= w.commitInterval) {
			w.commit()
			lastCommit = time.Now()
		}
	}
	if runErr == nil {
		// Let what is in flight finish; the handlers' context ends
		// handlerGrace after ctx did.
		w.settle(nil, w.handlerGrace+time.Second)
		w.commit()
	}
	if err := w.close(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

// full reports whether the member has as many messages in flight as it may.
func (w *worker) full() bool { return w.running+w.waiting >= w.maxInFlight }

// take handles a message from Poll: it starts it, or holds it when the
// member is full (pausing every partition once it holds maxInFlight
// messages). A message is never dropped: librdkafka resumes a paused
// partition after the last message Poll returned.
func (w *worker) take(msg *ckafka.Message) {
	if w.full() || len(w.held) > 0 {
		w.held = append(w.held, msg)
		if len(w.held) >= w.maxInFlight {
			w.throttle()
		}
		return
	}
	w.begin(msg)
}

// startHeld starts held messages while there is room, and resumes the
// partitions paused for being full once nothing is held any more.
func (w *worker) startHeld() {
	n := 0
	for n < len(w.held) && !w.full() {
		w.begin(w.held[n])
		w.held[n] = nil
		n++
	}
	w.held = w.held[n:]
	if len(w.held) == 0 {
		w.held = nil
		w.unthrottle()
	}
}

// begin starts one message from Poll.
func (w *worker) begin(msg *ckafka.Message) {
	tp := msg.TopicPartition
	key := partKey{topic: *tp.Topic, partition: tp.Partition}
	st := w.part(key)
	off := int64(tp.Offset)
	if st.next >= 0 && off < st.next {
		return // already taken; a stale copy from before a seek
	}
	st.next = off + 1
	e := &entry{msg: msg, offset: off}
	st.entries = append(st.entries, e)
	w.start(st, e)
}

// part returns the state of an assigned partition, creating it when the
// rebalance callback has not (yet, or since a revoke dropped it).
func (w *worker) part(key partKey) *partState {
	st := w.parts[key]
	if st == nil {
		st = &partState{key: key, next: -1}
		w.parts[key] = st
	}
	return st
}

// source names a message for the handler and the logs.
func (st *partState) source(offset int64) string {
	return fmt.Sprintf("kafka:%s/%d@%d", st.key.topic, st.key.partition, offset)
}

// start hands an entry to the handler and waits for it in a goroutine.
func (w *worker) start(st *partState, e *entry) {
	e.state = entryPending
	w.running++
	w.metrics.inFlight.Inc()
	wait := w.callStart(st.source(e.offset), e.msg.Value)
	go func() {
		w.completions <- completion{st: st, e: e, err: callWait(wait)}
	}()
}

// callStart runs the handler's Start and turns a panic into an error, so
// that a bug in the pipeline pauses one partition instead of the whole
// process.
func (w *worker) callStart(source string, payload []byte) (wait func() error) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("handler panic: %v", r)
			wait = func() error { return err }
		}
	}()
	return w.handler.Start(w.hctx, source, payload)
}

func callWait(wait func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return wait()
}

// drainCompletions handles every completion already reported.
func (w *worker) drainCompletions() {
	for {
		select {
		case c := <-w.completions:
			w.complete(c)
		default:
			return
		}
	}
}

// complete records a message's outcome.
func (w *worker) complete(c completion) {
	w.running--
	w.metrics.inFlight.Dec()
	st := c.st
	if w.parts[st.key] != st {
		return // the partition was revoked meanwhile; its new owner redoes the message
	}
	e := c.e
	if c.err != nil {
		w.metrics.handlerErrors.WithLabelValues(st.key.topic).Inc()
		e.state = entryFailed
		st.failed++
		w.waiting++
		if st.retryPaused && e != st.probe {
			// Failed while another message of the partition waits for
			// its retry; it is retried after that one succeeds.
			return
		}
		st.probe = nil
		delay := w.backoff(st.attempts)
		st.attempts++
		st.retryAt = time.Now().Add(delay)
		w.log.Warn("kafka message not stored, will retry", "source", st.source(e.offset), "attempt", st.attempts,
			"retry_in_ms", delay.Milliseconds(), "err", c.err)
		if !st.retryPaused {
			st.retryPaused = true
			w.pause(st)
		}
		return
	}
	e.state = entryDone
	e.msg = nil
	w.metrics.consumed.WithLabelValues(st.key.topic).Inc()
	if e == st.probe {
		// The retried message went through: retry the others now.
		st.probe = nil
		st.attempts = 0
		for _, o := range st.entries {
			if o.state == entryFailed {
				st.failed--
				w.waiting--
				w.start(st, o)
			}
		}
	}
	if st.retryPaused && st.failed == 0 && st.probe == nil {
		st.retryPaused = false
		w.resume(st)
	}
	w.advance(st)
}

// advance stores the offset after the partition's leading stored messages.
func (w *worker) advance(st *partState) {
	n := 0
	for n < len(st.entries) && st.entries[n].state == entryDone {
		n++
	}
	if n == 0 {
		return
	}
	next := st.entries[n-1].offset + 1
	clear(st.entries[:n])
	st.entries = st.entries[n:]
	tp := topicPartition(st.key, ckafka.Offset(next))
	if _, err := w.kc.StoreOffsets([]ckafka.TopicPartition{tp}); err != nil {
		// The offset stays uncommitted; the messages are redelivered
		// after a restart or rebalance, which at-least-once allows.
		w.metrics.commitErrors.Inc()
		w.log.Warn("kafka store offset", "topic", st.key.topic, "partition", st.key.partition, "err", err)
		return
	}
	w.stored = true
}

// retryDue starts the retry of each partition whose backoff has passed: its
// first failed message only, so that a database outage costs one attempt
// per partition and backoff period.
func (w *worker) retryDue(now time.Time) {
	if w.waiting == 0 {
		return
	}
	for _, st := range w.parts {
		if st.failed == 0 || st.probe != nil || now.Before(st.retryAt) {
			continue
		}
		for _, e := range st.entries {
			if e.state == entryFailed {
				st.failed--
				w.waiting--
				st.probe = e
				w.start(st, e)
				break
			}
		}
	}
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

// throttle pauses every assigned partition that is not paused yet.
func (w *worker) throttle() {
	assigned, err := w.kc.Assignment()
	if err != nil {
		w.metrics.consumerErrors.Inc()
		w.log.Warn("kafka assignment", "err", err)
	}
	var tps []ckafka.TopicPartition
	for _, tp := range assigned {
		key := partKey{topic: *tp.Topic, partition: tp.Partition}
		st := w.part(key)
		if st.throttled {
			continue
		}
		if !st.paused() {
			tps = append(tps, topicPartition(key, ckafka.OffsetInvalid))
		}
		st.throttled = true
	}
	w.throttling = true
	w.setPaused(tps, true)
}

// unthrottle resumes the partitions throttle paused, but those waiting for
// a retry.
func (w *worker) unthrottle() {
	if !w.throttling {
		return
	}
	w.throttling = false
	var tps []ckafka.TopicPartition
	for key, st := range w.parts {
		if !st.throttled {
			continue
		}
		st.throttled = false
		if !st.retryPaused {
			tps = append(tps, topicPartition(key, ckafka.OffsetInvalid))
		}
	}
	w.setPaused(tps, false)
}

func (w *worker) pause(st *partState) {
	if !st.throttled {
		w.setPaused([]ckafka.TopicPartition{topicPartition(st.key, ckafka.OffsetInvalid)}, true)
	}
}

func (w *worker) resume(st *partState) {
	if !st.paused() {
		w.setPaused([]ckafka.TopicPartition{topicPartition(st.key, ckafka.OffsetInvalid)}, false)
	}
}

// setPaused pauses or resumes fetching tps. Pausing makes librdkafka drop
// what it prefetched; Resume fetches again from the message after the last
// one Poll returned. A failed pause only means messages keep arriving; they
// are held or started as usual.
func (w *worker) setPaused(tps []ckafka.TopicPartition, pause bool) {
	if len(tps) == 0 {
		return
	}
	op, apply := "resume", w.kc.Resume
	if pause {
		op, apply = "pause", w.kc.Pause
	}
	if err := apply(tps); err != nil {
		w.metrics.consumerErrors.Inc()
		w.log.Warn("kafka "+op+" partitions", "partitions", partitionNames(tps), "err", err)
	}
}

// settle waits, for up to limit, until no message of the partitions in only
// (or of any partition, with only nil) is being handled, recording each
// outcome. Failed messages are not retried meanwhile.
func (w *worker) settle(only map[partKey]bool, limit time.Duration) {
	busy := func() bool {
		for key, st := range w.parts {
			if only != nil && !only[key] {
				continue
			}
			for _, e := range st.entries {
				if e.state == entryPending {
					return true
				}
			}
		}
		return false
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for busy() {
		select {
		case c := <-w.completions:
			w.complete(c)
		case <-deadline.C:
			w.log.Warn("kafka messages still in flight; they stay uncommitted and will be redelivered", "after", limit)
			return
		}
	}
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
			key := partKey{topic: *tp.Topic, partition: tp.Partition}
			w.parts[key] = &partState{key: key, next: -1}
		}
		w.log.Info("kafka partitions assigned", "partitions", partitionNames(e.Partitions))
	case ckafka.RevokedPartitions:
		revoked := make(map[partKey]bool, len(e.Partitions))
		for _, tp := range e.Partitions {
			revoked[partKey{topic: *tp.Topic, partition: tp.Partition}] = true
		}
		if kc.AssignmentLost() {
			w.log.Warn("kafka assignment lost; uncommitted messages will be redelivered",
				"partitions", partitionNames(e.Partitions))
		} else {
			// Let the messages in flight finish so that the next owner
			// does not redo them, then commit.
			w.settle(revoked, w.handlerGrace)
			w.commit()
		}
		// Drop the partitions' state: messages still in flight are
		// abandoned (their outcome is ignored), failed and held ones are
		// left to the next owner, which starts at the committed offset. A
		// paused partition is resumed so that it does not stay paused if
		// it comes back.
		var paused []ckafka.TopicPartition
		for key := range revoked {
			st := w.parts[key]
			if st == nil {
				continue
			}
			w.waiting -= st.failed
			if st.paused() {
				paused = append(paused, topicPartition(key, ckafka.OffsetInvalid))
			}
			delete(w.parts, key)
		}
		w.held = slices.DeleteFunc(w.held, func(m *ckafka.Message) bool {
			return revoked[partKey{topic: *m.TopicPartition.Topic, partition: m.TopicPartition.Partition}]
		})
		w.setPaused(paused, false)
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
