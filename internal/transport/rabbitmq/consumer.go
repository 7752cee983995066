// Package rabbitmq consumes Scouter messages from a RabbitMQ queue and hands
// each one to the ingest pipeline.
//
// It is wire compatible with upstream producers: they publish one JSON
// MessageRecord per message to the default exchange with the queue name as
// routing key, and both sides declare the queue with the same options
// (non-durable, non-exclusive, not auto-delete, no arguments).
//
// Unlike upstream, a delivery is acknowledged only after the handler has
// stored it (or dead-lettered it as poison), and a transient handler failure
// requeues the delivery after a backoff instead of leaving it unacked, so a
// consumer never stalls on its prefetch window. Lost connections are
// re-established with capped exponential backoff.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/scoutergo/server/internal/retry"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"golang.org/x/sync/errgroup"

	"github.com/scoutergo/server/internal/config"
)

// Handler stores one message durably. A nil error means the message is done
// (stored, or dead-lettered as poison) and is acknowledged; an error means a
// transient failure (such as the database being down) and the message is
// requeued to be processed again.
type Handler interface {
	Handle(ctx context.Context, source string, payload []byte) error
}

// Metric names.
const (
	MetricConsumed      = "rabbitmq_messages_consumed_total"
	MetricHandlerErrors = "rabbitmq_handler_errors_total"
	MetricReconnects    = "rabbitmq_reconnects_total"
)

// Defaults of the tunables; tests shorten them.
const (
	defaultReconnectMin  = 500 * time.Millisecond
	defaultReconnectMax  = 30 * time.Second
	defaultRetryMin      = 200 * time.Millisecond
	defaultRetryMax      = 10 * time.Second
	defaultShutdownGrace = 10 * time.Second
	defaultDialTimeout   = 10 * time.Second
	defaultHeartbeat     = 10 * time.Second
)

// Consumer runs cfg.ConsumerCount queue consumers, each on its own
// connection and channel.
type Consumer struct {
	cfg     config.RabbitMQ
	server  string // host, port and vhost, for logs (never the credentials)
	source  string
	h       Handler
	log     *slog.Logger
	metrics metrics

	reconnectMin, reconnectMax time.Duration // backoff between connection attempts
	retryMin, retryMax         time.Duration // backoff before requeueing a failed delivery
	shutdownGrace              time.Duration // how long an in-flight delivery may run after ctx ends
	dialTimeout                time.Duration // TCP connect plus AMQP handshake
	heartbeat                  time.Duration
}

type metrics struct {
	consumed      prometheus.Counter
	handlerErrors prometheus.Counter
	reconnects    prometheus.Counter
}

// New checks cfg and registers the consumer's metrics on reg. It does not
// connect; Run does.
func New(cfg config.RabbitMQ, h Handler, logger *slog.Logger, reg prometheus.Registerer) (*Consumer, error) {
	switch {
	case h == nil:
		return nil, errors.New("rabbitmq: handler is nil")
	case logger == nil:
		return nil, errors.New("rabbitmq: logger is nil")
	case reg == nil:
		return nil, errors.New("rabbitmq: registerer is nil")
	case cfg.ConsumerCount < 1:
		return nil, fmt.Errorf("rabbitmq: consumer count %d: must be at least 1", cfg.ConsumerCount)
	case cfg.PrefetchCount < 0 || cfg.PrefetchCount > 65535:
		return nil, fmt.Errorf("rabbitmq: prefetch count %d: must be within 0..65535", cfg.PrefetchCount)
	case cfg.Queue == "":
		return nil, errors.New("rabbitmq: queue name is empty")
	case cfg.ConsumerTag == "":
		return nil, errors.New("rabbitmq: consumer tag is empty")
	}
	uri, err := amqp.ParseURI(cfg.Addr.Reveal())
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: parse address: %s", retry.RedactURLError(err))
	}
	m := metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricConsumed,
			Help: "RabbitMQ deliveries stored (or dead-lettered) by the ingest pipeline and acknowledged.",
		}),
		handlerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricHandlerErrors,
			Help: "RabbitMQ deliveries whose processing failed transiently and were requeued.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricReconnects,
			Help: "RabbitMQ connection attempts made after a failed or lost connection.",
		}),
	}
	for _, c := range []prometheus.Collector{m.consumed, m.handlerErrors, m.reconnects} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("rabbitmq: register metrics: %w", err)
		}
	}
	return &Consumer{
		cfg:           cfg,
		server:        fmt.Sprintf("%s vhost %s", net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port)), uri.Vhost),
		source:        "rabbitmq:" + cfg.Queue,
		h:             h,
		log:           logger,
		metrics:       m,
		reconnectMin:  defaultReconnectMin,
		reconnectMax:  defaultReconnectMax,
		retryMin:      defaultRetryMin,
		retryMax:      defaultRetryMax,
		shutdownGrace: defaultShutdownGrace,
		dialTimeout:   defaultDialTimeout,
		heartbeat:     defaultHeartbeat,
	}, nil
}

