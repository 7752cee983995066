package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/config"
)

// baseKafka is the configuration the config package yields with only
// KAFKA_BROKERS set.
func baseKafka() config.Kafka {
	return config.Kafka{
		Brokers:          "broker-1:9092,broker-2:9092",
		WorkerCount:      3,
		Topics:           []string{"scouter_monitoring"},
		Group:            "scouter",
		OffsetReset:      "earliest",
		SecurityProtocol: "SASL_SSL",
		SASLMechanism:    "PLAIN",
	}
}

func TestConfigMap(t *testing.T) {
	base := ckafka.ConfigMap{
		"bootstrap.servers":         "broker-1:9092,broker-2:9092",
		"group.id":                  "scouter",
		"client.id":                 "scouter-0",
		"auto.offset.reset":         "earliest",
		"enable.auto.commit":        false,
		"enable.auto.offset.store":  false,
		"enable.partition.eof":      false,
		"session.timeout.ms":        10000,
		"heartbeat.interval.ms":     2500,
		"max.partition.fetch.bytes": 16 << 20,
		"fetch.max.bytes":           64 << 20,
		"receive.message.max.bytes": 64<<20 + 512,
	}
	with := func(extra ckafka.ConfigMap) ckafka.ConfigMap {
		m := ckafka.ConfigMap{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	tests := []struct {
		name   string
		modify func(*config.Kafka)
		want   ckafka.ConfigMap
	}{
		{
			name:   "defaults are plaintext without credentials",
			modify: func(*config.Kafka) {},
			want:   base,
		},
		{
			name:   "latest offset reset",
			modify: func(k *config.Kafka) { k.OffsetReset = "latest" },
			want:   with(ckafka.ConfigMap{"auto.offset.reset": "latest"}),
		},
		{
			name: "SASL_SSL with credentials and CA",
			modify: func(k *config.Kafka) {
				k.Username, k.Password, k.CertLocation = "svc", "s3cret", "certs/ca.pem"
			},
			want: with(ckafka.ConfigMap{
				"security.protocol": "SASL_SSL",
				"sasl.mechanism":    "PLAIN",
				"sasl.username":     "svc",
				"sasl.password":     "s3cret",
				"ssl.ca.location":   "certs/ca.pem",
			}),
		},
		{
			name: "SASL_PLAINTEXT with SCRAM ignores the CA",
			modify: func(k *config.Kafka) {
				k.Username, k.Password, k.CertLocation = "svc", "s3cret", "certs/ca.pem"
				k.SecurityProtocol, k.SASLMechanism = "SASL_PLAINTEXT", "SCRAM-SHA-512"
			},
			want: with(ckafka.ConfigMap{
				"security.protocol": "SASL_PLAINTEXT",
				"sasl.mechanism":    "SCRAM-SHA-512",
				"sasl.username":     "svc",
				"sasl.password":     "s3cret",
			}),
		},
		{
			name: "credentials with SSL use TLS without SASL",
			modify: func(k *config.Kafka) {
				k.Username, k.Password, k.CertLocation = "svc", "s3cret", "certs/ca.pem"
				k.SecurityProtocol = "SSL"
			},
			want: with(ckafka.ConfigMap{"security.protocol": "SSL", "ssl.ca.location": "certs/ca.pem"}),
		},
		{
			name: "SSL without credentials enables TLS only",
			modify: func(k *config.Kafka) {
				k.SecurityProtocol, k.CertLocation = "SSL", "certs/ca.pem"
			},
			want: with(ckafka.ConfigMap{"security.protocol": "SSL", "ssl.ca.location": "certs/ca.pem"}),
		},
		{
			name:   "SSL without credentials or CA uses the system CAs",
			modify: func(k *config.Kafka) { k.SecurityProtocol = "ssl" },
			want:   with(ckafka.ConfigMap{"security.protocol": "SSL"}),
		},
		{
			name:   "CA without TLS is ignored",
			modify: func(k *config.Kafka) { k.CertLocation = "certs/ca.pem" },
			want:   base,
		},
		{
			name:   "username without password stays plaintext as upstream",
			modify: func(k *config.Kafka) { k.Username = "svc" },
			want:   base,
		},
		{
			name:   "password without username stays plaintext as upstream",
			modify: func(k *config.Kafka) { k.Password = "s3cret" },
			want:   base,
		},
		{
			name: "explicit PLAINTEXT with credentials sends no SASL",
			modify: func(k *config.Kafka) {
				k.Username, k.Password, k.SecurityProtocol = "svc", "s3cret", "PLAINTEXT"
			},
			want: with(ckafka.ConfigMap{"security.protocol": "PLAINTEXT"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseKafka()
			tt.modify(&cfg)
			got, err := configMap(cfg, "scouter-0")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConfigMapErrors(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*config.Kafka)
		wantErr string
	}{
		{"empty brokers", func(k *config.Kafka) { k.Brokers = " " }, "KAFKA_BROKERS is empty"},
		{"empty group", func(k *config.Kafka) { k.Group = "" }, "KAFKA_GROUP is empty"},
		{"no topics", func(k *config.Kafka) { k.Topics = nil }, "KAFKA_TOPIC names no topic"},
		{"empty topic", func(k *config.Kafka) { k.Topics = []string{"a", ""} }, "empty topic name"},
		{"bad offset reset", func(k *config.Kafka) { k.OffsetReset = "smallest" }, `KAFKA_OFFSET_RESET "smallest"`},
		{"bad protocol", func(k *config.Kafka) { k.SecurityProtocol = "TLS" }, `KAFKA_SECURITY_PROTOCOL "TLS"`},
		{
			"SASL without mechanism",
			func(k *config.Kafka) { k.Username, k.Password, k.SASLMechanism = "u", "p", "" },
			"KAFKA_SASL_MECHANISM is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseKafka()
			tt.modify(&cfg)
			_, err := configMap(cfg, "scouter-0")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestConfigMapAcceptedByLibrdkafka creates real librdkafka clients from the
// generated maps, so a misspelt property or an inconsistent size limit
// fails here rather than at startup.
func TestConfigMapAcceptedByLibrdkafka(t *testing.T) {
	ca := writeTestCA(t)
	tests := []struct {
		name   string
		modify func(*config.Kafka)
	}{
		{"plaintext", func(*config.Kafka) {}},
		{"SASL_SSL PLAIN with CA", func(k *config.Kafka) { k.Username, k.Password, k.CertLocation = "u", "p", ca }},
		{"SASL_PLAINTEXT SCRAM", func(k *config.Kafka) {
			k.Username, k.Password, k.SecurityProtocol, k.SASLMechanism = "u", "p", "SASL_PLAINTEXT", "SCRAM-SHA-256"
		}},
		{"SSL with CA", func(k *config.Kafka) { k.SecurityProtocol, k.CertLocation = "SSL", ca }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseKafka()
			cfg.Brokers = "127.0.0.1:1" // nothing listens; the client is closed at once
			tt.modify(&cfg)
			m, err := configMap(cfg, "scouter-0")
			require.NoError(t, err)
			kc, err := ckafka.NewConsumer(&m)
			require.NoError(t, err, "librdkafka rejected %v", m)
			require.NoError(t, kc.Close())
		})
	}
}

func TestNewValidates(t *testing.T) {
	h := HandlerFunc(func(context.Context, string, []byte) error { return nil })
	tests := []struct {
		name    string
		cfg     func() config.Kafka
		h       Handler
		wantErr string
	}{
		{"nil handler", baseKafka, nil, "nil handler"},
		{"zero workers", func() config.Kafka { c := baseKafka(); c.WorkerCount = 0; return c }, h, "KAFKA_WORKER_COUNT 0"},
		{"no brokers", func() config.Kafka { c := baseKafka(); c.Brokers = ""; return c }, h, "KAFKA_BROKERS is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg(), tt.h, slog.New(slog.DiscardHandler), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}

	t.Run("two consumers share one registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		c1, err := New(baseKafka(), h, nil, reg)
		require.NoError(t, err)
		c2, err := New(baseKafka(), h, nil, reg)
		require.NoError(t, err)
		c1.metrics.consumed.WithLabelValues("t").Inc()
		c2.metrics.consumed.WithLabelValues("t").Inc()
		assert.Equal(t, 2.0, testutil.ToFloat64(c1.metrics.consumed.WithLabelValues("t")))
	})

	t.Run("conflicting metric on the registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: metricCommitErrors, Help: "other"}))
		_, err := New(baseKafka(), h, nil, reg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "register kafka metrics")
	})
}

// writeTestCA writes a self-signed CA certificate in PEM and returns its path.
func writeTestCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "scouter test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
}
