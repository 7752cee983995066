// Package config holds the server's and worker's configuration, read once
// from the environment at start-up with upstream Scouter's variable names and
// defaults, validated in one place and passed down explicitly.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// DefaultDevSecret is upstream's public development secret (base64 of the
// bytes 31..0). It is used for the JWT and bootstrap keys when they are unset.
const DefaultDevSecret = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="

// Environments accepted by SCOUTER_ENV.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is the whole configuration. Build it with Load.
type Config struct {
	// Env is SCOUTER_ENV: development (default) or production. Production
	// refuses weak secrets.
	Env string

	Server    Server
	Log       Log
	Database  Database
	Trace     Trace
	Polling   Polling
	GenAI     GenAI
	HTTPQueue HTTPQueue
	Kafka     *Kafka    // nil unless KAFKA_BROKERS is set
	RabbitMQ  *RabbitMQ // nil unless RABBITMQ_ADDR is set
	Redis     *Redis    // nil unless REDIS_ADDR is set
	Auth      Auth
	Storage   Storage
	Alerting  Alerting
	Temporal  Temporal

	vars []Var
}

// Server holds the listener settings.
type Server struct {
	HTTPPort        int // SCOUTER_SERVER_PORT; metrics are served on HTTPPort+1
	GRPCPort        int // SCOUTER_GRPC_PORT
	ShutdownTimeout time.Duration
	MaxBodyBytes    int64 // SCOUTER_MAX_BODY_BYTES: largest accepted request body
}

// MetricsPort is the Prometheus port, one above the HTTP port as upstream.
func (s Server) MetricsPort() int { return s.HTTPPort + 1 }

// Log holds the logging settings.
type Log struct {
	Level slog.Level
	JSON  bool
}

// Database holds the pool and data-retention settings.
type Database struct {
	URI                Secret
	MaxPoolSize        int32
	MinPoolSize        int32
	AcquireTimeout     time.Duration
	IdleTimeout        time.Duration
	MaxLifetime        time.Duration
	TestBeforeAcquire  bool
	RetentionDays      int // DATA_RETENTION_PERIOD: archive threshold
	EntityCacheMaxSize int
}

// Trace holds the trace aggregation settings.
type Trace struct {
	FlushInterval  time.Duration
	StaleThreshold time.Duration
	CacheMaxSize   int
	RetentionDays  int
}

// Polling holds the drift-check settings.
type Polling struct {
	WorkerCount int // bounds concurrent drift activities on the worker
	MaxRetries  int // activity attempts = 1 + MaxRetries
}

// GenAI holds the evaluation settings.
type GenAI struct {
	WorkerCount          int
	MaxRetries           int
	TraceWaitTimeout     time.Duration
	TraceBackoff         time.Duration
	TraceRescheduleDelay time.Duration
}

// HTTPQueue holds the HTTP/gRPC ingest writer settings.
type HTTPQueue struct {
	WorkerCount int
}

// DefaultIngestWriters is HTTP_CONSUMER_WORKER_COUNT's default. Upstream's
// is 1; here the variable counts the ingest pipeline's writers, which every
// transport shares, and two transactions in flight let Postgres use two
// cores (measured: 0.52x -> 0.61x of COPY for HTTP on two cores).
const DefaultIngestWriters = 2

// DefaultKafkaMaxInFlight is KAFKA_MAX_IN_FLIGHT's default: enough messages
// per group member for the ingest pipeline to commit large batches.
const DefaultKafkaMaxInFlight = 64

// Kafka holds the Kafka consumer settings.
type Kafka struct {
	Brokers          string
	WorkerCount      int
	MaxInFlight      int // messages each member keeps in flight
	Topics           []string
	Group            string
	OffsetReset      string
	Username         string
	Password         Secret
	SecurityProtocol string // applied only with Username and Password
	SASLMechanism    string
	CertLocation     string
}