// Run consumes until ctx ends, then cancels the consumers, lets each finish
// (and acknowledge) its in-flight delivery, closes the connections and
// returns nil. Deliveries prefetched but not yet handled go back to the
// queue when the channel closes.
//
// Connection failures are retried with backoff for as long as ctx lives,
// except a refusal that retrying cannot fix (bad credentials, vhost access,
// a queue declared with other options) before a consumer's first successful
// start: that is a configuration error and Run returns it.
func (c *Consumer) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for n := 1; n <= c.cfg.ConsumerCount; n++ {
		g.Go(func() error { return c.consume(ctx, n) })
	}
	return g.Wait()
}

// consume runs one consumer: sessions separated by reconnect backoff.
func (c *Consumer) consume(ctx context.Context, n int) error {
	// One tag per consumer. RabbitMQ only rejects a duplicate tag on the same
	// channel, and each consumer has its own channel, but distinct tags let
	// an operator tell the consumers apart in the management UI.
	tag := c.cfg.ConsumerTag + "-" + strconv.Itoa(n)
	log := c.log.With("queue", c.cfg.Queue, "consumer_tag", tag)
	started := false
	attempt := 0
	for {
		err := c.session(ctx, tag, log, func() {
			started = true
			attempt = 0
		})
		if ctx.Err() != nil {
			return nil
		}
		if !started && permanent(err) {
			return fmt.Errorf("rabbitmq consumer %s on %s: %w", tag, c.server, err)
		}
		attempt++
		delay := retry.Backoff(c.reconnectMin, c.reconnectMax, attempt)
		c.metrics.reconnects.Inc()
		log.Warn("rabbitmq reconnecting", "server", c.server, "attempt", attempt, "delay_ms", delay.Milliseconds(), "err", err)
		if !retry.Sleep(ctx, delay) {
			return nil
		}
	}
}

// session connects, sets the channel up and handles deliveries until ctx
// ends (nil) or the connection or channel goes away (an error). started is
// called once the consumer is registered with the broker.
func (c *Consumer) session(ctx context.Context, tag string, log *slog.Logger, started func()) error {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("scouter " + tag)
	conn, err := amqp.DialConfig(c.cfg.Addr.Reveal(), amqp.Config{
		Heartbeat:  c.heartbeat,
		Properties: props,
		Dial:       c.dialer(ctx),
	})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// Closing an already closed connection only reports that it was closed.
	defer func() { _ = conn.Close() }()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))

	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Qos(c.cfg.PrefetchCount, 0, false); err != nil {
		return fmt.Errorf("set prefetch %d: %w", c.cfg.PrefetchCount, err)
	}
	// Exactly the options upstream's producers declare the queue with: a
	// mismatch in any of them makes the later declare fail with
	// PRECONDITION_FAILED.
	const durable, autoDelete, exclusive, noWait = false, false, false, false
	if _, err := ch.QueueDeclare(c.cfg.Queue, durable, autoDelete, exclusive, noWait, nil); err != nil {
		return declareError(c.cfg.Queue, err)
	}
	const autoAck, exclusiveConsumer, noLocal = false, false, false
	deliveries, err := ch.Consume(c.cfg.Queue, tag, autoAck, exclusiveConsumer, noLocal, noWait, nil)
	if err != nil {
		return fmt.Errorf("consume queue %q: %w", c.cfg.Queue, err)
	}
	started()
	log.Info("rabbitmq consumer started", "server", c.server, "prefetch", c.cfg.PrefetchCount)

	failures := 0 // consecutive handler failures, for the requeue backoff
	for {
		// select picks randomly among ready cases; check shutdown first so a
		// full delivery buffer cannot delay it.
		if ctx.Err() != nil {
			return c.stop(ch, tag, log)
		}
		select {
		case <-ctx.Done():
			return c.stop(ch, tag, log)
		case e := <-connClosed:
			return closedError("connection", e)
		case e := <-chClosed:
			return closedError("channel", e)
		case d, ok := <-deliveries:
			if !ok {
				// The library sends close notifications before it closes the
				// delivery stream, so none here means the channel is still
				// open: the broker cancelled the consumer (queue deleted, or
				// its node went down).
				select {
				case e := <-connClosed:
					return closedError("connection", e)
				case e := <-chClosed:
					return closedError("channel", e)
				default:
					return errors.New("consumer cancelled by the broker")
				}
			}
			if err := c.deliver(ctx, d, &failures, log); err != nil {
				return closeReason(err, connClosed, chClosed)
			}
		}
	}
}

