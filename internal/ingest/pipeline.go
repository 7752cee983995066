// Package ingest is the one write path for monitoring data: every transport
// (HTTP /scouter/message and /scouter/drift, gRPC InsertMessage, Kafka,
// RabbitMQ, Redis) hands its decoded MessageRecords to a Pipeline, which
// stores them durably in Postgres.
//
// Durability: Submit returns only after the records are committed. Writer
// goroutines take whatever callers have queued (group commit) and write it in
// one transaction, one multi-row INSERT per table, so concurrent callers share
// a commit. A caller whose Submit returned nil can rely on its records being
// in Postgres; a caller that got an error can resend the same message, since
// drift rows are idempotent (unique keys + ON CONFLICT DO NOTHING).
//
// Records that can never be stored do not fail their neighbours: a record
// whose uid names no profile is rejected (listed in Result.Rejected) while
// the valid records beside it are stored. GenAI records and traces, whose
// stores do not exist yet, are kept in the dead_letter table so they can be
// replayed later. Broker messages that are poison (undecodable, too large,
// unknown uid, wrong types) are dead-lettered by Handle with their raw
// bytes, and the consumer moves on.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/record"
)

// Sentinel errors of Submit and Handle.
var (
	// ErrUnavailable: the database could not be reached or failed
	// transiently; nothing of the message was written and it may be resent.
	ErrUnavailable = errors.New("database unavailable")
	// ErrRejected: the database refused the message's values for good (for
	// example a value out of a column's range); nothing of it was written.
	ErrRejected = errors.New("rejected by the database")
	// ErrClosed: the pipeline is shutting down and accepts nothing more.
	ErrClosed = errors.New("ingest pipeline closed")
)

// UnsupportedReason is the dead-letter reason of records whose store does
// not exist yet.
const UnsupportedReason = "unsupported until the GenAI/tracing store lands"

// Defaults of Options.
const (
	DefaultQueueSize = 1000 // messages, as upstream's HTTP queue
	// DefaultMaxBatchRecords bounds a transaction to a few tens of
	// milliseconds: a message queued behind a full batch waits for it, so
	// larger batches (5,000 rows measured) raised the p99 acknowledgement
	// latency of a consumer with many messages in flight by 3x, for
	// little throughput.
	DefaultMaxBatchRecords = 2000
	DefaultCommitTimeout   = 30 * time.Second
)

// EntityResolver maps a profile uid to its entity id; an unknown uid gives an
// error wrapping entity.ErrUnknownUID. *entity.Resolver implements it.
type EntityResolver interface {
	ID(ctx context.Context, uid string) (int32, error)
}

// Options configure New.
type Options struct {
	// DB starts the batch transactions (a *pgxpool.Pool). Required.
	DB db.TxStarter
	// Entities resolves record uids. Required.
	Entities EntityResolver
	// Logger receives batch failures. Nil discards.
	Logger *slog.Logger
	// Registerer receives the ingest metrics. Nil keeps them private.
	Registerer prometheus.Registerer
	// Writers is the number of writer goroutines, each committing one batch
	// at a time (HTTP_CONSUMER_WORKER_COUNT). Default 1; the server's
	// configuration defaults to 2.
	Writers int
	// QueueSize bounds the messages waiting for a writer; Submit blocks
	// while it is full. Default DefaultQueueSize.
	QueueSize int
	// MaxBatchRecords caps the rows a writer gathers into one transaction
	// (a single larger message is still written whole). Default
	// DefaultMaxBatchRecords.
	MaxBatchRecords int
	// CommitTimeout bounds one batch transaction. Default
	// DefaultCommitTimeout.
	CommitTimeout time.Duration
}

// Rejection is one record (or, with Index -1, a whole message) that was not
// stored.
type Rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Result tells what became of a message's records.
type Result struct {
	// Stored counts the records committed to their tables (a record that
	// was stored before, and so is skipped as a duplicate, counts too).
	Stored int
	// Deferred counts the records kept in dead_letter because their store
	// does not exist yet (GenAI records, traces).
	Deferred int
	// Rejected lists the records that were not stored, in index order.
	Rejected []Rejection
}

