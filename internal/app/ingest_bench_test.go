package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/scoutergo/server/internal/app"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/ingest"
	"github.com/scoutergo/server/internal/kafkatest"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
	"github.com/scoutergo/server/internal/testenv"
)

// BenchmarkIngest measures ingestion end to end: SPC records sent through
// HTTP POST /scouter/message, gRPC InsertMessage and Kafka into a whole
// server (app.RunServer, random ports, its own database, an in-process
// kfake broker), each beside a raw COPY of the same rows into the same
// table, measured in the same run just before it (so that both see the same
// machine load).
//
// Load: messages of 100 SPC records (as the Python client's queue batches
// them) spread over 8 profiles; HTTP keep-alive clients and gRPC unary
// calls over one connection from SCOUTER_BENCH_CONCURRENCY goroutines; for
// Kafka one librdkafka producer into a topic with one partition per profile,
// consumed by the server's KAFKA_WORKER_COUNT group members.
//
// Each transport sub-benchmark reports:
//
//   - records/s: SCOUTER_BENCH_RECORDS records from the first send to the
//     last record committed (HTTP/gRPC: the last reply, which the server
//     sends only after the commit; Kafka: the last record seen in Postgres),
//     over SCOUTER_BENCH_ROUNDS runs;
//   - copy_records/s: pgx CopyFrom of the same rows into spc_drift, in one go,
//     just before each of those runs;
//   - ratio: records/s ÷ copy_records/s (target ≥ 0.6);
//   - p50_ms, p99_ms: acknowledgement latency under an open-loop load of half
//     the measured records/s for SCOUTER_BENCH_LATENCY_SECONDS (target p99 <
//     50 ms), from each message's scheduled send time, so a stall delays
//     every message behind it. HTTP: until the 200; gRPC: until the reply;
//     Kafka: from the produce call (librdkafka's linger.ms, 5 ms, included)
//     until the message's records are visible in Postgres, found by a poller
//     that asks which messages of each partition's profile are committed (an
//     upper bound, by at most one polling period, ~2 ms). Not until the
//     offset commit: the consumer commits offsets at most once a second
//     under load, which would measure that interval, not the storing.
//
// Also reported, to explain the numbers: rows/txn and tx_busy (the pipeline's
// transactions during the throughput runs: rows per transaction, and the
// share of the time a transaction was open) and the CPU time per record of
// this process (clients, server and, for Kafka, the broker) and of the
// database backends, for the transport and for COPY.
//
// Run with make bench, or (-benchtime 1x: each sub-benchmark is one long
// measurement; SCOUTER_BENCH_ROUNDS repeats its throughput part):
//
//	go test ./internal/app -run '^$' -bench Ingest -benchtime 1x
func BenchmarkIngest(b *testing.B) {
	s := benchSettingsFromEnv(b)
	env := startIngestEnv(b, s)

	for _, tr := range []benchTransport{
		{name: "http", send: env.sendHTTP, throughput: env.closedLoop(env.sendHTTP), latency: env.openLoopAck(env.sendHTTP)},
		{name: "grpc", send: env.sendGRPC, throughput: env.closedLoop(env.sendGRPC), latency: env.openLoopAck(env.sendGRPC)},
		{name: "kafka", throughput: env.kafkaThroughput, latency: env.kafkaLatency},
	} {
		b.Run(tr.name, func(b *testing.B) { env.runTransport(b, tr) })
	}
}

// benchSettings are the knobs of BenchmarkIngest (SCOUTER_BENCH_*).
type benchSettings struct {
	records        int           // records per throughput run
	rounds         int           // COPY + transport throughput pairs per b.N
	latencyFor     time.Duration // length of the open-loop latency run
	concurrency    int           // HTTP clients / gRPC callers
	kafkaWorkers   int           // KAFKA_WORKER_COUNT
	httpWriters    int           // HTTP_CONSUMER_WORKER_COUNT
	perMessage     int           // records per message
	profiles       int           // profiles (= Kafka partitions)
	featuresPerTS  int           // SPC features sharing one created_at
	throughputPoll time.Duration // Kafka commit poller period, throughput run
	latencyPoll    time.Duration // Kafka commit poller period, latency run
}