// deliver hands one delivery to the handler and acks it, or requeues it
// after a backoff when the handler fails.
func (c *Consumer) deliver(ctx context.Context, d amqp.Delivery, failures *int, log *slog.Logger) error {
	hctx, cancel := retry.GraceContext(ctx, c.shutdownGrace)
	err := c.h.Handle(hctx, c.source, d.Body)
	cancel()
	if err == nil {
		*failures = 0
		if err := d.Ack(false); err != nil {
			// The broker will redeliver it once it notices the closed
			// channel; the handler must tolerate the duplicate.
			return fmt.Errorf("ack delivery %d: %w", d.DeliveryTag, err)
		}
		c.metrics.consumed.Inc()
		return nil
	}
	c.metrics.handlerErrors.Inc()
	*failures++
	delay := retry.Backoff(c.retryMin, c.retryMax, *failures)
	log.Warn("rabbitmq handler failed, requeueing delivery", "err", err, "bytes", len(d.Body),
		"redelivered", d.Redelivered, "delay_ms", delay.Milliseconds())
	retry.Sleep(ctx, delay) // on shutdown, requeue at once
	if err := d.Nack(false, true); err != nil {
		return fmt.Errorf("requeue delivery %d: %w", d.DeliveryTag, err)
	}
	return nil
}

// stop cancels the consumer so the broker sends nothing more. Unacked
// deliveries still buffered go back to the queue when the caller closes the
// connection.
func (c *Consumer) stop(ch *amqp.Channel, tag string, log *slog.Logger) error {
	if err := ch.Cancel(tag, false); err != nil {
		log.Warn("rabbitmq cancel consumer", "err", err)
	}
	log.Info("rabbitmq consumer stopped")
	return nil
}

// dialer connects with a timeout and aborts when ctx ends. The deadline
// bounds the AMQP handshake too; the library clears it once the connection
// is open.
func (c *Consumer) dialer(ctx context.Context) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: c.dialTimeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := conn.SetDeadline(time.Now().Add(c.dialTimeout)); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

// declareError explains a failed queue declare.
func declareError(queue string, err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
		return fmt.Errorf("declare queue %q: the broker holds it with other options than upstream producers use "+
			"(durable=false, auto_delete=false, exclusive=false, no arguments); delete the queue or fix whoever "+
			"declared it: %w", queue, err)
	}
	return fmt.Errorf("declare queue %q: %w", queue, err)
}

// closedError describes a close notification (nil when closed normally).
func closedError(what string, e *amqp.Error) error {
	if e == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, e)
}

// closeReason prefers the broker's reason for a close, when one has
// arrived, over err (which is then usually "channel/connection is not open").
func closeReason(err error, connClosed, chClosed <-chan *amqp.Error) error {
	select {
	case e := <-connClosed:
		if e != nil {
			return fmt.Errorf("%w (connection closed: %w)", err, e)
		}
	case e := <-chClosed:
		if e != nil {
			return fmt.Errorf("%w (channel closed: %w)", err, e)
		}
	default:
	}
	return err
}

// permanent reports refusals that retrying will not fix.
func permanent(err error) bool {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed:
		return true
	}
	return false
}
