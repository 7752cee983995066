package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	amqp "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/scoutergo/server/internal/app"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/kafkatest"
	"github.com/scoutergo/server/internal/pgtest"
)

// Harness for the end-to-end ingest tests: a started server (RunServer on
// random ports, a fresh database) with an HTTP and a gRPC client, and the
// real brokers: an in-process Kafka-protocol broker (kfake), the local
// RabbitMQ and the local Redis.

// Local brokers, as the transport packages' tests use them.
const (
	e2eRabbitAddr = "amqp://guest:guest@127.0.0.1:5672/%2f"
	e2eRedisAddr  = "redis://127.0.0.1:6379"
)

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// e2eServer is a running server and authenticated clients of it.
type e2eServer struct {
	t        *testing.T
	base     string // http://127.0.0.1:<port>/scouter
	metrics  string // http://127.0.0.1:<port+1>/metrics
	grpcAddr string
	client   *http.Client
	token    string // admin's access token
	logs     *lockedBuffer
}

// startE2EServer runs the whole server on free ports against a fresh
// database, with env added to the configuration, waits until it answers and
// logs in as admin. The server stops when the test ends.
func startE2EServer(t *testing.T, env map[string]string) *e2eServer {
	t.Helper()
	httpPort, grpcPort := freePorts(t)
	vars := map[string]string{
		"DATABASE_URI":        pgtest.NewURI(t),
		"MIN_POOL_SIZE":       "1",
		"MAX_POOL_SIZE":       "8",
		"SCOUTER_SERVER_PORT": fmt.Sprint(httpPort),
		"SCOUTER_GRPC_PORT":   fmt.Sprint(grpcPort),
		"LOG_LEVEL":           "info",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(lookup(vars))
	require.NoError(t, err)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunServer(ctx, cfg, logger, app.ModeBoth) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "RunServer result")
		case <-time.After(30 * time.Second):
			t.Error("RunServer did not return")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	s := &e2eServer{
		t:        t,
		base:     fmt.Sprintf("http://127.0.0.1:%d/scouter", httpPort),
		metrics:  fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort+1),
		grpcAddr: fmt.Sprintf("127.0.0.1:%d", grpcPort),
		client:   &http.Client{Timeout: 30 * time.Second},
		logs:     logs,
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.client.Get(s.base + "/healthcheck")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("server stopped early: %v\n%s", err, logs.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "server never answered:\n%s", logs.String())
		time.Sleep(20 * time.Millisecond)
	}
	s.token = s.login("admin", "admin")
	return s
}

// login returns an HTTP access token.
func (s *e2eServer) login(user, password string) string {
	s.t.Helper()
	status, body, err := s.do(http.MethodGet, "/auth/login", nil, nil,
		http.Header{"Username": {user}, "Password": {password}})
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, status, string(body))
	var tok struct {
		Token string `json:"token"`
	}
	require.NoError(s.t, json.Unmarshal(body, &tok))
	require.NotEmpty(s.t, tok.Token)
	return tok.Token
}

// do sends one request. header nil means "admin's bearer token and a JSON
// content type".
func (s *e2eServer) do(method, path string, query url.Values, body io.Reader, header http.Header) (int, []byte, error) {
	u := s.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return 0, nil, err
	}
	if header == nil {
		header = s.authHeader(s.token)
	}
	req.Header = header
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (s *e2eServer) authHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
}

// post sends a JSON body as admin.
func (s *e2eServer) post(path string, body []byte) (int, []byte) {
	s.t.Helper()
	status, b, err := s.do(http.MethodPost, path, nil, bytes.NewReader(body), nil)
	require.NoError(s.t, err)
	return status, b
}

// getJSON reads a route as admin into out; a non-200 answer is an error.
func (s *e2eServer) getJSON(path string, query url.Values, out any) error {
	status, body, err := s.do(http.MethodGet, path, query, nil, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s?%s: status %d: %s", path, query.Encode(), status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decode %s: %w", path, body, err)
	}
	return nil
}

// scrape returns the Prometheus exposition of the metrics listener.
func (s *e2eServer) scrape() (string, error) {
	resp, err := s.client.Get(s.metrics)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// registerProfile registers a profile (its JSON) through POST
// /scouter/profile as the Python client does, and returns its uid.
func (s *e2eServer) registerProfile(driftType string, profileJSON string) string {
	s.t.Helper()
	req, err := json.Marshal(map[string]any{
		"space":             "e2e",
		"drift_type":        driftType,
		"profile":           profileJSON,
		"version_request":   map[string]any{"version": "1.0.0", "version_type": "Minor", "pre_tag": nil, "build_tag": nil},
		"active":            true,
		"deactivate_others": false,
	})
	require.NoError(s.t, err)
	status, body := s.post("/profile", req)
	require.Equal(s.t, http.StatusOK, status, "register %s profile: %s", driftType, body)
	var resp struct {
		Space, Name, Version, UID, Status string
		Active                            bool
	}
	require.NoError(s.t, json.Unmarshal(body, &resp))
	require.Equal(s.t, "success", resp.Status, string(body))
	require.Equal(s.t, "1.0.0", resp.Version, string(body))
	require.NotEmpty(s.t, resp.UID, string(body))
	return resp.UID
}

// grpcMessages returns a MessageService client and a context carrying a
// bearer token from AuthService.Login as guest (what GrpcConfig() does).
func (s *e2eServer) grpcMessages() (scouterv1.MessageServiceClient, context.Context) {
	s.t.Helper()
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	s.t.Cleanup(cancel)
	login, err := scouterv1.NewAuthServiceClient(conn).Login(ctx, &scouterv1.LoginRequest{Username: "guest", Password: "guest"})
	require.NoError(s.t, err)
	require.Equal(s.t, "success", login.GetStatus())
	return scouterv1.NewMessageServiceClient(conn), metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+login.GetToken())
}