// Pipeline stores decoded messages. It is safe for concurrent use; Close it
// to flush the queue and stop the writers.
type Pipeline struct {
	db       db.TxStarter
	entities EntityResolver
	log      *slog.Logger
	m        *pipelineMetrics
	maxBatch int
	timeout  time.Duration

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *job

	// ctx is the writers' base context, cancelled when Close gives up.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New starts a pipeline with its writer goroutines.
func New(o Options) (*Pipeline, error) {
	if o.DB == nil {
		return nil, errors.New("ingest: Options.DB is nil")
	}
	if o.Entities == nil {
		return nil, errors.New("ingest: Options.Entities is nil")
	}
	if o.Writers <= 0 {
		o.Writers = 1
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxBatchRecords <= 0 {
		o.MaxBatchRecords = DefaultMaxBatchRecords
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = DefaultCommitTimeout
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pipeline{
		db:       o.DB,
		entities: o.Entities,
		log:      logger.With(slog.String("component", "ingest")),
		m:        m,
		maxBatch: o.MaxBatchRecords,
		timeout:  o.CommitTimeout,
		queue:    make(chan *job, o.QueueSize),
		ctx:      ctx,
		cancel:   cancel,
	}
	p.wg.Add(o.Writers)
	for range o.Writers {
		go p.writer()
	}
	return p, nil
}

// Submit stores msg and returns once its records are committed. See
// SubmitFrom; the source is "direct".
func (p *Pipeline) Submit(ctx context.Context, msg *record.Message) (Result, error) {
	return p.SubmitFrom(ctx, "direct", msg)
}

// SubmitFrom stores msg, received through source ("<transport>:<detail>",
// e.g. "http:/scouter/message"), and returns once its records are committed.
//
// Records whose uid names no profile, or whose values Postgres cannot hold,
// are listed in Result.Rejected; the others are stored. GenAI records and
// trace messages go to dead_letter (Result.Deferred). The error is
// ErrUnavailable (transient, resend), ErrRejected (the database refused the
// message), ErrClosed, or the ctx error when ctx ends first (the message may
// or may not be committed then).
func (p *Pipeline) SubmitFrom(ctx context.Context, source string, msg *record.Message) (Result, error) {
	if msg == nil {
		return Result{}, errors.New("submit: nil message")
	}
	j, err := p.prepare(ctx, source, msg, nil, nil, false)
	if err != nil {
		return Result{}, err
	}
	return p.run(ctx, j, false)
}

// Handle stores one broker message; it implements the consumers' handler
// interface. Poison is dead-lettered with its raw bytes, the source, the
// transport (the part of source before ':') and the reason, and Handle
// returns nil so the consumer moves on: undecodable or too large payloads
// as a whole, invalid records and records with an unknown uid one by one
// (their valid neighbours are stored). A non-nil error means nothing was
// written and the message must be delivered again (database unavailable,
// pipeline closed, ctx ended).
func (p *Pipeline) Handle(ctx context.Context, source string, payload []byte) error {
	return p.Start(ctx, source, payload)()
}

// Start is Handle in two steps, for consumers that keep several messages in
// flight: it decodes the message, resolves its entities and queues it for a
// writer, then returns a function that waits for the outcome (Handle's
// error). Messages started one after another are queued in that order, so a
// single writer commits them in that order too. Start blocks while the queue
// is full. The wait function must be called exactly once, from any
// goroutine.
func (p *Pipeline) Start(ctx context.Context, source string, payload []byte) (wait func() error) {
	transport := TransportOf(source)
	msg, derr := record.Decode(payload)
	var dead []deadLetter
	var rerr *record.RecordsError
	switch {
	case derr == nil:
	case errors.As(derr, &rerr):
		for _, re := range rerr.Invalid {
			dead = append(dead, deadLetter{kind: kindInvalidRecord, index: re.Index,
				reason: re.Error(), payload: wrapRecord(re.Raw)})
		}
	case errors.Is(derr, record.ErrTooLarge):
		dead = append(dead, deadLetter{kind: kindTooLarge, index: -1, reason: derr.Error(), payload: payload})
	default:
		dead = append(dead, deadLetter{kind: kindMalformed, index: -1, reason: derr.Error(), payload: payload})
	}
	if msg == nil {
		msg = &record.Message{}
	}
	j, err := p.prepare(ctx, source, msg, payload, dead, true)
	if err == nil {
		err = p.enqueue(ctx, j)
	}
	if err != nil {
		return func() error { return err }
	}
	return func() error {
		err := <-j.done // settle: the caller learns whether the message was stored
		if !errors.Is(err, ErrRejected) {
			return err
		}
		// The database refused a value of this message: keep the whole message.
		dj := p.newJob(ctx, source, transport)
		dj.addDead(deadLetter{kind: kindRejectedByDB, index: -1, reason: err.Error(), payload: payload}, transport, source)
		_, err = p.run(ctx, dj, true)
		return err
	}
}

// Close stops accepting messages, waits until everything queued is
// committed (or has failed) and the writers have exited. When ctx ends
// first, the writers' transactions are cancelled (their callers get errors)
// and the ctx error is returned.
func (p *Pipeline) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		// Lock waits for Submits blocked on a full queue; the writers keep
		// draining it, or fail fast once ctx has ended (p.cancel below).
		p.mu.Lock()
		if !p.closed {
			p.closed = true
			close(p.queue)
		}
		p.mu.Unlock()
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		p.cancel()
		return nil
	case <-ctx.Done():
		p.cancel()
		<-done
		return fmt.Errorf("close ingest pipeline: %w", context.Cause(ctx))
	}
}

// run queues j and waits for its commit. With settle, it waits for the
// writer's answer even when ctx ends meanwhile (a job still queued then is
// skipped, a running transaction is bounded by CommitTimeout), so the
// caller always learns whether the message was stored: a broker consumer
// acknowledges exactly what was committed.
func (p *Pipeline) run(ctx context.Context, j *job, settle bool) (Result, error) {
	if err := p.enqueue(ctx, j); err != nil {
		return Result{}, err
	}
	if settle {
		if err := <-j.done; err != nil {
			return Result{}, err
		}
		return j.result, nil
	}
	select {
	case err := <-j.done:
		if err != nil {
			return Result{}, err
		}
		return j.result, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("submit: %w", context.Cause(ctx))
	}
}

func (p *Pipeline) enqueue(ctx context.Context, j *job) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.queue <- j:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("submit: %w", context.Cause(ctx))
	}
}