func benchSettingsFromEnv(tb testing.TB) benchSettings {
	tb.Helper()
	s := benchSettings{
		records:        envInt(tb, "SCOUTER_BENCH_RECORDS", 300_000),
		rounds:         envInt(tb, "SCOUTER_BENCH_ROUNDS", 2),
		latencyFor:     time.Duration(envInt(tb, "SCOUTER_BENCH_LATENCY_SECONDS", 10)) * time.Second,
		concurrency:    envInt(tb, "SCOUTER_BENCH_CONCURRENCY", 32),
		kafkaWorkers:   envInt(tb, "SCOUTER_BENCH_KAFKA_WORKERS", 3),
		httpWriters:    envInt(tb, "SCOUTER_BENCH_HTTP_WRITERS", config.DefaultIngestWriters),
		perMessage:     100,
		profiles:       8,
		featuresPerTS:  20,
		throughputPoll: 10 * time.Millisecond,
		latencyPoll:    2 * time.Millisecond,
	}
	if s.records < s.perMessage*s.profiles {
		tb.Fatalf("SCOUTER_BENCH_RECORDS=%d: want at least %d", s.records, s.perMessage*s.profiles)
	}
	s.records -= s.records % (s.perMessage * s.profiles) // whole messages, same count per profile
	return s
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// ingestEnv is a running server with its clients.
type ingestEnv struct {
	s      benchSettings
	pool   *pgxpool.Pool // the benchmark's own connections to the server's database
	uids   []string
	ids    []int32 // entity ids, parallel to uids
	logs   *testenv.Buffer
	failed func() error // non-nil error once the server has stopped

	httpURL    string
	metricsURL string
	httpClient *http.Client
	token      string

	grpcClient scouterv1.MessageServiceClient
	grpcMD     metadata.MD

	producer *ckafka.Producer
	admin    *kgo.Client // deletes consumed records (see kafkaTrim)
	topic    string
}

// benchTransport is one transport's throughput and latency runs.
type benchTransport struct {
	name string
	// send delivers one message and returns once it is acknowledged
	// (HTTP/gRPC only; used for the warm-up).
	send func(ctx context.Context, body []byte) error
	// throughput sends every message of batch and returns once all are
	// committed.
	throughput func(tb testing.TB, batch *benchBatch) time.Duration
	// latency sends batch at rate messages/s and returns each message's
	// acknowledgement latency.
	latency func(tb testing.TB, batch *benchBatch, rate float64) []time.Duration
}

// runTransport measures one transport: COPY of the rows, then the same rows
// through the transport, then the latency run at half that rate.
func (e *ingestEnv) runTransport(b *testing.B, tr benchTransport) {
	if tr.send != nil {
		e.warmUp(b, tr.send)
	}
	var copyTotal, trTotal time.Duration
	var writes pipelineStats
	copyCPU, trCPU := cpuTimes{ok: true}, cpuTimes{ok: true}
	for range b.N * e.s.rounds {
		d, cpu := e.copyRun(b)
		copyTotal += d
		copyCPU = copyCPU.add(cpu)
		batch := e.newBatch(b, e.s.records)
		e.truncate(b)
		stats := e.pipelineStats(b)
		before := e.cpuSample(b)
		trTotal += tr.throughput(b, batch)
		trCPU = trCPU.add(e.cpuSample(b).since(before))
		writes = writes.add(e.pipelineStats(b).sub(stats))
		e.requireRows(b, batch)
	}
	records := float64(e.s.records * b.N * e.s.rounds)
	rate, copyRate := records/trTotal.Seconds(), records/copyTotal.Seconds()

	half := rate / 2
	msgs := int(half*e.s.latencyFor.Seconds()) / e.s.perMessage
	msgs = max(msgs-msgs%e.s.profiles, e.s.profiles)
	batch := e.newBatch(b, msgs*e.s.perMessage)
	e.truncate(b)
	lat := tr.latency(b, batch, half/float64(e.s.perMessage))
	e.requireRows(b, batch)
	e.truncate(b)

	slices.Sort(lat)
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(copyRate, "copy_records/s")
	b.ReportMetric(rate/copyRate, "ratio")
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50_ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99_ms")
	b.ReportMetric(ms(percentile(lat, 0.999)), "p99.9_ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
	b.ReportMetric(half, "latency_load_records/s")
	if writes.txns > 0 {
		// How the writers spent the throughput run: rows per transaction,
		// and the share of the run during which a transaction was open
		// (summed over writers).
		b.ReportMetric(writes.rows/writes.txns, "rows/txn")
		b.ReportMetric(writes.txSeconds/trTotal.Seconds(), "tx_busy")
		// Transactions written twice because they met stored rows: a
		// redelivery, which the throughput runs should not have.
		b.ReportMetric(writes.duplicates, "dup_txns")
	}
	if trCPU.ok && copyCPU.ok {
		// CPU spent per record: this process (the benchmark's clients,
		// the server and, for Kafka, the in-process broker) and the
		// database's backends, for the transport and for COPY.
		b.ReportMetric(trCPU.goPerRecord(records), "go_cpu_us/record")
		b.ReportMetric(trCPU.pgPerRecord(records), "pg_cpu_us/record")
		b.ReportMetric(copyCPU.goPerRecord(records), "copy_go_cpu_us/record")
		b.ReportMetric(copyCPU.pgPerRecord(records), "copy_pg_cpu_us/record")
	}
}

// cpuTimes is CPU time spent by this process and by the database's
// backends during some interval (Linux only: ok is false without /proc).
type cpuTimes struct {
	ok     bool
	goProc time.Duration
	pg     time.Duration
}

func (c cpuTimes) add(o cpuTimes) cpuTimes {
	return cpuTimes{c.ok && o.ok, c.goProc + o.goProc, c.pg + o.pg}
}

func (c cpuTimes) goPerRecord(n float64) float64 { return float64(c.goProc.Microseconds()) / n }
func (c cpuTimes) pgPerRecord(n float64) float64 { return float64(c.pg.Microseconds()) / n }

// cpuSample is the CPU time used so far by this process and by each backend
// connected to the benchmark's database.
type cpuSample struct {
	ok   bool
	self time.Duration
	pg   map[int32]time.Duration
}

func (e *ingestEnv) cpuSample(tb testing.TB) cpuSample {
	tb.Helper()
	self, ok := procCPU("self")
	if !ok {
		return cpuSample{}
	}
	rows, err := e.pool.Query(tb.Context(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		tb.Fatalf("list backends: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		tb.Fatalf("list backends: %v", err)
	}
	c := cpuSample{ok: true, self: self, pg: make(map[int32]time.Duration, len(pids))}
	for _, pid := range pids {
		if t, ok := procCPU(strconv.Itoa(int(pid))); ok { // a backend may just have exited
			c.pg[pid] = t
		}
	}
	return c
}

// since returns the CPU time spent between before and c. A backend that
// started in between counts whole; one that exited in between is lost.
func (c cpuSample) since(before cpuSample) cpuTimes {
	d := cpuTimes{ok: c.ok && before.ok, goProc: c.self - before.self}
	for pid, t := range c.pg {
		d.pg += t - before.pg[pid]
	}
	return d
}

// procCPU returns utime+stime of /proc/<pid>/stat, assuming 100 clock
// ticks per second (USER_HZ on Linux).
func procCPU(pid string) (time.Duration, bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// pipelineStats are the ingest pipeline's cumulative transaction metrics.
type pipelineStats struct{ txns, rows, txSeconds, duplicates float64 }

func (p pipelineStats) sub(o pipelineStats) pipelineStats {
	return pipelineStats{p.txns - o.txns, p.rows - o.rows, p.txSeconds - o.txSeconds, p.duplicates - o.duplicates}
}

func (p pipelineStats) add(o pipelineStats) pipelineStats {
	return pipelineStats{p.txns + o.txns, p.rows + o.rows, p.txSeconds + o.txSeconds, p.duplicates + o.duplicates}
}

// pipelineStats scrapes the server's /metrics.
func (e *ingestEnv) pipelineStats(tb testing.TB) pipelineStats {
	tb.Helper()
	resp, err := e.httpClient.Get(e.metricsURL)
	if err != nil {
		tb.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("scrape metrics: %v", err)
	}
	var p pipelineStats
	for line := range strings.Lines(string(body)) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case ingest.MetricBatchSize + "_count":
			dst = &p.txns
		case ingest.MetricBatchSize + "_sum":
			dst = &p.rows
		case ingest.MetricCommitDuration + "_sum":
			dst = &p.txSeconds
		case ingest.MetricDuplicateBatches:
			dst = &p.duplicates
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(value, 64); err != nil {
			tb.Fatalf("scrape metrics: %q: %v", line, err)
		}
	}
	return p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the nearest-rank q-quantile of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// startIngestEnv starts a kfake broker and the whole server on a fresh
// database, registers the profiles and logs in over HTTP and gRPC.
func startIngestEnv(b *testing.B, s benchSettings) *ingestEnv {
	b.Helper()
	e := &ingestEnv{s: s, logs: &testenv.Buffer{}, topic: "scouter_bench"}
	uri := pgtest.NewURI(b)
	e.pool = pgtest.Connect(b, uri)
	for i := range s.profiles {
		uid := fmt.Sprintf("bench-%02d", i)
		e.uids = append(e.uids, uid)
		e.ids = append(e.ids, benchProfile(b, e.pool, uid, i))
	}

	_, brokers := kafkatest.NewCluster(b, int32(s.profiles), e.topic)
	httpPort, grpcPort := testenv.ServerPorts(b)
	env := map[string]string{
		"DATABASE_URI":               uri,
		"MIN_POOL_SIZE":              "2",
		"MAX_POOL_SIZE":              "16",
		"SCOUTER_SERVER_PORT":        strconv.Itoa(httpPort),
		"SCOUTER_GRPC_PORT":          strconv.Itoa(grpcPort),
		"HTTP_CONSUMER_WORKER_COUNT": strconv.Itoa(s.httpWriters),
		"KAFKA_BROKERS":              brokers,
		"KAFKA_SECURITY_PROTOCOL":    "PLAINTEXT",
		"KAFKA_TOPIC":                e.topic,
		"KAFKA_GROUP":                benchKafkaGroup,
		"KAFKA_WORKER_COUNT":         strconv.Itoa(s.kafkaWorkers),
		"KAFKA_OFFSET_RESET":         "earliest",
	}
	cfg, err := config.Load(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	if err != nil {
		b.Fatalf("config: %v", err)
	}
	// Info level, as in production: the access log is part of the cost.
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = app.RunServer(ctx, cfg, logger, app.ModeBoth)
	}()
	e.failed = func() error {
		select {
		case <-stopped:
			return fmt.Errorf("server stopped: %v", runErr)
		default:
			return nil
		}
	}
	b.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
			if runErr != nil {
				b.Errorf("RunServer: %v", runErr)
			}
		case <-time.After(60 * time.Second):
			b.Error("RunServer did not return")
		}
		if b.Failed() {
			b.Logf("server log (tail):\n%s", tail(e.logs.String(), 8000))
		}
	})

	e.httpURL = fmt.Sprintf("http://127.0.0.1:%d/scouter", httpPort)
	e.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort+1)
	e.httpClient = &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        4096,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     time.Minute,
			// A message in one write, as the Python client sends it (the
			// default 4 KiB buffer split each ~15 KB request into four).
			WriteBufferSize: 64 << 10,
		},
	}
	b.Cleanup(e.httpClient.CloseIdleConnections)
	e.waitHealthy(b)
	e.token = e.httpLogin(b)

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatalf("grpc client: %v", err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	lctx, lcancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer lcancel()
	login, err := scouterv1.NewAuthServiceClient(conn).Login(lctx, &scouterv1.LoginRequest{Username: "admin", Password: "admin"})
	if err != nil {
		b.Fatalf("grpc login: %v", err)
	}
	e.grpcClient = scouterv1.NewMessageServiceClient(conn)
	e.grpcMD = metadata.Pairs("authorization", "Bearer "+login.GetToken())

	e.producer, err = ckafka.NewProducer(&ckafka.ConfigMap{
		"bootstrap.servers": brokers,
		"log_level":         3,
		"acks":              "all",
	})
	if err != nil {
		b.Fatalf("kafka producer: %v", err)
	}
	b.Cleanup(e.producer.Close)
	e.admin, err = kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		b.Fatalf("kgo client: %v", err)
	}
	b.Cleanup(e.admin.Close)
	e.kafkaWarmUp(b, brokers)
	return e
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// benchProfile registers an SPC profile's entity directly in the database.
func benchProfile(tb testing.TB, pool *pgxpool.Pool, uid string, i int) int32 {
	tb.Helper()
	var id int32
	err := db.InTx(tb.Context(), pool, func(q *dbsqlc.Queries) error {
		e, err := q.UpsertEntity(tb.Context(), dbsqlc.UpsertEntityParams{
			UID: uid, Space: "bench", Name: fmt.Sprintf("model_%02d", i), Version: "0.1.0", DriftType: "Spc"})
		id = e.ID
		return err
	})
	if err != nil {
		tb.Fatalf("register profile %s: %v", uid, err)
	}
	return id
}