// newKfake starts a one-broker in-process Kafka cluster with topic (one
// partition, so the order of messages is the order they were produced in)
// and returns its address.
func newKfake(t *testing.T, topic string) string {
	t.Helper()
	_, brokers := kafkatest.NewCluster(t, 1, topic)
	return brokers
}

// waitKafkaGroup waits until the consumer group is stable with members
// members, so that no rebalance (and no redelivery of a message whose offset
// is not committed yet) happens while the test produces.
func waitKafkaGroup(t *testing.T, brokers, group string, members int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	require.NoError(t, err)
	defer cl.Close()
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl)
		cancel()
		switch {
		case err != nil:
			last = fmt.Sprintf("describe groups: %v", err)
		case len(resp.Groups) != 1:
			last = fmt.Sprintf("%d groups described", len(resp.Groups))
		default:
			g := resp.Groups[0]
			if g.State == "Stable" && len(g.Members) == members {
				return
			}
			last = fmt.Sprintf("state %q with %d members", g.State, len(g.Members))
		}
		require.True(t, time.Now().Before(deadline), "kafka group %s never stable with %d members (last: %s)", group, members, last)
		time.Sleep(50 * time.Millisecond)
	}
}

// kafkaProducer returns a function that produces one message to topic with
// librdkafka and waits for the broker's acknowledgement.
func kafkaProducer(t *testing.T, brokers, topic string) func(payload []byte) error {
	t.Helper()
	p, err := ckafka.NewProducer(&ckafka.ConfigMap{
		"bootstrap.servers": brokers,
		"linger.ms":         0,
		"log_level":         3,
	})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return func(payload []byte) error {
		reports := make(chan ckafka.Event, 1)
		msg := &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
			Value:          payload,
		}
		if err := p.Produce(msg, reports); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		select {
		case ev := <-reports:
			m, ok := ev.(*ckafka.Message)
			if !ok {
				return fmt.Errorf("unexpected producer event %v", ev)
			}
			return m.TopicPartition.Error
		case <-time.After(20 * time.Second):
			return errors.New("produce: no delivery report after 20s")
		}
	}
}

// rabbitQueue returns a unique queue name and deletes the queue when the
// test ends (after the server, whose cleanup is registered later, stopped).
func rabbitQueue(t *testing.T) string {
	t.Helper()
	q := uniqueName("scouter_e2e_")
	t.Cleanup(func() {
		conn, err := amqp.Dial(e2eRabbitAddr)
		if err != nil {
			t.Logf("delete queue %s: %v", q, err)
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Logf("delete queue %s: %v", q, err)
			return
		}
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("delete queue %s: %v", q, err)
		}
	})
	return q
}

// rabbitPublisher publishes like upstream's producer: it declares the queue
// with the default options, then publishes to the default exchange with the
// queue name as routing key. It waits for the broker's confirm.
func rabbitPublisher(t *testing.T, queue string) func(payload []byte) error {
	t.Helper()
	conn, err := amqp.Dial(e2eRabbitAddr)
	require.NoError(t, err, "no RabbitMQ at %s", e2eRabbitAddr)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(queue, false, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	return func(payload []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false,
			amqp.Publishing{ContentType: "application/json", Body: payload})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		ok, err := c.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("wait for confirm: %w", err)
		}
		if !ok {
			return errors.New("broker nacked the publish")
		}
		return nil
	}
}

// redisPublisher returns a function that PUBLISHes to channel once the
// server subscribed to it (Pub/Sub drops messages nobody listens to), and
// fails when no subscriber received the message.
func redisPublisher(t *testing.T, channel string) func(payload []byte) error {
	t.Helper()
	opts, err := goredis.ParseURL(e2eRedisAddr)
	require.NoError(t, err)
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.Ping(ctx).Err(), "no Redis at %s", e2eRedisAddr)
	require.Eventually(t, func() bool {
		m, err := c.PubSubNumSub(ctx, channel).Result()
		return err == nil && m[channel] >= 1
	}, 20*time.Second, 20*time.Millisecond, "the server never subscribed to %s", channel)
	return func(payload []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, err := c.Publish(ctx, channel, payload).Result()
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if n < 1 {
			return fmt.Errorf("publish to %s: no subscriber received it", channel)
		}
		return nil
	}
}