// TransportOf returns the transport named by source: the part before the
// first ':' ("kafka:topic/0@12" → "kafka"), or "unknown" when empty.
func TransportOf(source string) string {
	t, _, _ := strings.Cut(source, ":")
	if t == "" {
		return "unknown"
	}
	return t
}

// StoreTags upserts tags (POST /scouter/tags) through the same writers as
// every other record and returns once they are committed. A tag repeated in
// the batch is written once; the count is the number of distinct tags.
func (p *Pipeline) StoreTags(ctx context.Context, tags []record.TagRecord) (int64, error) {
	j := p.newJob(ctx, "http:/scouter/tags", "http")
	for _, t := range tags {
		if field := nulField(map[string]string{"entity_type": t.EntityType, "entity_id": t.EntityID, "key": t.Key, "value": t.Value}); field != "" {
			return 0, fmt.Errorf("%w: %s: %s", ErrRejected, field, nulMsg)
		}
		j.rows.tags.EntityType = append(j.rows.tags.EntityType, t.EntityType)
		j.rows.tags.EntityID = append(j.rows.tags.EntityID, t.EntityID)
		j.rows.tags.Key = append(j.rows.tags.Key, t.Key)
		j.rows.tags.Value = append(j.rows.tags.Value, t.Value)
	}
	j.rows.dedupeTags()
	n := len(j.rows.tags.Key)
	if n == 0 {
		return 0, nil
	}
	if _, err := p.run(ctx, j, false); err != nil {
		return 0, err
	}
	return int64(n), nil
}
