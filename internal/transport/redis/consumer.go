// Package redis consumes Scouter messages from a Redis Pub/Sub channel and
// hands each one to the ingest pipeline.
//
// It is wire compatible with upstream producers, which run
// PUBLISH <channel> <MessageRecord JSON>. Upstream subscribes
// REDIS_CONSUMER_COUNT times, and since Pub/Sub delivers every message to
// every subscriber it stores each message that many times. Here one
// subscription feeds REDIS_CONSUMER_COUNT worker goroutines, so each message
// is processed once.
//
// Pub/Sub has no acknowledgement and no replay: a message published while no
// subscription is open (server restarting, connection being re-established)
// is lost, and so is one the handler cannot store before shutdown. Use Kafka
// or RabbitMQ where at-least-once delivery matters.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/scoutergo/server/internal/retry"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/scoutergo/server/internal/config"
)

// Handler stores one message durably. A nil error means the message is done
// (stored, or dead-lettered as poison); an error means a transient failure
// (such as the database being down) and the message is retried.
type Handler interface {
	Handle(ctx context.Context, source string, payload []byte) error
}

// Metric names.
const (
	MetricConsumed      = "redis_messages_consumed_total"
	MetricHandlerErrors = "redis_handler_errors_total"
)

// Defaults of the tunables; tests shorten them.
const (
	defaultRetryMin       = 200 * time.Millisecond
	defaultRetryMax       = 10 * time.Second
	defaultReconnectMin   = 500 * time.Millisecond
	defaultReconnectMax   = 30 * time.Second
	defaultHealthInterval = 30 * time.Second
	defaultShutdownGrace  = 10 * time.Second
)

// Consumer subscribes to cfg.Channel and runs cfg.ConsumerCount workers
// behind the one subscription.
type Consumer struct {
	cfg     config.Redis
	opts    *goredis.Options
	server  string // network address, for logs (never the credentials)
	source  string
	h       Handler
	log     *slog.Logger
	metrics metrics

	retryMin, retryMax         time.Duration // backoff between handler attempts
	reconnectMin, reconnectMax time.Duration // backoff after a failed receive
	// healthInterval: after this long without traffic the subscription is
	// pinged, and when the next interval passes without a reply the
	// connection is presumed dead and replaced.
	healthInterval time.Duration
	shutdownGrace  time.Duration // how long an in-flight message may run after ctx ends
}

type metrics struct {
	consumed      prometheus.Counter
	handlerErrors prometheus.Counter
}

// job is one received message.
type job struct {
	source  string
	payload []byte
}

// New parses cfg.Addr (redis://, rediss:// or unix://) and registers the
// consumer's metrics on reg. It does not connect; Run does.
func New(cfg config.Redis, h Handler, logger *slog.Logger, reg prometheus.Registerer) (*Consumer, error) {
	switch {
	case h == nil:
		return nil, errors.New("redis: handler is nil")
	case logger == nil:
		return nil, errors.New("redis: logger is nil")
	case reg == nil:
		return nil, errors.New("redis: registerer is nil")
	case cfg.ConsumerCount < 1:
		return nil, fmt.Errorf("redis: consumer count %d: must be at least 1", cfg.ConsumerCount)
	case cfg.Channel == "":
		return nil, errors.New("redis: channel is empty")
	}
	opts, err := goredis.ParseURL(cfg.Addr.Reveal())
	if err != nil {
		return nil, fmt.Errorf("redis: parse address: %s", retry.RedactURLError(err))
	}
	m := metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricConsumed,
			Help: "Redis Pub/Sub messages stored (or dead-lettered) by the ingest pipeline.",
		}),
		handlerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricHandlerErrors,
			Help: "Failed attempts to process a Redis Pub/Sub message (each is retried).",
		}),
	}
	for _, c := range []prometheus.Collector{m.consumed, m.handlerErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("redis: register metrics: %w", err)
		}
	}
	return &Consumer{
		cfg:            cfg,
		opts:           opts,
		server:         opts.Network + " " + opts.Addr,
		source:         "redis:" + cfg.Channel,
		h:              h,
		log:            logger.With("channel", cfg.Channel),
		metrics:        m,
		retryMin:       defaultRetryMin,
		retryMax:       defaultRetryMax,
		reconnectMin:   defaultReconnectMin,
		reconnectMax:   defaultReconnectMax,
		healthInterval: defaultHealthInterval,
		shutdownGrace:  defaultShutdownGrace,
	}, nil
}

