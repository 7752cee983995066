package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	MetricRecordsInserted   = "records_inserted_total"
	MetricMessagesProcessed = "messages_processed_total"
	MetricInsertErrors      = "db_insert_errors_total"
	MetricDeadLetters       = "dead_letters_total"
	MetricBatchSize         = "ingest_batch_size"
	MetricCommitDuration    = "ingest_commit_duration_seconds"
	MetricDuplicateBatches  = "ingest_duplicate_batches_total"
)

type pipelineMetrics struct {
	inserted       *prometheus.CounterVec
	processed      *prometheus.CounterVec
	insertErrors   prometheus.Counter
	deadLetters    *prometheus.CounterVec
	batchSize      prometheus.Histogram
	commitDuration prometheus.Histogram
	duplicates     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*pipelineMetrics, error) {
	m := &pipelineMetrics{
		inserted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRecordsInserted,
			Help: "Rows inserted by the ingest pipeline, by record type (duplicates of stored rows excluded).",
		}, []string{"type"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricMessagesProcessed,
			Help: "Messages committed by the ingest pipeline, by transport.",
		}, []string{"transport"}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricInsertErrors,
			Help: "Failed ingest transactions.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDeadLetters,
			Help: "Messages or records stored in dead_letter, by transport and reason kind.",
		}, []string{"transport", "reason_kind"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    MetricBatchSize,
			Help:    "Rows written per ingest transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 .. 262144
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    MetricCommitDuration,
			Help:    "Duration of successful ingest transactions in seconds.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1 ms .. ~24 s
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricDuplicateBatches,
			Help: "Ingest transactions that met rows stored before (redelivered messages) and were written again skipping them.",
		}),
	}
	for _, c := range []prometheus.Collector{m.inserted, m.processed, m.insertErrors, m.deadLetters, m.batchSize, m.commitDuration, m.duplicates} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	for _, t := range []string{typeSpc, typePsi, typeCustom, typeObservability, typeTag} {
		m.inserted.WithLabelValues(t)
	}
	return m, nil
}