// RabbitMQ holds the RabbitMQ consumer settings.
type RabbitMQ struct {
	Addr          Secret // may embed a password
	ConsumerCount int
	PrefetchCount int
	Queue         string
	ConsumerTag   string
}

// Redis holds the Redis Pub/Sub consumer settings.
type Redis struct {
	Addr          Secret
	ConsumerCount int
	Channel       string
}

// Auth holds the secrets and first-start users.
type Auth struct {
	EncryptSecret Secret
	RefreshSecret Secret
	BootstrapKey  Secret
	// Unset names the secret variables that were not set (so the default
	// development secret is in use).
	Unset           []string
	DefaultUsername string
	DefaultPassword Secret

	LoginMaxFailures int
	LoginWindow      time.Duration
	LoginLockout     time.Duration
}

// Storage holds the archive object-store settings.
type Storage struct {
	URI                     string
	AWSRegion               string
	GoogleAccountJSONBase64 Secret
}

// Alerting holds the alert channel settings.
type Alerting struct {
	SlackAppToken  Secret
	SlackAPIURL    string
	OpsGenieAPIKey Secret
	OpsGenieAPIURL string
}

// Temporal holds the orchestration settings.
type Temporal struct {
	Address   string
	Namespace string
	TaskQueue string
}

// Var is one variable as read: its effective value and whether it was set.
type Var struct {
	Name   string
	Value  string
	Secret bool
	Set    bool
}

// Secret is a string that never prints its value.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "****"
}