func (e *ingestEnv) waitHealthy(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := e.httpClient.Get(e.httpURL + "/healthcheck")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if err := e.failed(); err != nil {
			tb.Fatal(err)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("server not healthy after 60s (last error %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *ingestEnv) httpLogin(tb testing.TB) string {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, e.httpURL+"/auth/login", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Username", "admin")
	req.Header.Set("Password", "admin")
	resp, err := e.httpClient.Do(req)
	if err != nil {
		tb.Fatalf("http login: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("http login: %d %s (%v)", resp.StatusCode, body, err)
	}
	const key = `"token":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		tb.Fatalf("http login: no token in %s", body)
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		tb.Fatalf("http login: no token in %s", body)
	}
	return string(rest[:j])
}

// benchBatch is one run's messages. Message j belongs to profile j %
// profiles and is that profile's message number j / profiles; its records
// carry created_at base + (seq*tsPerMessage + r/featuresPerTS) ms and
// features feature_00..feature_NN, so every row is distinct and a profile's
// timestamps grow with its message number.
type benchBatch struct {
	base   time.Time
	bodies [][]byte
	rows   int
	// tsPerMessage is the number of distinct timestamps per message.
	tsPerMessage int
	profiles     int
}

func (e *ingestEnv) newBatch(tb testing.TB, records int) *benchBatch {
	tb.Helper()
	s := e.s
	n := records / s.perMessage
	bt := &benchBatch{
		base:         time.Now().UTC().Truncate(time.Millisecond),
		bodies:       make([][]byte, n),
		rows:         n * s.perMessage,
		tsPerMessage: (s.perMessage + s.featuresPerTS - 1) / s.featuresPerTS,
		profiles:     s.profiles,
	}
	for j := range n {
		p, seq := j%s.profiles, j/s.profiles
		buf := make([]byte, 0, 128*s.perMessage)
		buf = append(buf, `{"records":[`...)
		for r := range s.perMessage {
			if r > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"Spc":{"created_at":"`...)
			buf = record.AppendTime(buf, bt.at(seq, r, s.featuresPerTS))
			buf = append(buf, `","uid":"`...)
			buf = append(buf, e.uids[p]...)
			buf = append(buf, `","feature":"`...)
			buf = append(buf, benchFeature(r%s.featuresPerTS)...)
			buf = append(buf, `","value":`...)
			buf = strconv.AppendFloat(buf, benchValue(j, r), 'g', -1, 64)
			buf = append(buf, `,"entity_id":0}}`...)
		}
		buf = append(buf, "]}"...)
		bt.bodies[j] = buf
	}
	return bt
}

func (bt *benchBatch) at(seq, r, featuresPerTS int) time.Time {
	return bt.base.Add(time.Duration(seq*bt.tsPerMessage+r/featuresPerTS) * time.Millisecond)
}

// seqOf returns the message number whose records include created_at t.
func (bt *benchBatch) seqOf(t time.Time) int {
	return int(t.Sub(bt.base) / time.Millisecond / time.Duration(bt.tsPerMessage))
}

func benchFeature(i int) string { return fmt.Sprintf("feature_%02d", i) }

func benchValue(j, r int) float64 { return float64((j*31+r)%997) / 8 }

// copyRun empties spc_drift, COPYs s.records rows shaped like a batch's into
// it in one go and returns the COPY's duration and CPU times.
func (e *ingestEnv) copyRun(tb testing.TB) (time.Duration, cpuTimes) {
	tb.Helper()
	s := e.s
	n := s.records / s.perMessage
	bt := &benchBatch{base: time.Now().UTC().Truncate(time.Millisecond), rows: s.records,
		tsPerMessage: (s.perMessage + s.featuresPerTS - 1) / s.featuresPerTS, profiles: s.profiles}
	rows := make([][]any, 0, s.records)
	for j := range n {
		p, seq := j%s.profiles, j/s.profiles
		for r := range s.perMessage {
			rows = append(rows, []any{bt.at(seq, r, s.featuresPerTS), e.ids[p], benchFeature(r % s.featuresPerTS), benchValue(j, r)})
		}
	}
	e.truncate(tb)
	before := e.cpuSample(tb)
	start := time.Now()
	got, err := e.pool.CopyFrom(tb.Context(), pgx.Identifier{"scouter", "spc_drift"},
		[]string{"created_at", "entity_id", "feature", "value"}, pgx.CopyFromRows(rows))
	elapsed := time.Since(start)
	cpu := e.cpuSample(tb).since(before)
	if err != nil {
		tb.Fatalf("copy: %v", err)
	}
	if got != int64(s.records) {
		tb.Fatalf("copy: %d rows, want %d", got, s.records)
	}
	e.truncate(tb)
	return elapsed, cpu
}

func (e *ingestEnv) truncate(tb testing.TB) {
	tb.Helper()
	if _, err := e.pool.Exec(tb.Context(), "TRUNCATE scouter.spc_drift"); err != nil {
		tb.Fatalf("truncate: %v", err)
	}
}

// requireRows fails unless spc_drift holds exactly the batch's rows.
func (e *ingestEnv) requireRows(tb testing.TB, bt *benchBatch) {
	tb.Helper()
	var n int
	if err := e.pool.QueryRow(tb.Context(), "SELECT count(*) FROM scouter.spc_drift").Scan(&n); err != nil {
		tb.Fatalf("count rows: %v", err)
	}
	if n != bt.rows {
		tb.Fatalf("spc_drift holds %d rows, want %d", n, bt.rows)
	}
}

// warmUp opens connections and fills the server's caches with a few
// messages, then empties the table.
func (e *ingestEnv) warmUp(tb testing.TB, send func(context.Context, []byte) error) {
	tb.Helper()
	bt := e.newBatch(tb, e.s.perMessage*e.s.profiles*e.s.concurrency/2)
	_ = e.closedLoop(send)(tb, bt)
	e.truncate(tb)
}

func (e *ingestEnv) sendHTTP(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.httpURL+"/message", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := e.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /scouter/message: %d %s", resp.StatusCode, reply)
	}
	return nil
}