// Run subscribes and processes messages until ctx ends, then lets every
// message already received finish (a message in retry gets one last
// attempt) and returns nil. A lost connection is re-established and the
// subscription renewed, with backoff, for as long as ctx lives.
//
// A message whose handler keeps failing is retried with backoff while it
// holds its worker. When every worker is busy retrying, the consumer stops
// reading, and Redis disconnects a subscriber whose output buffer passes
// client-output-buffer-limit pubsub (32 MB, or 8 MB for 60 s, by default);
// messages published until the subscription is renewed are lost.
//
// Run returns an error only when the server refuses the consumer before its
// first subscription (wrong password, no permission for the channel): a
// configuration error that retrying cannot fix.
func (c *Consumer) Run(ctx context.Context) error {
	client := goredis.NewClient(c.opts)
	defer func() { _ = client.Close() }()

	// Unbuffered: a message is read from the connection only when a worker
	// is free, so back-pressure reaches Redis instead of piling up here.
	jobs := make(chan job)
	done := make(chan struct{})
	for range c.cfg.ConsumerCount {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range jobs {
				c.process(ctx, j)
			}
		}()
	}
	err := c.receive(ctx, client, jobs)
	close(jobs)
	for range c.cfg.ConsumerCount {
		<-done
	}
	return err
}

// receive reads the subscription into jobs until ctx ends.
func (c *Consumer) receive(ctx context.Context, client *goredis.Client, jobs chan<- job) error {
	subscribed := false
	for {
		err := c.session(ctx, client, jobs, &subscribed)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// session owns one PubSub. go-redis re-dials and resubscribes a PubSub
// whose connection broke; session returns (nil) only to replace a
// connection that stopped answering pings, or (an error) for a refusal
// before the first subscription.
func (c *Consumer) session(ctx context.Context, client *goredis.Client, jobs chan<- job, subscribed *bool) error {
	ps := client.Subscribe(ctx, c.cfg.Channel) // a failure here surfaces from ReceiveTimeout
	defer func() { _ = ps.Close() }()
	// Closing the PubSub unblocks a ReceiveTimeout waiting for traffic.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	failures := 0
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, c.healthInterval)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if isTimeout(err) {
				if pinged {
					c.log.Warn("redis subscription unresponsive, resubscribing", "server", c.server,
						"silent_ms", (2 * c.healthInterval).Milliseconds())
					return nil
				}
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					// The next receive reports the broken connection.
					c.log.Debug("redis ping failed", "err", err)
				}
				continue
			}
			if !*subscribed && isServerError(err) {
				return fmt.Errorf("redis subscribe to %q on %s: %w", c.cfg.Channel, c.server, err)
			}
			failures++
			delay := retry.Backoff(c.reconnectMin, c.reconnectMax, failures)
			c.log.Warn("redis reconnecting", "server", c.server, "attempt", failures,
				"delay_ms", delay.Milliseconds(), "err", err)
			retry.Sleep(ctx, delay)
			continue
		}
		failures = 0
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				*subscribed = true
				c.log.Info("redis subscribed", "server", c.server, "workers", c.cfg.ConsumerCount)
			}
		case *goredis.Message:
			// Blocks until a worker is free, even after ctx ends: a message
			// read from the connection gets at least one attempt.
			jobs <- job{source: "redis:" + m.Channel, payload: []byte(m.Payload)}
		}
	}
}

// process hands one message to the handler, retrying with backoff until it
// succeeds or ctx ends (then it makes one last attempt).
func (c *Consumer) process(ctx context.Context, j job) {
	for attempt := 1; ; attempt++ {
		hctx, cancel := retry.GraceContext(ctx, c.shutdownGrace)
		err := c.h.Handle(hctx, j.source, j.payload)
		cancel()
		if err == nil {
			c.metrics.consumed.Inc()
			return
		}
		c.metrics.handlerErrors.Inc()
		if ctx.Err() != nil {
			c.log.Error("redis message dropped at shutdown", "bytes", len(j.payload), "attempts", attempt, "err", err)
			return
		}
		delay := retry.Backoff(c.retryMin, c.retryMax, attempt)
		c.log.Warn("redis handler failed, retrying", "bytes", len(j.payload), "attempt", attempt,
			"delay_ms", delay.Milliseconds(), "err", err)
		retry.Sleep(ctx, delay)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isServerError reports an error reply from Redis (as opposed to a network
// failure), such as WRONGPASS or NOPERM.
func isServerError(err error) bool {
	var re goredis.Error
	return errors.As(err, &re)
}