// LogValue masks the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText masks the value in encoded output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Load reads and validates the configuration. The error lists every bad
// variable, one line each, with the value and what is accepted.
func Load(lookup Lookup) (*Config, error) {
	l := &loader{lookup: lookup}
	c := &Config{}

	c.Env = l.oneOf("SCOUTER_ENV", EnvDevelopment, EnvDevelopment, EnvProduction)

	c.Server.HTTPPort = l.integer("SCOUTER_SERVER_PORT", 8000, 1, 65534)
	c.Server.GRPCPort = l.integer("SCOUTER_GRPC_PORT", 50051, 1, 65535)
	c.Server.ShutdownTimeout = l.seconds("SHUTDOWN_TIMEOUT_SECONDS", 30, 1, 3600)
	c.Server.MaxBodyBytes = int64(l.integer("SCOUTER_MAX_BODY_BYTES", 32<<20, 1024, 1<<30))
	if c.Server.HTTPPort+1 == c.Server.GRPCPort {
		l.fail("SCOUTER_GRPC_PORT", fmt.Sprint(c.Server.GRPCPort), "must differ from the metrics port SCOUTER_SERVER_PORT+1")
	}
	if c.Server.HTTPPort == c.Server.GRPCPort {
		l.fail("SCOUTER_GRPC_PORT", fmt.Sprint(c.Server.GRPCPort), "must differ from SCOUTER_SERVER_PORT")
	}

	switch l.oneOf("LOG_LEVEL", "info", "trace", "debug", "info", "warn", "warning", "error") {
	case "trace", "debug":
		c.Log.Level = slog.LevelDebug
	case "warn", "warning":
		c.Log.Level = slog.LevelWarn
	case "error":
		c.Log.Level = slog.LevelError
	default:
		c.Log.Level = slog.LevelInfo
	}
	c.Log.JSON = l.boolean("LOG_JSON", false)

	c.Database.URI = l.secret("DATABASE_URI", "postgresql://postgres:postgres@localhost:5432/postgres")
	l.checkDatabaseURI("DATABASE_URI", c.Database.URI.Reveal())
	c.Database.MaxPoolSize = int32(l.integer("MAX_POOL_SIZE", 200, 1, 10000))
	c.Database.MinPoolSize = int32(l.integer("MIN_POOL_SIZE", 20, 0, 10000))
	if c.Database.MinPoolSize > c.Database.MaxPoolSize {
		l.fail("MIN_POOL_SIZE", fmt.Sprint(c.Database.MinPoolSize),
			fmt.Sprintf("must not exceed MAX_POOL_SIZE (%d)", c.Database.MaxPoolSize))
	}
	c.Database.AcquireTimeout = l.seconds("DB_ACQUIRE_TIMEOUT_SECONDS", 10, 1, 3600)
	c.Database.IdleTimeout = l.seconds("DB_IDLE_TIMEOUT_SECONDS", 300, 1, 86400)
	c.Database.MaxLifetime = l.seconds("DB_MAX_LIFETIME_SECONDS", 1800, 1, 7*86400)
	c.Database.TestBeforeAcquire = l.boolean("DB_TEST_BEFORE_ACQUIRE", true)
	c.Database.RetentionDays = l.integer("DATA_RETENTION_PERIOD", 30, 1, 36500)
	c.Database.EntityCacheMaxSize = l.integer("ENTITY_CACHE_MAX_SIZE", 1000, 1, 10_000_000)

	c.Trace.FlushInterval = l.seconds("TRACE_FLUSH_INTERVAL_SECONDS", 15, 1, 86400)
	c.Trace.StaleThreshold = l.seconds("TRACE_STALE_THRESHOLD_SECONDS", 30, 1, 86400)
	c.Trace.CacheMaxSize = l.integer("TRACE_CACHE_MAX_SIZE", 10000, 1, 100_000_000)
	c.Trace.RetentionDays = l.integer("TRACE_DATA_RETENTION_PERIOD", 365, 1, 36500)

	c.Polling.WorkerCount = l.integer("POLLING_WORKER_COUNT", 4, 1, 1000)
	c.Polling.MaxRetries = l.integer("MAX_RETRIES", 3, 0, 100)

	c.GenAI.WorkerCount = l.integer("GENAI_WORKER_COUNT", 2, 1, 1000)
	c.GenAI.MaxRetries = l.integer("GENAI_MAX_RETRIES", 3, 0, 100)
	c.GenAI.TraceWaitTimeout = l.seconds("GENAI_TRACE_WAIT_TIMEOUT_SECS", 10, 0, 86400)
	c.GenAI.TraceBackoff = l.millis("GENAI_TRACE_BACKOFF_MILLIS", 100, 1, 3_600_000)
	c.GenAI.TraceRescheduleDelay = l.seconds("GENAI_TRACE_RESCHEDULE_DELAY_SECS", 30, 0, 86400)

	c.HTTPQueue.WorkerCount = l.integer("HTTP_CONSUMER_WORKER_COUNT", DefaultIngestWriters, 1, 1000)

	c.Kafka = loadKafka(l)
	c.RabbitMQ = loadRabbitMQ(l)
	c.Redis = loadRedis(l)

	c.Auth = loadAuth(l, c.Env)

	c.Storage.URI = l.str("SCOUTER_STORAGE_URI", "./scouter_storage")
	if strings.TrimSpace(c.Storage.URI) == "" {
		l.fail("SCOUTER_STORAGE_URI", c.Storage.URI, "want a local path or an s3://, gs://, az:// or file:// URI")
	}
	c.Storage.AWSRegion = l.str("AWS_REGION", "us-east-1")
	c.Storage.GoogleAccountJSONBase64 = l.secret("GOOGLE_ACCOUNT_JSON_BASE64", "")

	c.Alerting.SlackAppToken = l.secret("SLACK_APP_TOKEN", "")
	c.Alerting.SlackAPIURL = l.str("SLACK_API_URL", "")
	if c.Alerting.SlackAPIURL != "" {
		l.checkURL("SLACK_API_URL", c.Alerting.SlackAPIURL, "http", "https")
	}
	c.Alerting.OpsGenieAPIKey = l.secret("OPSGENIE_API_KEY", "")
	c.Alerting.OpsGenieAPIURL = l.str("OPSGENIE_API_URL", "")
	if c.Alerting.OpsGenieAPIURL != "" {
		l.checkURL("OPSGENIE_API_URL", c.Alerting.OpsGenieAPIURL, "http", "https")
	}

	c.Temporal.Address = l.str("TEMPORAL_ADDRESS", "127.0.0.1:7233")
	if !strings.Contains(c.Temporal.Address, ":") || strings.Contains(c.Temporal.Address, "://") {
		l.fail("TEMPORAL_ADDRESS", c.Temporal.Address, "want host:port")
	}
	c.Temporal.Namespace = nonEmpty(l, "TEMPORAL_NAMESPACE", "default")
	c.Temporal.TaskQueue = nonEmpty(l, "TEMPORAL_TASK_QUEUE", "scouter")

	c.vars = l.vars
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return c, nil
}