func (e *ingestEnv) sendGRPC(ctx context.Context, body []byte) error {
	ctx = metadata.NewOutgoingContext(ctx, e.grpcMD)
	resp, err := e.grpcClient.InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: body})
	if err != nil {
		return fmt.Errorf("InsertMessage: %w", err)
	}
	if resp.GetStatus() != "success" {
		return fmt.Errorf("InsertMessage: status %q", resp.GetStatus())
	}
	return nil
}

// closedLoop sends every message from s.concurrency goroutines, each
// sending its next message once the previous one is acknowledged.
func (e *ingestEnv) closedLoop(send func(context.Context, []byte) error) func(testing.TB, *benchBatch) time.Duration {
	return func(tb testing.TB, bt *benchBatch) time.Duration {
		tb.Helper()
		ctx := tb.Context()
		var next atomic.Int64
		var firstErr atomic.Pointer[error]
		var wg sync.WaitGroup
		start := time.Now()
		for range e.s.concurrency {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(len(bt.bodies)); i = next.Add(1) - 1 {
					if err := send(ctx, bt.bodies[i]); err != nil {
						firstErr.CompareAndSwap(nil, &err)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if p := firstErr.Load(); p != nil {
			tb.Fatalf("send: %v", *p)
		}
		return elapsed
	}
}

// openLoopAck sends message i at start + i/rate, each in its own goroutine,
// and returns each message's latency from its scheduled time to its
// acknowledgement.
func (e *ingestEnv) openLoopAck(send func(context.Context, []byte) error) func(testing.TB, *benchBatch, float64) []time.Duration {
	return func(tb testing.TB, bt *benchBatch, rate float64) []time.Duration {
		tb.Helper()
		ctx := tb.Context()
		lat := make([]time.Duration, len(bt.bodies))
		var firstErr atomic.Pointer[error]
		var wg sync.WaitGroup
		schedule(len(bt.bodies), rate, func(i int, at time.Time) {
			wg.Go(func() {
				if err := send(ctx, bt.bodies[i]); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				lat[i] = time.Since(at)
			})
		})
		wg.Wait()
		if p := firstErr.Load(); p != nil {
			tb.Fatalf("send: %v", *p)
		}
		return lat
	}
}

// schedule calls fn(i, at) for i in [0, n) at start + i/rate: an open-loop
// (constant-rate) load that does not slow down when the server does.
func schedule(n int, rate float64, fn func(i int, at time.Time)) {
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		fn(i, at)
	}
}

// produce hands message i to librdkafka, on partition i % profiles.
func (e *ingestEnv) produce(tb testing.TB, bt *benchBatch, i int, reports chan ckafka.Event) {
	tb.Helper()
	msg := &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &e.topic, Partition: int32(i % bt.profiles)},
		Value:          bt.bodies[i],
	}
	for {
		err := e.producer.Produce(msg, reports)
		if err == nil {
			return
		}
		var kerr ckafka.Error
		if !errors.As(err, &kerr) || kerr.Code() != ckafka.ErrQueueFull {
			tb.Fatalf("produce: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkDeliveries reads n delivery reports in the background and records
// the first failure.
func checkDeliveries(n int, reports chan ckafka.Event) func() error {
	var firstErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			ev := <-reports
			m, ok := ev.(*ckafka.Message)
			if !ok {
				if firstErr == nil {
					firstErr = fmt.Errorf("unexpected producer event %v", ev)
				}
				continue
			}
			if m.TopicPartition.Error != nil && firstErr == nil {
				firstErr = fmt.Errorf("delivery: %w", m.TopicPartition.Error)
			}
		}
	}()
	return func() error {
		select {
		case <-done:
			return firstErr
		case <-time.After(30 * time.Second):
			return errors.New("delivery reports missing after 30s")
		}
	}
}

// committedSeqs polls, every interval, which messages are committed and
// calls seen(profile, seq, at) once for each message number of a profile
// that becomes visible; at is when the poll that saw it started. A message
// is one transaction's worth of rows, so its first row (feature_00 at its
// first timestamp) tells it is there. Messages may commit out of order (a
// consumer keeps several in flight), so each poll asks for every message
// above the profile's contiguous committed prefix. It returns when every
// message was seen or ctx ends.
func (e *ingestEnv) committedSeqs(ctx context.Context, bt *benchBatch, interval time.Duration, seen func(profile, seq int, at time.Time)) error {
	per := len(bt.bodies) / bt.profiles
	visible := make([][]bool, bt.profiles)
	next := make([]int, bt.profiles) // per profile: first message number not seen yet
	for p := range visible {
		visible[p] = make([]bool, per)
	}
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("poller: %w", err)
	}
	defer conn.Release()
	// A subquery in the select list runs once per profile, on the index
	// of (entity_id, created_at); as a lateral join the planner may turn
	// it into a hash join over a scan of the whole table.
	const q = `SELECT t.i, ARRAY(SELECT created_at FROM scouter.spc_drift
			WHERE entity_id = t.e AND created_at >= t.low AND feature = $3)
		FROM unnest($1::integer[], $2::timestamptz[]) WITH ORDINALITY AS t(e, low, i)`
	low := make([]time.Time, bt.profiles)
	first := benchFeature(0)
	for {
		for p := range low {
			low[p] = bt.at(next[p], 0, 1)
		}
		at := time.Now()
		rows, err := conn.Query(ctx, q, e.ids, low, first)
		if err != nil {
			return fmt.Errorf("poller: %w", err)
		}
		var i int64
		var ts []time.Time
		_, err = pgx.ForEachRow(rows, []any{&i, &ts}, func() error {
			p := int(i - 1)
			for _, t := range ts {
				if seq := bt.seqOf(t); seq < per && !visible[p][seq] {
					visible[p][seq] = true
					seen(p, seq, at)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("poller: %w", err)
		}
		finished := true
		for p := range next {
			for next[p] < per && visible[p][next[p]] {
				next[p]++
			}
			finished = finished && next[p] == per
		}
		if finished {
			return nil
		}
		if err := e.failed(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("poller: %w (messages seen per profile up to %v of %d)", context.Cause(ctx), next, per)
		case <-time.After(interval):
		}
	}
}

// kafkaThroughput produces every message and waits until all are committed.
func (e *ingestEnv) kafkaThroughput(tb testing.TB, bt *benchBatch) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Minute)
	defer cancel()
	reports := make(chan ckafka.Event, len(bt.bodies))
	delivered := checkDeliveries(len(bt.bodies), reports)
	stopTrim := e.kafkaTrimmer(tb, kafkaTrimPeriod)
	defer stopTrim()
	start := time.Now()
	var end time.Time
	polled := make(chan error, 1)
	go func() {
		// The end time only: a coarse period keeps the poller's own load
		// low (its error is small beside a run of seconds).
		polled <- e.committedSeqs(ctx, bt, e.s.throughputPoll, func(_, _ int, _ time.Time) { end = time.Now() })
	}()
	for i := range bt.bodies {
		e.produce(tb, bt, i, reports)
	}
	if err := delivered(); err != nil {
		tb.Fatalf("kafka: %v", err)
	}
	if err := <-polled; err != nil {
		tb.Fatalf("kafka: %v", err)
	}
	e.kafkaTrim(tb)
	return end.Sub(start)
}

// kafkaLatency produces at rate messages/s and returns each message's
// latency from its scheduled produce time to the poll that first saw it
// committed.
func (e *ingestEnv) kafkaLatency(tb testing.TB, bt *benchBatch, rate float64) []time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Minute)
	defer cancel()
	n := len(bt.bodies)
	sent := make([]time.Time, n)
	var mu sync.Mutex // guards sent against the poller
	lat := make([]time.Duration, n)
	reports := make(chan ckafka.Event, n)
	delivered := checkDeliveries(n, reports)
	stopTrim := e.kafkaTrimmer(tb, kafkaTrimPeriod)
	defer stopTrim()
	polled := make(chan error, 1)
	go func() {
		polled <- e.committedSeqs(ctx, bt, e.s.latencyPoll, func(p, seq int, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			i := seq*bt.profiles + p
			lat[i] = at.Sub(sent[i])
		})
	}()
	schedule(n, rate, func(i int, at time.Time) {
		mu.Lock()
		sent[i] = at
		mu.Unlock()
		e.produce(tb, bt, i, reports)
	})
	if err := delivered(); err != nil {
		tb.Fatalf("kafka: %v", err)
	}
	if err := <-polled; err != nil {
		tb.Fatalf("kafka: %v", err)
	}
	e.kafkaTrim(tb)
	return lat
}

