package config

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(kv map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := kv[name]
		return v, ok
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	require.NoError(t, err)

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"SCOUTER_ENV", c.Env, EnvDevelopment},
		{"SCOUTER_SERVER_PORT", c.Server.HTTPPort, 8000},
		{"metrics port", c.Server.MetricsPort(), 8001},
		{"SCOUTER_GRPC_PORT", c.Server.GRPCPort, 50051},
		{"SHUTDOWN_TIMEOUT_SECONDS", c.Server.ShutdownTimeout, 30 * time.Second},
		{"SCOUTER_MAX_BODY_BYTES", c.Server.MaxBodyBytes, int64(32 << 20)},
		{"LOG_LEVEL", c.Log.Level, slog.LevelInfo},
		{"LOG_JSON", c.Log.JSON, false},
		{"DATABASE_URI", c.Database.URI.Reveal(), "postgresql://postgres:postgres@localhost:5432/postgres"},
		{"MAX_POOL_SIZE", c.Database.MaxPoolSize, int32(200)},
		{"MIN_POOL_SIZE", c.Database.MinPoolSize, int32(20)},
		{"DB_ACQUIRE_TIMEOUT_SECONDS", c.Database.AcquireTimeout, 10 * time.Second},
		{"DB_IDLE_TIMEOUT_SECONDS", c.Database.IdleTimeout, 300 * time.Second},
		{"DB_MAX_LIFETIME_SECONDS", c.Database.MaxLifetime, 1800 * time.Second},
		{"DB_TEST_BEFORE_ACQUIRE", c.Database.TestBeforeAcquire, true},
		{"DATA_RETENTION_PERIOD", c.Database.RetentionDays, 30},
		{"ENTITY_CACHE_MAX_SIZE", c.Database.EntityCacheMaxSize, 1000},
		{"TRACE_FLUSH_INTERVAL_SECONDS", c.Trace.FlushInterval, 15 * time.Second},
		{"TRACE_STALE_THRESHOLD_SECONDS", c.Trace.StaleThreshold, 30 * time.Second},
		{"TRACE_CACHE_MAX_SIZE", c.Trace.CacheMaxSize, 10000},
		{"TRACE_DATA_RETENTION_PERIOD", c.Trace.RetentionDays, 365},
		{"POLLING_WORKER_COUNT", c.Polling.WorkerCount, 4},
		{"MAX_RETRIES", c.Polling.MaxRetries, 3},
		{"GENAI_WORKER_COUNT", c.GenAI.WorkerCount, 2},
		{"GENAI_MAX_RETRIES", c.GenAI.MaxRetries, 3},
		{"GENAI_TRACE_WAIT_TIMEOUT_SECS", c.GenAI.TraceWaitTimeout, 10 * time.Second},
		{"GENAI_TRACE_BACKOFF_MILLIS", c.GenAI.TraceBackoff, 100 * time.Millisecond},
		{"GENAI_TRACE_RESCHEDULE_DELAY_SECS", c.GenAI.TraceRescheduleDelay, 30 * time.Second},
		{"HTTP_CONSUMER_WORKER_COUNT", c.HTTPQueue.WorkerCount, DefaultIngestWriters},
		{"KAFKA_BROKERS (disabled)", c.Kafka == nil, true},
		{"RABBITMQ_ADDR (disabled)", c.RabbitMQ == nil, true},
		{"REDIS_ADDR (disabled)", c.Redis == nil, true},
		{"SCOUTER_ENCRYPT_SECRET", c.Auth.EncryptSecret.Reveal(), DefaultDevSecret},
		{"SCOUTER_REFRESH_SECRET", c.Auth.RefreshSecret.Reveal(), DefaultDevSecret},
		{"SCOUTER_BOOTSTRAP_KEY", c.Auth.BootstrapKey.Reveal(), DefaultDevSecret},
		{"unset secrets", c.Auth.Unset, []string{"SCOUTER_ENCRYPT_SECRET", "SCOUTER_REFRESH_SECRET", "SCOUTER_BOOTSTRAP_KEY"}},
		{"SCOUTER_DEFAULT_USERNAME", c.Auth.DefaultUsername, "admin"},
		{"SCOUTER_DEFAULT_PASSWORD", c.Auth.DefaultPassword.Reveal(), "admin"},
		{"SCOUTER_LOGIN_MAX_FAILURES", c.Auth.LoginMaxFailures, 10},
		{"SCOUTER_LOGIN_WINDOW_SECONDS", c.Auth.LoginWindow, 5 * time.Minute},
		{"SCOUTER_LOGIN_LOCKOUT_SECONDS", c.Auth.LoginLockout, 5 * time.Minute},
		{"SCOUTER_STORAGE_URI", c.Storage.URI, "./scouter_storage"},
		{"AWS_REGION", c.Storage.AWSRegion, "us-east-1"},
		{"GOOGLE_ACCOUNT_JSON_BASE64", c.Storage.GoogleAccountJSONBase64.Reveal(), ""},
		{"SLACK_APP_TOKEN", c.Alerting.SlackAppToken.Reveal(), ""},
		{"SLACK_API_URL", c.Alerting.SlackAPIURL, ""},
		{"OPSGENIE_API_KEY", c.Alerting.OpsGenieAPIKey.Reveal(), ""},
		{"OPSGENIE_API_URL", c.Alerting.OpsGenieAPIURL, ""},
		{"TEMPORAL_ADDRESS", c.Temporal.Address, "127.0.0.1:7233"},
		{"TEMPORAL_NAMESPACE", c.Temporal.Namespace, "default"},
		{"TEMPORAL_TASK_QUEUE", c.Temporal.TaskQueue, "scouter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

func TestTransportDefaultsWhenEnabled(t *testing.T) {
	c, err := Load(env(map[string]string{
		"KAFKA_BROKERS": "localhost:9092",
		"RABBITMQ_ADDR": "amqp://guest:guest@127.0.0.1:5672/%2f",
		"REDIS_ADDR":    "redis://127.0.0.1:6379",
	}))
	require.NoError(t, err)
	require.NotNil(t, c.Kafka)
	assert.Equal(t, 3, c.Kafka.WorkerCount)
	assert.Equal(t, DefaultKafkaMaxInFlight, c.Kafka.MaxInFlight)
	assert.Equal(t, []string{"scouter_monitoring"}, c.Kafka.Topics)
	assert.Equal(t, "scouter", c.Kafka.Group)
	assert.Equal(t, "earliest", c.Kafka.OffsetReset)
	assert.Equal(t, "SASL_SSL", c.Kafka.SecurityProtocol)
	assert.Equal(t, "PLAIN", c.Kafka.SASLMechanism)
	assert.Empty(t, c.Kafka.Username)
	assert.Empty(t, c.Kafka.CertLocation)
	require.NotNil(t, c.RabbitMQ)
	assert.Equal(t, 3, c.RabbitMQ.ConsumerCount)
	assert.Equal(t, 10, c.RabbitMQ.PrefetchCount)
	assert.Equal(t, "scouter_monitoring", c.RabbitMQ.Queue)
	assert.Equal(t, "scouter", c.RabbitMQ.ConsumerTag)
	require.NotNil(t, c.Redis)
	assert.Equal(t, 3, c.Redis.ConsumerCount)
	assert.Equal(t, "scouter_monitoring", c.Redis.Channel)
}

func TestKafkaTopicList(t *testing.T) {
	c, err := Load(env(map[string]string{"KAFKA_BROKERS": "a:9092,b:9092", "KAFKA_TOPIC": " t1, t2 ,,t3"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"t1", "t2", "t3"}, c.Kafka.Topics)
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantVar  string
		wantText string
	}{
		{"port not a number", map[string]string{"SCOUTER_SERVER_PORT": "http"}, "SCOUTER_SERVER_PORT", "whole number from 1 to 65534"},
		{"grpc port out of range", map[string]string{"SCOUTER_GRPC_PORT": "70000"}, "SCOUTER_GRPC_PORT", "from 1 to 65535"},
		{"grpc port equals metrics port", map[string]string{"SCOUTER_GRPC_PORT": "8001"}, "SCOUTER_GRPC_PORT", "metrics port"},
		{"shutdown timeout zero", map[string]string{"SHUTDOWN_TIMEOUT_SECONDS": "0"}, "SHUTDOWN_TIMEOUT_SECONDS", "from 1"},
		{"body limit tiny", map[string]string{"SCOUTER_MAX_BODY_BYTES": "10"}, "SCOUTER_MAX_BODY_BYTES", "from 1024"},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL", "want one of"},
		{"log json", map[string]string{"LOG_JSON": "maybe"}, "LOG_JSON", "want true or false"},
		{"database uri", map[string]string{"DATABASE_URI": "postgres://user:pw@host:notaport/db"}, "DATABASE_URI", "connection string"},
		{"database uri empty", map[string]string{"DATABASE_URI": ""}, "DATABASE_URI", "connection string"},
		{"max pool abc", map[string]string{"MAX_POOL_SIZE": "abc"}, "MAX_POOL_SIZE", "whole number"},
		{"min pool above max", map[string]string{"MAX_POOL_SIZE": "5", "MIN_POOL_SIZE": "6"}, "MIN_POOL_SIZE", "must not exceed MAX_POOL_SIZE (5)"},
		{"min pool negative", map[string]string{"MIN_POOL_SIZE": "-1"}, "MIN_POOL_SIZE", "from 0"},
		{"acquire timeout", map[string]string{"DB_ACQUIRE_TIMEOUT_SECONDS": "1.5"}, "DB_ACQUIRE_TIMEOUT_SECONDS", "whole number"},
		{"idle timeout", map[string]string{"DB_IDLE_TIMEOUT_SECONDS": "-3"}, "DB_IDLE_TIMEOUT_SECONDS", "whole number"},
		{"max lifetime", map[string]string{"DB_MAX_LIFETIME_SECONDS": "x"}, "DB_MAX_LIFETIME_SECONDS", "whole number"},
		{"test before acquire", map[string]string{"DB_TEST_BEFORE_ACQUIRE": "2"}, "DB_TEST_BEFORE_ACQUIRE", "true or false"},
		{"retention", map[string]string{"DATA_RETENTION_PERIOD": "0"}, "DATA_RETENTION_PERIOD", "from 1"},
		{"trace flush", map[string]string{"TRACE_FLUSH_INTERVAL_SECONDS": "-1"}, "TRACE_FLUSH_INTERVAL_SECONDS", "whole number"},
		{"trace stale", map[string]string{"TRACE_STALE_THRESHOLD_SECONDS": "soon"}, "TRACE_STALE_THRESHOLD_SECONDS", "whole number"},
		{"trace cache", map[string]string{"TRACE_CACHE_MAX_SIZE": "0"}, "TRACE_CACHE_MAX_SIZE", "from 1"},
		{"trace retention", map[string]string{"TRACE_DATA_RETENTION_PERIOD": "0"}, "TRACE_DATA_RETENTION_PERIOD", "from 1"},
		{"entity cache", map[string]string{"ENTITY_CACHE_MAX_SIZE": "-5"}, "ENTITY_CACHE_MAX_SIZE", "whole number"},
		{"polling workers", map[string]string{"POLLING_WORKER_COUNT": "-1"}, "POLLING_WORKER_COUNT", "from 1"},
		{"max retries", map[string]string{"MAX_RETRIES": "-1"}, "MAX_RETRIES", "from 0"},
		{"genai workers", map[string]string{"GENAI_WORKER_COUNT": "0"}, "GENAI_WORKER_COUNT", "from 1"},
		{"genai retries", map[string]string{"GENAI_MAX_RETRIES": "many"}, "GENAI_MAX_RETRIES", "whole number"},
		{"genai wait", map[string]string{"GENAI_TRACE_WAIT_TIMEOUT_SECS": "-1"}, "GENAI_TRACE_WAIT_TIMEOUT_SECS", "whole number"},
		{"genai backoff", map[string]string{"GENAI_TRACE_BACKOFF_MILLIS": "0"}, "GENAI_TRACE_BACKOFF_MILLIS", "from 1"},
		{"genai reschedule", map[string]string{"GENAI_TRACE_RESCHEDULE_DELAY_SECS": "x"}, "GENAI_TRACE_RESCHEDULE_DELAY_SECS", "whole number"},
		{"http workers", map[string]string{"HTTP_CONSUMER_WORKER_COUNT": "0"}, "HTTP_CONSUMER_WORKER_COUNT", "from 1"},
		{"kafka brokers empty", map[string]string{"KAFKA_BROKERS": ""}, "KAFKA_BROKERS", "host:port"},
		{"kafka workers", map[string]string{"KAFKA_WORKER_COUNT": "-2"}, "KAFKA_WORKER_COUNT", "whole number"},
		{"kafka in flight", map[string]string{"KAFKA_BROKERS": "k:9092", "KAFKA_MAX_IN_FLIGHT": "0"}, "KAFKA_MAX_IN_FLIGHT", "from 1"},
		{"kafka topic empty", map[string]string{"KAFKA_BROKERS": "k:9092", "KAFKA_TOPIC": " , "}, "KAFKA_TOPIC", "at least one topic"},
		{"kafka offset reset", map[string]string{"KAFKA_OFFSET_RESET": "middle"}, "KAFKA_OFFSET_RESET", "earliest, latest"},
		{"kafka protocol", map[string]string{"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL", "want one of"},
		{"kafka mechanism", map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM", "want one of"},
		{"rabbit addr", map[string]string{"RABBITMQ_ADDR": "http://x"}, "RABBITMQ_ADDR", "amqp, amqps"},
		{"rabbit consumers", map[string]string{"RABBITMQ_CONSUMER_COUNT": "0"}, "RABBITMQ_CONSUMER_COUNT", "from 1"},
		{"rabbit prefetch", map[string]string{"RABBITMQ_PREFETCH_COUNT": "100000"}, "RABBITMQ_PREFETCH_COUNT", "to 65535"},
		{"rabbit queue", map[string]string{"RABBITMQ_ADDR": "amqp://h", "RABBITMQ_QUEUE": ""}, "RABBITMQ_QUEUE", "must not be empty"},
		{"redis addr", map[string]string{"REDIS_ADDR": "127.0.0.1:6379"}, "REDIS_ADDR", "redis, rediss"},
		{"redis consumers", map[string]string{"REDIS_CONSUMER_COUNT": "x"}, "REDIS_CONSUMER_COUNT", "whole number"},
		{"redis channel", map[string]string{"REDIS_ADDR": "redis://h:1", "REDIS_CHANNEL": ""}, "REDIS_CHANNEL", "must not be empty"},
		{"storage uri", map[string]string{"SCOUTER_STORAGE_URI": " "}, "SCOUTER_STORAGE_URI", "local path"},
		{"slack url", map[string]string{"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL", "http, https"},
		{"opsgenie url", map[string]string{"OPSGENIE_API_URL": "ftp://x"}, "OPSGENIE_API_URL", "http, https"},
		{"temporal address", map[string]string{"TEMPORAL_ADDRESS": "http://localhost:7233"}, "TEMPORAL_ADDRESS", "host:port"},
		{"temporal namespace", map[string]string{"TEMPORAL_NAMESPACE": ""}, "TEMPORAL_NAMESPACE", "must not be empty"},
		{"temporal queue", map[string]string{"TEMPORAL_TASK_QUEUE": ""}, "TEMPORAL_TASK_QUEUE", "must not be empty"},
		{"env", map[string]string{"SCOUTER_ENV": "staging"}, "SCOUTER_ENV", "development, production"},
		{"default username", map[string]string{"SCOUTER_DEFAULT_USERNAME": ""}, "SCOUTER_DEFAULT_USERNAME", "must not be empty"},
		{"default password", map[string]string{"SCOUTER_DEFAULT_PASSWORD": ""}, "SCOUTER_DEFAULT_PASSWORD", "must not be empty"},
		{"login failures", map[string]string{"SCOUTER_LOGIN_MAX_FAILURES": "0"}, "SCOUTER_LOGIN_MAX_FAILURES", "from 1"},
		{"login window", map[string]string{"SCOUTER_LOGIN_WINDOW_SECONDS": "x"}, "SCOUTER_LOGIN_WINDOW_SECONDS", "whole number"},
		{"login lockout", map[string]string{"SCOUTER_LOGIN_LOCKOUT_SECONDS": "0"}, "SCOUTER_LOGIN_LOCKOUT_SECONDS", "from 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, 1, "one bad variable must give exactly one line, got %q", err.Error())
			assert.True(t, strings.HasPrefix(lines[0], tt.wantVar+"="), "got %q, want it to start with %s=", lines[0], tt.wantVar)
			assert.Contains(t, lines[0], tt.wantText)
		})
	}
}

func TestEveryProblemReported(t *testing.T) {
	_, err := Load(env(map[string]string{"MAX_POOL_SIZE": "abc", "SCOUTER_SERVER_PORT": "x", "LOG_JSON": "?"}))
	require.Error(t, err)
	assert.Len(t, strings.Split(err.Error(), "\n"), 3)
}

func TestDatabaseURIErrorHidesPassword(t *testing.T) {
	_, err := Load(env(map[string]string{"DATABASE_URI": "postgres://u:hunter2@h:badport/db"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestKeyValueDatabaseURI(t *testing.T) {
	c, err := Load(env(map[string]string{"DATABASE_URI": "host=127.0.0.1 port=5432 user=postgres dbname=scouter"}))
	require.NoError(t, err)
	assert.Equal(t, "host=127.0.0.1 port=5432 user=postgres dbname=scouter", c.Database.URI.Reveal())
}

func TestProductionSecrets(t *testing.T) {
	strong := func(c byte) string { return strings.Repeat(string(c), 40) }
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{"all unset", map[string]string{}, []string{"SCOUTER_ENCRYPT_SECRET", "SCOUTER_REFRESH_SECRET", "SCOUTER_BOOTSTRAP_KEY"}},
		{"public default", map[string]string{"SCOUTER_ENCRYPT_SECRET": DefaultDevSecret, "SCOUTER_REFRESH_SECRET": strong('r'), "SCOUTER_BOOTSTRAP_KEY": strong('b')}, []string{"SCOUTER_ENCRYPT_SECRET"}},
		{"too short", map[string]string{"SCOUTER_ENCRYPT_SECRET": strong('e'), "SCOUTER_REFRESH_SECRET": "short", "SCOUTER_BOOTSTRAP_KEY": strong('b')}, []string{"SCOUTER_REFRESH_SECRET"}},
		{"equal", map[string]string{"SCOUTER_ENCRYPT_SECRET": strong('e'), "SCOUTER_REFRESH_SECRET": strong('e'), "SCOUTER_BOOTSTRAP_KEY": strong('b')}, []string{"SCOUTER_REFRESH_SECRET"}},
		{"good", map[string]string{"SCOUTER_ENCRYPT_SECRET": strong('e'), "SCOUTER_REFRESH_SECRET": strong('r'), "SCOUTER_BOOTSTRAP_KEY": strong('b')}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["SCOUTER_ENV"] = "production"
			_, err := Load(env(tt.env))
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tt.wantErr), "got %q", err.Error())
			for i, name := range tt.wantErr {
				assert.True(t, strings.HasPrefix(lines[i], name+"="), "got %q, want %s", lines[i], name)
				assert.NotContains(t, lines[i], DefaultDevSecret)
			}
		})
	}
	// Outside production the defaults are accepted (the server warns).
	c, err := Load(env(map[string]string{"SCOUTER_REFRESH_SECRET": "short"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"SCOUTER_ENCRYPT_SECRET", "SCOUTER_BOOTSTRAP_KEY"}, c.Auth.Unset)
}

func TestFormatMasksSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DATABASE_URI":           "postgres://u:hunter2@h:5432/db",
		"SCOUTER_ENCRYPT_SECRET": "topsecret-topsecret-topsecret-42",
		"SLACK_APP_TOKEN":        "xoxb-secret",
		"RABBITMQ_ADDR":          "amqp://guest:rabbitpw@127.0.0.1:5672/%2f",
		"MAX_POOL_SIZE":          "50",
	}))
	require.NoError(t, err)
	out := c.Format()
	for _, secret := range []string{"hunter2", "topsecret", "xoxb-secret", "rabbitpw", DefaultDevSecret} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, out, "MAX_POOL_SIZE=50\n")
	assert.Contains(t, out, "MIN_POOL_SIZE=20  (default)\n")
	assert.Contains(t, out, "SCOUTER_REFRESH_SECRET=****  (public development default)\n")
	assert.Contains(t, out, "SLACK_APP_TOKEN=****\n")
	assert.NotContains(t, fmt.Sprint(c.Database.URI), "hunter2")
	assert.Equal(t, "postgres://u:%2A%2A%2A%2A@h:5432/db", c.DatabaseURIRedacted())
}