func nonEmpty(l *loader, name, def string) string {
	v := l.str(name, def)
	if strings.TrimSpace(v) == "" {
		l.fail(name, v, "must not be empty")
		return def
	}
	return v
}

func loadKafka(l *loader) *Kafka {
	brokers, on := l.optional("KAFKA_BROKERS", false)
	k := &Kafka{Brokers: brokers}
	k.WorkerCount = l.integer("KAFKA_WORKER_COUNT", 3, 1, 1000)
	k.MaxInFlight = l.integer("KAFKA_MAX_IN_FLIGHT", DefaultKafkaMaxInFlight, 1, 100_000)
	for _, t := range strings.Split(l.str("KAFKA_TOPIC", "scouter_monitoring"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			k.Topics = append(k.Topics, t)
		}
	}
	k.Group = l.str("KAFKA_GROUP", "scouter")
	k.OffsetReset = l.oneOf("KAFKA_OFFSET_RESET", "earliest", "earliest", "latest")
	user, _ := l.optional("KAFKA_USERNAME", false)
	pass, _ := l.optional("KAFKA_PASSWORD", true)
	k.Username, k.Password = user, Secret(pass)
	k.SecurityProtocol = l.oneOf("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "SASL_SSL", "SASL_PLAINTEXT", "SSL", "PLAINTEXT")
	k.SASLMechanism = l.oneOf("KAFKA_SASL_MECHANISM", "PLAIN", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
	k.CertLocation, _ = l.optional("KAFKA_CERT_LOCATION", false)
	if !on {
		return nil
	}
	if strings.TrimSpace(brokers) == "" {
		l.fail("KAFKA_BROKERS", brokers, "want a comma-separated host:port list (unset it to disable Kafka)")
	}
	if len(k.Topics) == 0 {
		l.fail("KAFKA_TOPIC", "", "want at least one topic")
	}
	return k
}

func loadRabbitMQ(l *loader) *RabbitMQ {
	addr, on := l.optional("RABBITMQ_ADDR", true)
	r := &RabbitMQ{Addr: Secret(addr)}
	r.ConsumerCount = l.integer("RABBITMQ_CONSUMER_COUNT", 3, 1, 1000)
	r.PrefetchCount = l.integer("RABBITMQ_PREFETCH_COUNT", 10, 1, 65535)
	r.Queue = l.str("RABBITMQ_QUEUE", "scouter_monitoring")
	r.ConsumerTag = l.str("RABBITMQ_CONSUMER_TAG", "scouter")
	if !on {
		return nil
	}
	l.checkURL("RABBITMQ_ADDR", redactURI(addr), "amqp", "amqps")
	if strings.TrimSpace(r.Queue) == "" {
		l.fail("RABBITMQ_QUEUE", r.Queue, "must not be empty")
	}
	return r
}

func loadRedis(l *loader) *Redis {
	addr, on := l.optional("REDIS_ADDR", true)
	r := &Redis{Addr: Secret(addr)}
	r.ConsumerCount = l.integer("REDIS_CONSUMER_COUNT", 3, 1, 1000)
	r.Channel = l.str("REDIS_CHANNEL", "scouter_monitoring")
	if !on {
		return nil
	}
	l.checkURL("REDIS_ADDR", redactURI(addr), "redis", "rediss", "unix")
	if strings.TrimSpace(r.Channel) == "" {
		l.fail("REDIS_CHANNEL", r.Channel, "must not be empty")
	}
	return r
}

func loadAuth(l *loader, env string) Auth {
	var a Auth
	read := func(name string) Secret {
		v, ok := l.raw(name)
		if !ok {
			a.Unset = append(a.Unset, name)
			v = DefaultDevSecret
		}
		l.record(name, v, true, ok)
		return Secret(v)
	}
	a.EncryptSecret = read("SCOUTER_ENCRYPT_SECRET")
	a.RefreshSecret = read("SCOUTER_REFRESH_SECRET")
	a.BootstrapKey = read("SCOUTER_BOOTSTRAP_KEY")
	a.DefaultUsername = nonEmpty(l, "SCOUTER_DEFAULT_USERNAME", "admin")
	a.DefaultPassword = l.secret("SCOUTER_DEFAULT_PASSWORD", "admin")
	if a.DefaultPassword == "" {
		l.fail("SCOUTER_DEFAULT_PASSWORD", "", "must not be empty")
	}
	a.LoginMaxFailures = l.integer("SCOUTER_LOGIN_MAX_FAILURES", 10, 1, 1_000_000)
	a.LoginWindow = l.seconds("SCOUTER_LOGIN_WINDOW_SECONDS", 300, 1, 86400)
	a.LoginLockout = l.seconds("SCOUTER_LOGIN_LOCKOUT_SECONDS", 300, 1, 86400)

	if env == EnvProduction {
		secrets := []struct {
			name  string
			value Secret
		}{
			{"SCOUTER_ENCRYPT_SECRET", a.EncryptSecret},
			{"SCOUTER_REFRESH_SECRET", a.RefreshSecret},
			{"SCOUTER_BOOTSTRAP_KEY", a.BootstrapKey},
		}
		for i, s := range secrets {
			switch {
			case s.value.Reveal() == DefaultDevSecret:
				l.fail(s.name, s.value.String(), "SCOUTER_ENV=production needs it set to a private value, not the public default (generate one with `openssl rand -base64 32`)")
			case len(s.value.Reveal()) < 32:
				l.fail(s.name, s.value.String(), "SCOUTER_ENV=production needs at least 32 bytes")
			}
			for _, o := range secrets[:i] {
				if s.value == o.value && s.value.Reveal() != DefaultDevSecret {
					l.fail(s.name, s.value.String(), "SCOUTER_ENV=production needs it to differ from "+o.name)
				}
			}
		}
	}
	return a
}

// Vars returns every variable read, in reading order, with its effective
// value. Secret values are masked.
func (c *Config) Vars() []Var {
	out := make([]Var, len(c.vars))
	for i, v := range c.vars {
		if v.Secret && v.Value != "" {
			v.Value = "****"
		}
		out[i] = v
	}
	return out
}

// Format renders the effective configuration as NAME=value lines, sorted by
// name, secrets masked; unset variables are marked "(default)".
func (c *Config) Format() string {
	vars := c.Vars()
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	var b strings.Builder
	for _, v := range vars {
		note := ""
		if !v.Set {
			note = "  (default)"
			if v.Value == "" {
				note = "  (unset)"
			}
		}
		if v.Secret && v.Value != "" && !v.Set {
			note = "  (public development default)"
		}
		fmt.Fprintf(&b, "%s=%s%s\n", v.Name, v.Value, note)
	}
	return b.String()
}

// LogValue lets a *Config be logged without leaking secrets.
func (c *Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(c.vars))
	for _, v := range c.Vars() {
		attrs = append(attrs, slog.String(v.Name, v.Value))
	}
	return slog.GroupValue(attrs...)
}

// DatabaseURIRedacted is the database URI with its password masked.
func (c *Config) DatabaseURIRedacted() string { return redactURI(c.Database.URI.Reveal()) }