// kafkaTrim deletes the topic's stored records but each partition's last
// batch. The in-process broker keeps every record in the benchmark's own
// heap: without this each run added ~350 MB, and from the fourth run on the
// latency runs showed stalls of the whole process (p99 200-900 ms). The
// last batch stays because kfake treats a fetch at the high watermark of a
// partition with no batches as out of range.
func (e *ingestEnv) kafkaTrim(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 15*time.Second)
	defer cancel()
	list := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = e.topic
	for p := range e.s.profiles {
		part := kmsg.NewListOffsetsRequestTopicPartition()
		part.Partition = int32(p)
		part.Timestamp = -1 // the high watermark
		lt.Partitions = append(lt.Partitions, part)
	}
	list.Topics = append(list.Topics, lt)
	offsets, err := list.RequestWith(ctx, e.admin)
	if err != nil {
		tb.Fatalf("kafka list offsets: %v", err)
	}
	ends := map[int32]int64{}
	for _, t := range offsets.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				tb.Fatalf("kafka list offsets %s/%d: %v", t.Topic, p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	if err := e.deleteBefore(ctx, ends); err != nil {
		tb.Fatal(err)
	}
}

// benchKafkaGroup is the server's KAFKA_GROUP in the benchmark.
const benchKafkaGroup = "scouter_bench"

