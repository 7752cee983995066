package kafka

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	metricConsumed       = "kafka_messages_consumed_total"
	metricHandlerErrors  = "kafka_handler_errors_total"
	metricCommitErrors   = "kafka_commit_errors_total"
	metricConsumerErrors = "kafka_consumer_errors_total"
	metricInFlight       = "kafka_messages_in_flight"
)

type metrics struct {
	consumed       *prometheus.CounterVec // by topic
	handlerErrors  *prometheus.CounterVec // by topic
	commitErrors   prometheus.Counter
	consumerErrors prometheus.Counter
	inFlight       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricConsumed,
			Help: "Kafka messages the ingest pipeline accepted (stored or dead-lettered), by topic. Redeliveries count again.",
		}, []string{"topic"}),
		handlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricHandlerErrors,
			Help: "Transient ingest failures of Kafka messages, by topic; the message is retried after a backoff.",
		}, []string{"topic"}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricCommitErrors,
			Help: "Failed Kafka offset commits (the offsets are committed again later or the messages redelivered).",
		}),
		consumerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricConsumerErrors,
			Help: "Errors reported by the Kafka client (broker connection, fetch, seek) while consuming.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricInFlight,
			Help: "Kafka messages handed to the ingest pipeline and not yet answered, over all group members (KAFKA_MAX_IN_FLIGHT each).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.consumed, err = register(reg, m.consumed); err != nil {
		return nil, err
	}
	if m.handlerErrors, err = register(reg, m.handlerErrors); err != nil {
		return nil, err
	}
	if m.commitErrors, err = register(reg, m.commitErrors); err != nil {
		return nil, err
	}
	if m.consumerErrors, err = register(reg, m.consumerErrors); err != nil {
		return nil, err
	}
	if m.inFlight, err = register(reg, m.inFlight); err != nil {
		return nil, err
	}
	return m, nil
}

// register adds c to reg, or returns the collector already registered under
// the same name, so that a second Consumer on one registry (a restart in
// the same process) shares the counters.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register kafka metrics: %w", err)
}
