package kafka

import (
	"errors"
	"fmt"
	"strings"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/scoutergo/server/internal/config"
)

// Size limits for fetched messages. The pipeline dead-letters payloads over
// 10 MiB itself, so the consumer must be able to receive somewhat more than
// that in order to hand them over.
const (
	maxPartitionFetchBytes = 16 << 20
	fetchMaxBytes          = 64 << 20
	// librdkafka requires receive.message.max.bytes >= fetch.max.bytes + 512.
	receiveMessageMaxBytes = fetchMaxBytes + 512
)

// sessionTimeoutMs is how long the group coordinator waits for a heartbeat
// before it evicts a member and hands its partitions to the others. Upstream
// uses 6 s; 10 s keeps failover quick while tolerating a slow GC pause or a
// busy host.
const sessionTimeoutMs = 10000

// Security protocols (librdkafka security.protocol values).
const (
	protoPlaintext     = "PLAINTEXT"
	protoSSL           = "SSL"
	protoSASLPlaintext = "SASL_PLAINTEXT"
	protoSASLSSL       = "SASL_SSL"
)

// configMap builds the librdkafka configuration of one group member from the
// KAFKA_* settings. It is pure so that it can be table-tested.
//
// Security follows upstream and extends it:
//   - with KAFKA_USERNAME and KAFKA_PASSWORD both set, security.protocol is
//     KAFKA_SECURITY_PROTOCOL, and for the SASL_* protocols sasl.mechanism,
//     sasl.username and sasl.password are set;
//   - without credentials, KAFKA_SECURITY_PROTOCOL=SSL turns on TLS without
//     SASL (upstream cannot do this); any other value leaves the connection
//     plaintext, as upstream does;
//   - KAFKA_CERT_LOCATION becomes ssl.ca.location whenever TLS is in use.
func configMap(cfg config.Kafka, clientID string) (ckafka.ConfigMap, error) {
	brokers := strings.TrimSpace(cfg.Brokers)
	if brokers == "" {
		return nil, errors.New("KAFKA_BROKERS is empty")
	}
	if strings.TrimSpace(cfg.Group) == "" {
		return nil, errors.New("KAFKA_GROUP is empty")
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("KAFKA_TOPIC names no topic")
	}
	for _, t := range cfg.Topics {
		if strings.TrimSpace(t) == "" {
			return nil, errors.New("KAFKA_TOPIC contains an empty topic name")
		}
	}
	switch cfg.OffsetReset {
	case "earliest", "latest":
	default:
		return nil, fmt.Errorf("KAFKA_OFFSET_RESET %q: want earliest or latest", cfg.OffsetReset)
	}

	m := ckafka.ConfigMap{
		"bootstrap.servers":         brokers,
		"group.id":                  cfg.Group,
		"client.id":                 clientID,
		"auto.offset.reset":         cfg.OffsetReset,
		"enable.auto.commit":        false,
		"enable.auto.offset.store":  false,
		"enable.partition.eof":      false,
		"session.timeout.ms":        sessionTimeoutMs,
		"heartbeat.interval.ms":     sessionTimeoutMs / 4,
		"max.partition.fetch.bytes": maxPartitionFetchBytes,
		"fetch.max.bytes":           fetchMaxBytes,
		"receive.message.max.bytes": receiveMessageMaxBytes,
	}

	protocol := strings.ToUpper(strings.TrimSpace(cfg.SecurityProtocol))
	switch protocol {
	case protoPlaintext, protoSSL, protoSASLPlaintext, protoSASLSSL:
	default:
		return nil, fmt.Errorf("KAFKA_SECURITY_PROTOCOL %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", cfg.SecurityProtocol)
	}

	password := cfg.Password.Reveal()
	useTLS := false
	switch {
	case cfg.Username != "" && password != "":
		m["security.protocol"] = protocol
		if protocol == protoSASLPlaintext || protocol == protoSASLSSL {
			mech := strings.TrimSpace(cfg.SASLMechanism)
			if mech == "" {
				return nil, errors.New("KAFKA_SASL_MECHANISM is empty")
			}
			m["sasl.mechanism"] = mech
			m["sasl.username"] = cfg.Username
			m["sasl.password"] = password
		}
		useTLS = protocol == protoSSL || protocol == protoSASLSSL
	case protocol == protoSSL:
		m["security.protocol"] = protoSSL
		useTLS = true
	}
	if useTLS && strings.TrimSpace(cfg.CertLocation) != "" {
		m["ssl.ca.location"] = cfg.CertLocation
	}
	return m, nil
}