// kafkaTrimPeriod is how often kafkaTrimmer deletes committed records.
const kafkaTrimPeriod = 250 * time.Millisecond

// kafkaTrimmer deletes, every period until stop is called, the records the
// server's group has committed (but each partition's last batch), so that
// during a run the broker holds about one offset-commit interval of records
// instead of the whole run's. Without it the benchmark's heap grew by up to
// a GB within each run, and the kernel zeroing fresh pages for it stalled
// the whole process for 100-400 ms now and then (a Kafka p99 of 80-145 ms in
// about one run of three; perf showed clear_page at 40% of a core during
// each stall).
func (e *ingestEnv) kafkaTrimmer(tb testing.TB, period time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(tb.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			committed, err := e.committedOffsets(ctx)
			if err == nil {
				err = e.deleteBefore(ctx, committed)
			}
			if err != nil && ctx.Err() == nil {
				tb.Logf("kafka trimmer: %v", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// committedOffsets returns the server group's committed offset of each
// partition of the topic that has one.
func (e *ingestEnv) committedOffsets(ctx context.Context) (map[int32]int64, error) {
	parts := make([]int32, e.s.profiles)
	for p := range parts {
		parts[p] = int32(p)
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = benchKafkaGroup // up to v7
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = e.topic, parts
	req.Topics = append(req.Topics, rt)
	rg := kmsg.NewOffsetFetchRequestGroup() // v8 on
	rg.Group = benchKafkaGroup
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = e.topic, parts
	rg.Topics = append(rg.Topics, gt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, e.admin)
	if err != nil {
		return nil, fmt.Errorf("kafka offset fetch: %w", err)
	}
	out := map[int32]int64{}
	add := func(partition int32, offset int64, code int16) error {
		if err := kerr.ErrorForCode(code); err != nil {
			return fmt.Errorf("kafka offset fetch %d: %w", partition, err)
		}
		if offset >= 0 {
			out[partition] = offset
		}
		return nil
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := add(p.Partition, p.Offset, p.ErrorCode); err != nil {
				return nil, err
			}
		}
	}
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, fmt.Errorf("kafka offset fetch: %w", err)
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if err := add(p.Partition, p.Offset, p.ErrorCode); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// deleteBefore deletes the topic's records below offsets[p]-1 in each
// partition p (keeping the batch before the offset; see kafkaTrim).
func (e *ingestEnv) deleteBefore(ctx context.Context, offsets map[int32]int64) error {
	dt := kmsg.NewDeleteRecordsRequestTopic()
	dt.Topic = e.topic
	for p, off := range offsets {
		if off < 2 {
			continue
		}
		part := kmsg.NewDeleteRecordsRequestTopicPartition()
		part.Partition = p
		part.Offset = off - 1
		dt.Partitions = append(dt.Partitions, part)
	}
	if len(dt.Partitions) == 0 {
		return nil
	}
	del := kmsg.NewPtrDeleteRecordsRequest()
	del.Topics = append(del.Topics, dt)
	del.TimeoutMillis = 10_000
	resp, err := del.RequestWith(ctx, e.admin)
	if err != nil {
		return fmt.Errorf("kafka delete records: %w", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("kafka delete records %s/%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// kafkaWarmUp waits until every group member has joined and owns
// partitions and a message on each partition has been stored, so that the
// measured runs see no rebalance.
func (e *ingestEnv) kafkaWarmUp(tb testing.TB, brokers string) {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		tb.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	deadline := time.Now().Add(90 * time.Second)
	for !e.groupStable(tb, cl) {
		if err := e.failed(); err != nil {
			tb.Fatal(err)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("kafka group not stable with %d members after 90s", e.s.kafkaWorkers)
		}
		time.Sleep(200 * time.Millisecond)
	}
	bt := e.newBatch(tb, e.s.perMessage*e.s.profiles*2)
	_ = e.kafkaThroughput(tb, bt)
	e.requireRows(tb, bt)
	e.truncate(tb)
}

// groupStable reports whether the server's consumer group is stable with
// every member owning partitions and all partitions assigned.
func (e *ingestEnv) groupStable(tb testing.TB, cl *kgo.Client) bool {
	tb.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{benchKafkaGroup}
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 {
		return false
	}
	g := resp.Groups[0]
	if g.State != "Stable" || len(g.Members) != e.s.kafkaWorkers {
		return false
	}
	assigned := 0
	for _, m := range g.Members {
		var a kmsg.ConsumerMemberAssignment
		if len(m.MemberAssignment) == 0 || a.ReadFrom(m.MemberAssignment) != nil {
			return false
		}
		for _, t := range a.Topics {
			assigned += len(t.Partitions)
		}
	}
	return assigned == e.s.profiles
}
