package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/scoutergo/server/internal/gen/scouterv1"
)

// TestIngestE2E starts the whole server with every transport enabled (HTTP,
// gRPC, an in-process Kafka broker, the local RabbitMQ and Redis), registers
// SPC, PSI and Custom profiles over HTTP, sends SPC, PSI, Custom,
// Observability and tag records through each transport and reads them back
// through the drift, observability and tag routes with the values the
// spec's epoch-aligned binning gives (api.md §1.8, drift.md §7). Then it
// feeds bad input to every transport: HTTP and gRPC answer with an error
// naming the problem, and broker poison lands in dead_letter while the
// consumers keep consuming.
func TestIngestE2E(t *testing.T) {
	began := time.Now()
	topic := uniqueName("scouter_e2e_")
	brokers := newKfake(t, topic)
	queue := rabbitQueue(t)
	channel := uniqueName("scouter_e2e_")
	group := uniqueName("scouter_e2e_")
	srv := startE2EServer(t, map[string]string{
		"KAFKA_BROKERS":           brokers,
		"KAFKA_TOPIC":             topic,
		"KAFKA_GROUP":             group,
		"KAFKA_WORKER_COUNT":      "2",
		"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
		"RABBITMQ_ADDR":           e2eRabbitAddr,
		"RABBITMQ_QUEUE":          queue,
		"REDIS_ADDR":              e2eRedisAddr,
		"REDIS_CHANNEL":           channel,
	})
	t.Logf("server up after %s", time.Since(began).Round(time.Millisecond))

	f := newIngestFixture(srv)
	f.spcUID = srv.registerProfile("Spc", spcProfileJSON)
	f.psiUID = srv.registerProfile("Psi", psiProfileJSON(transportNames))
	f.customUID = srv.registerProfile("Custom", customProfileJSON)

	grpcClient, grpcCtx := srv.grpcMessages()
	sendHTTP := func(path string) func([]byte) error {
		return func(payload []byte) error {
			status, body := srv.post(path, payload)
			want := `{"status":"success","message":"Message queued for processing"}`
			if path == "/drift" {
				want = `{"status":"success","message":"Drift records queued for processing"}`
			}
			if status != http.StatusOK || string(body) != want {
				return fmt.Errorf("POST %s: status %d, body %s", path, status, body)
			}
			return nil
		}
	}
	sendGRPC := func(payload []byte) error {
		resp, err := grpcClient.InsertMessage(grpcCtx, &scouterv1.InsertMessageRequest{MessageRecord: payload})
		if err != nil {
			return err
		}
		if resp.GetStatus() != "success" {
			return fmt.Errorf("InsertMessage: status %q, message %q", resp.GetStatus(), resp.GetMessage())
		}
		return nil
	}
	waitKafkaGroup(t, brokers, group, 2)
	produceKafka := kafkaProducer(t, brokers, topic)
	publishRabbit := rabbitPublisher(t, queue)
	publishRedis := redisPublisher(t, channel)

	t.Run("every transport stores every record type", func(t *testing.T) {
		started := time.Now()
		// HTTP: each record type in its own message, /scouter/drift once.
		f.sendAll(t, "http", sendHTTP("/message"), map[string]func([]byte) error{
			"custom": sendHTTP("/drift"),
		}, false)
		// Committed before the 200: no polling.
		f.verify(t, "http")

		// gRPC: SPC, PSI and Custom records in one mixed message (split by
		// type on the server), then observability and the tag.
		f.sendAll(t, "grpc", sendGRPC, nil, true)
		f.verify(t, "grpc")
		t.Logf("http and grpc verified after %s", time.Since(started).Round(time.Millisecond))

		// Brokers: each record type in its own message, as upstream's
		// producers send them.
		f.sendAll(t, "kafka", produceKafka, nil, false)
		f.sendAll(t, "rabbitmq", publishRabbit, nil, false)
		f.sendAll(t, "redis", publishRedis, nil, false)
		for _, tp := range []string{"kafka", "rabbitmq", "redis"} {
			require.EventuallyWithT(t, func(c *assert.CollectT) { f.verify(c, tp) },
				20*time.Second, 50*time.Millisecond, "records sent through %s never read back as expected", tp)
			t.Logf("%s verified after %s", tp, time.Since(started).Round(time.Millisecond))
		}
		f.verifyTotals(t)
	})

	t.Run("preset interval bins on the epoch", func(t *testing.T) {
		// FifteenMinutes with max_data_points 100 (what the Python client
		// sends): 900 s / 100 = 9-second bins, aligned to the Unix epoch
		// (not to the minute, since 9 does not divide 60).
		b := time.Now().Add(-time.Minute).Unix()
		b -= b % 9
		base := time.Unix(b, 0).UTC()
		msg := mustJSON(map[string]any{"records": []any{
			map[string]any{"Spc": map[string]any{"created_at": base.Add(2 * time.Second).Format(time.RFC3339Nano), "uid": f.spcUID, "feature": "http_recent", "value": 3, "entity_id": 0}},
			map[string]any{"Spc": map[string]any{"created_at": base.Add(8999 * time.Millisecond).Format(time.RFC3339Nano), "uid": f.spcUID, "feature": "http_recent", "value": 4, "entity_id": 0}},
			map[string]any{"Spc": map[string]any{"created_at": base.Add(9 * time.Second).Format(time.RFC3339Nano), "uid": f.spcUID, "feature": "http_recent", "value": 10, "entity_id": 0}},
		}})
		require.NoError(t, sendHTTP("/message")(msg))
		var spc spcResponse
		require.NoError(t, srv.getJSON("/drift/spc", url.Values{
			"uid": {f.spcUID}, "space": {"e2e"}, "time_interval": {"FifteenMinutes"}, "max_data_points": {"100"},
		}, &spc))
		assert.Equal(t, spcSeries{
			CreatedAt: []string{base.Add(9 * time.Second).Format(time.RFC3339), base.Format(time.RFC3339)},
			Values:    []float64{10, 3.5},
		}, spc.Features["http_recent"])
		assert.NotContains(t, spc.Features, "http_spc", "records of three hours ago are outside FifteenMinutes")
	})

	t.Run("HTTP bad input", func(t *testing.T) { f.httpBadInput(t) })

	t.Run("gRPC bad input", func(t *testing.T) {
		ctx := grpcCtx
		_, err := grpcClient.InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: []byte("not json at all")})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "not JSON: %v", err)
		_, err = grpcClient.InsertMessage(ctx, &scouterv1.InsertMessageRequest{})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "empty bytes: %v", err)
		_, err = grpcClient.InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: []byte(`{"records":{"Spc":1}}`)})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "wrong shape: %v", err)
		assert.Contains(t, status.Convert(err).Message(), "records")

		wrongType := f.spcMessage(f.spcUID, "grpc_badtype", spcPoint{8, 1})
		wrongType = bytes.Replace(wrongType, []byte(`"value":1`), []byte(`"value":"high"`), 1)
		_, err = grpcClient.InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: wrongType})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "wrong type: %v", err)
		assert.Contains(t, status.Convert(err).Message(), "records[0].Spc.value")

		// An unknown uid is named; the valid record beside it is stored.
		const ghost = "019ae1b4-0000-7000-8000-00000000dead"
		mixed := joinRecords(f.spcMessage(f.spcUID, "grpc_neighbour", spcPoint{8, 7}), f.spcMessage(ghost, "grpc_ghost", spcPoint{8, 7}))
		_, err = grpcClient.InsertMessage(ctx, &scouterv1.InsertMessageRequest{MessageRecord: mixed})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "unknown uid: %v", err)
		assert.Contains(t, status.Convert(err).Message(), ghost)
		assert.Contains(t, status.Convert(err).Message(), "1 stored")
		spc := f.readSpc(t)
		assert.Equal(t, spcSeries{CreatedAt: []string{f.bin(0)}, Values: []float64{7}}, spc.Features["grpc_neighbour"])
		assert.NotContains(t, spc.Features, "grpc_ghost")
		assert.NotContains(t, spc.Features, "grpc_badtype")
	})

	t.Run("broker poison is dead-lettered and consuming goes on", func(t *testing.T) {
		started := time.Now()
		sends := map[string]func([]byte) error{"kafka": produceKafka, "rabbitmq": publishRabbit, "redis": publishRedis}
		for _, tp := range []string{"kafka", "rabbitmq", "redis"} {
			for i, payload := range f.poison(tp) {
				require.NoError(t, sends[tp](payload), "%s poison %d", tp, i)
			}
		}
		for _, tp := range []string{"kafka", "rabbitmq", "redis"} {
			require.EventuallyWithT(t, func(c *assert.CollectT) { f.verifyPoison(c, tp) },
				20*time.Second, 50*time.Millisecond, "%s poison not dead-lettered or consumer stuck", tp)
		}
		t.Logf("poison handled on every broker after %s", time.Since(started).Round(time.Millisecond))

		// Dead letters are admin-only.
		guest := srv.login("guest", "guest")
		status, body, err := srv.do(http.MethodGet, "/dead-letters", nil, nil, srv.authHeader(guest))
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, status, string(body))
		assert.JSONEq(t, `{"error":"Need admin permission"}`, string(body))
	})
	t.Logf("total %s", time.Since(began).Round(time.Millisecond))
}

// transportNames are the transports in the order they are exercised; each
// one's records carry its name in their features, metrics, routes and tags.
var transportNames = []string{"http", "grpc", "kafka", "rabbitmq", "redis"}

// ingestFixture holds the profiles, the time window and the records of the
// end-to-end test.
type ingestFixture struct {
	srv                       *e2eServer
	spcUID, psiUID, customUID string
	run                       string // unique per run: tag entity ids

	// t0 is an hour boundary three hours ago. The read window is
	// [t0+7m, t0+67m) with max_data_points 4: 60 whole minutes / 4 = 15-minute
	// bins aligned to the Unix epoch (so at t0, t0+15m, ...), not to the
	// window's start.
	t0           time.Time
	windowStart  time.Time
	windowEnd    time.Time
	obsSentAfter map[string]time.Time // when each transport's observability record was sent
}

func newIngestFixture(srv *e2eServer) *ingestFixture {
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	return &ingestFixture{
		srv: srv, run: uniqueName("run-"),
		t0:           t0,
		windowStart:  t0.Add(7 * time.Minute),
		windowEnd:    t0.Add(67 * time.Minute),
		obsSentAfter: map[string]time.Time{},
	}
}

// offset is the value added to every SPC and custom value of a transport,
// so a record attributed to the wrong transport cannot pass.
func offset(tp string) float64 { return 100 * float64(slices.Index(transportNames, tp)) }

// at returns t0 + minutes, with a microsecond fraction (as clients send)
// unless exact.
func (f *ingestFixture) at(minutes float64, exact bool) string {
	ts := f.t0.Add(time.Duration(minutes * float64(time.Minute)))
	if !exact {
		ts = ts.Add(123456 * time.Microsecond)
	}
	return ts.Format("2006-01-02T15:04:05.000000Z")
}

// bin is the wire form of the bin starting at t0 + minutes.
func (f *ingestFixture) bin(minutes int) string {
	return f.t0.Add(time.Duration(minutes) * time.Minute).Format("2006-01-02T15:04:05Z")
}

// Points of the drift records, at t0 + min minutes.
type spcPoint struct {
	min   float64
	value float64
}

type psiPoint struct {
	min        float64
	bin1, bin2 int
}

type customPoint struct {
	min    float64
	metric string
	value  float64
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // test data only
	}
	return b
}

// spcMessage is a MessageRecord of SPC records; a point at minute 67 is
// placed exactly on the window's (exclusive) end.
func (f *ingestFixture) spcMessage(uid, feature string, pts ...spcPoint) []byte {
	recs := make([]any, 0, len(pts))
	for _, p := range pts {
		recs = append(recs, map[string]any{"Spc": map[string]any{
			"created_at": f.at(p.min, p.min == 67), "uid": uid, "feature": feature, "value": p.value, "entity_id": 0,
		}})
	}
	return mustJSON(map[string]any{"records": recs})
}

func (f *ingestFixture) psiMessage(feature string, pts ...psiPoint) []byte {
	var recs []any
	for _, p := range pts {
		for id, n := range map[int]int{1: p.bin1, 2: p.bin2} {
			recs = append(recs, map[string]any{"Psi": map[string]any{
				"created_at": f.at(p.min, false), "uid": f.psiUID, "feature": feature,
				"bin_id": id, "bin_count": n, "entity_id": 0,
			}})
		}
	}
	return mustJSON(map[string]any{"records": recs})
}

func (f *ingestFixture) customMessage(pts ...customPoint) []byte {
	recs := make([]any, 0, len(pts))
	for _, p := range pts {
		recs = append(recs, map[string]any{"Custom": map[string]any{
			"created_at": f.at(p.min, false), "uid": f.customUID, "metric": p.metric, "value": p.value, "entity_id": 0,
		}})
	}
	return mustJSON(map[string]any{"records": recs})
}

// observabilityMessage is one ObservabilityMetrics record of the SPC entity
// with two routes.
func (f *ingestFixture) observabilityMessage(tp string) []byte {
	k := offset(tp) / 100
	return mustJSON(map[string]any{"records": []any{map[string]any{"Observability": map[string]any{
		"uid": f.spcUID, "request_count": 13 + k, "error_count": 1, "entity_id": 0,
		"route_metrics": []any{
			map[string]any{
				"route_name":    "/" + tp + "/predict",
				"metrics":       map[string]any{"p5": 1 + k, "p25": 2 + k, "p50": 3 + k, "p95": 4 + k, "p99": 5 + k},
				"request_count": 10 + k, "error_count": 1, "error_latency": 0.5,
				"status_codes": map[string]any{"200": 9 + k, "500": 1},
			},
			map[string]any{
				"route_name":    "/" + tp + "/health",
				"metrics":       map[string]any{"p5": 0.1, "p25": 0.2, "p50": 0.3, "p95": 0.4, "p99": 0.5},
				"request_count": 3, "error_count": 0, "error_latency": 0,
				"status_codes": map[string]any{"200": 3},
			},
		},
	}}}})
}

func (f *ingestFixture) tagMessage(tp string) []byte {
	return mustJSON(map[string]any{"entity_type": "model", "entity_id": f.run + "-" + tp, "key": "ingested_via", "value": tp})
}

// joinRecords concatenates the "records" of several MessageRecords.
func joinRecords(msgs ...[]byte) []byte {
	var all []json.RawMessage
	for _, m := range msgs {
		var v struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(m, &v); err != nil {
			panic(err) // test data only
		}
		all = append(all, v.Records...)
	}
	return mustJSON(map[string]any{"records": all})
}

// The records of one transport, with the expected reads (verify). Values
// are shifted by offset(tp).
//
// SPC feature <tp>_spc, bins of 15 minutes from t0:
//
//	t0+5m 100   before the window start (t0+7m): not read
//	t0+8m 1, t0+10m 3          → bin t0      avg 2
//	t0+20m 5                    → bin t0+15m  avg 5
//	t0+50m 4, t0+52m 6, t0+58m 8 → bin t0+45m avg 6
//	t0+66m 10                   → bin t0+60m  avg 10
//	t0+67m 1000 exactly the window end (exclusive): not read
//
// Custom metrics <tp>_mae and <tp>_mse (the same created_at at t0+31m, both
// kept):
//
//	mae t0+8m 1, t0+9m 3 → bin t0 avg 2 ∓ sqrt(2) (sample stddev)
//	mae t0+31m 7         → bin t0+30m avg 7 ∓ 0
//	mse t0+31m 9         → bin t0+30m avg 9 ∓ 0
//	mae t0+70m 50        → after the window: not read
//
// PSI feature <tp>_psi (profile bins 1, 2 with proportions 0.4, 0.6):
//
//	t0+3m  500/0  before the window: not read
//	t0+8m  60/60  → bin t0:     q = .5/.5,  PSI = 0.1·ln 1.5
//	t0+40m 90/30  → bin t0+30m: q = .75/.25, PSI = 0.35·ln 4.5
//	t0+50m 10/10  → bin t0+45m: 20 counts ≤ 100, the time bin is dropped
//	window: 150/90 → q = .625/.375, overall PSI = 0.225·ln 2.5
//
// and PSI feature <tp>_unprofiled, which the profile does not know and the
// read leaves out.
func (f *ingestFixture) messages(tp string) (spc, psi, custom []byte) {
	o := offset(tp)
	spc = f.spcMessage(f.spcUID, tp+"_spc",
		spcPoint{5, 100}, spcPoint{8, 1 + o}, spcPoint{10, 3 + o}, spcPoint{20, 5 + o},
		spcPoint{50, 4 + o}, spcPoint{52, 6 + o}, spcPoint{58, 8 + o}, spcPoint{66, 10 + o}, spcPoint{67, 1000})
	psi = joinRecords(
		f.psiMessage(tp+"_psi", psiPoint{3, 500, 0}, psiPoint{8, 60, 60}, psiPoint{40, 90, 30}, psiPoint{50, 10, 10}),
		f.psiMessage(tp+"_unprofiled", psiPoint{8, 60, 60})) // stored, but not read: the profile lacks it
	custom = f.customMessage(
		customPoint{8, tp + "_mae", 1 + o}, customPoint{9, tp + "_mae", 3 + o},
		customPoint{31, tp + "_mae", 7 + o}, customPoint{31, tp + "_mse", 9 + o}, customPoint{70, tp + "_mae", 50})
	return spc, psi, custom
}

// sendAll sends the records of transport tp with send (override per record
// type "spc", "psi", "custom", "observability", "tag"). mixed puts the SPC,
// PSI and Custom records into one message.
func (f *ingestFixture) sendAll(t *testing.T, tp string, send func([]byte) error, override map[string]func([]byte) error, mixed bool) {
	t.Helper()
	spc, psi, custom := f.messages(tp)
	type msg struct {
		kind    string
		payload []byte
	}
	msgs := []msg{{"spc", spc}, {"psi", psi}, {"custom", custom}}
	if mixed {
		msgs = []msg{{"drift", joinRecords(custom, spc, psi)}}
	}
	msgs = append(msgs, msg{"observability", f.observabilityMessage(tp)}, msg{"tag", f.tagMessage(tp)})
	for _, m := range msgs {
		s := send
		if o, ok := override[m.kind]; ok {
			s = o
		}
		if m.kind == "observability" {
			f.obsSentAfter[tp] = time.Now()
		}
		require.NoError(t, s(m.payload), "send %s records through %s", m.kind, tp)
	}
}

// Read-side shapes (api.md §1.8, §1.11, §1.12).
type spcSeries struct {
	CreatedAt []string  `json:"created_at"`
	Values    []float64 `json:"values"`
}

type spcResponse struct {
	Features map[string]spcSeries `json:"features"`
}

type psiResponse struct {
	Features map[string]struct {
		CreatedAt  []string           `json:"created_at"`
		Psi        []float64          `json:"psi"`
		OverallPsi float64            `json:"overall_psi"`
		Bins       map[string]float64 `json:"bins"`
	} `json:"features"`
}

type stats struct {
	Avg        float64 `json:"avg"`
	LowerBound float64 `json:"lower_bound"`
	UpperBound float64 `json:"upper_bound"`
}

type customResponse struct {
	Metrics map[string]struct {
		Metric    string   `json:"metric"`
		CreatedAt []string `json:"created_at"`
		Stats     []stats  `json:"stats"`
	} `json:"metrics"`
}

type observabilityRoute struct {
	RouteName         string             `json:"route_name"`
	CreatedAt         []string           `json:"created_at"`
	P5                []float64          `json:"p5"`
	P25               []float64          `json:"p25"`
	P50               []float64          `json:"p50"`
	P95               []float64          `json:"p95"`
	P99               []float64          `json:"p99"`
	TotalRequestCount []int64            `json:"total_request_count"`
	TotalErrorCount   []int64            `json:"total_error_count"`
	ErrorLatency      []float64          `json:"error_latency"`
	StatusCounts      []map[string]int64 `json:"status_counts"`
}

type observabilityResponse struct {
	Status string               `json:"status"`
	Data   []observabilityRoute `json:"data"`
}

type tagRecord struct {
	EntityType string `json:"entity_type"`
	EntityID   string `json:"entity_id"`
	Key        string `json:"key"`
	Value      string `json:"value"`
}

// driftQuery is the DriftRequest of the custom window, as the Rust client
// sends it (time_interval is still set; the custom range wins).
func (f *ingestFixture) driftQuery(uid string) url.Values {
	return url.Values{
		"uid":                   {uid},
		"space":                 {"e2e"},
		"time_interval":         {"FourHours"},
		"max_data_points":       {"4"},
		"start_custom_datetime": {f.windowStart.Format(time.RFC3339)},
		"end_custom_datetime":   {f.windowEnd.Format(time.RFC3339)},
	}
}

func (f *ingestFixture) readSpc(t *testing.T) spcResponse {
	t.Helper()
	var out spcResponse
	require.NoError(t, f.srv.getJSON("/drift/spc", f.driftQuery(f.spcUID), &out))
	return out
}

// verify checks every read of transport tp's records. c is a *testing.T or
// an EventuallyWithT collector.
func (f *ingestFixture) verify(c assert.TestingT, tp string) {
	o := offset(tp)

	var spc spcResponse
	if err := f.srv.getJSON("/drift/spc", f.driftQuery(f.spcUID), &spc); assert.NoError(c, err) {
		got, ok := spc.Features[tp+"_spc"]
		if assert.True(c, ok, "spc feature %s_spc missing", tp) {
			assert.Equal(c, []string{f.bin(60), f.bin(45), f.bin(15), f.bin(0)}, got.CreatedAt, "spc bins of %s", tp)
			assert.InDeltaSlice(c, []float64{10 + o, 6 + o, 5 + o, 2 + o}, got.Values, 1e-9, "spc averages of %s", tp)
		}
	}

	var custom customResponse
	if err := f.srv.getJSON("/drift/custom", f.driftQuery(f.customUID), &custom); assert.NoError(c, err) {
		mae, ok := custom.Metrics[tp+"_mae"]
		if assert.True(c, ok, "custom metric %s_mae missing", tp) {
			assert.Equal(c, tp+"_mae", mae.Metric)
			assert.Equal(c, []string{f.bin(30), f.bin(0)}, mae.CreatedAt, "custom bins of %s", tp)
			if assert.Len(c, mae.Stats, 2) {
				assertStats(c, stats{7 + o, 7 + o, 7 + o}, mae.Stats[0])
				assertStats(c, stats{2 + o, 2 + o - math.Sqrt2, 2 + o + math.Sqrt2}, mae.Stats[1])
			}
		}
		mse, ok := custom.Metrics[tp+"_mse"]
		if assert.True(c, ok, "custom metric %s_mse (same created_at as %s_mae) missing", tp, tp) {
			assert.Equal(c, []string{f.bin(30)}, mse.CreatedAt)
			if assert.Len(c, mse.Stats, 1) {
				assertStats(c, stats{9 + o, 9 + o, 9 + o}, mse.Stats[0])
			}
		}
	}

	var psi psiResponse
	if err := f.srv.getJSON("/drift/psi", f.driftQuery(f.psiUID), &psi); assert.NoError(c, err) {
		got, ok := psi.Features[tp+"_psi"]
		if assert.True(c, ok, "psi feature %s_psi missing", tp) {
			assert.Equal(c, []string{f.bin(30), f.bin(0)}, got.CreatedAt, "psi bins of %s", tp)
			assert.InDeltaSlice(c, []float64{0.35 * math.Log(4.5), 0.1 * math.Log(1.5)}, got.Psi, 1e-9, "psi of %s", tp)
			assert.InDelta(c, 0.225*math.Log(2.5), got.OverallPsi, 1e-9, "overall psi of %s", tp)
			assert.Len(c, got.Bins, 2)
			assert.InDelta(c, 0.625, got.Bins["1"], 1e-12)
			assert.InDelta(c, 0.375, got.Bins["2"], 1e-12)
		}
	}

	var obs observabilityResponse
	q := url.Values{"uid": {f.spcUID}, "time_interval": {"15minute"}, "max_data_points": {"1"}}
	if err := f.srv.getJSON("/observability/metrics", q, &obs); assert.NoError(c, err) {
		assert.Equal(c, "success", obs.Status)
		k := o / 100
		f.assertRoute(c, obs, tp, observabilityRoute{
			RouteName: "/" + tp + "/predict",
			P5:        []float64{1 + k}, P25: []float64{2 + k}, P50: []float64{3 + k}, P95: []float64{4 + k}, P99: []float64{5 + k},
			TotalRequestCount: []int64{10 + int64(k)}, TotalErrorCount: []int64{1}, ErrorLatency: []float64{0.5},
			StatusCounts: []map[string]int64{{"200": 9 + int64(k), "500": 1}},
		})
		f.assertRoute(c, obs, tp, observabilityRoute{
			RouteName: "/" + tp + "/health",
			P5:        []float64{0.1}, P25: []float64{0.2}, P50: []float64{0.3}, P95: []float64{0.4}, P99: []float64{0.5},
			TotalRequestCount: []int64{3}, TotalErrorCount: []int64{0}, ErrorLatency: []float64{0},
			StatusCounts: []map[string]int64{{"200": 3}},
		})
	}

	var tags struct {
		Tags []tagRecord `json:"tags"`
	}
	id := f.run + "-" + tp
	if err := f.srv.getJSON("/tags", url.Values{"entity_type": {"model"}, "entity_id": {id}}, &tags); assert.NoError(c, err) {
		assert.Equal(c, []tagRecord{{EntityType: "model", EntityID: id, Key: "ingested_via", Value: tp}}, tags.Tags)
	}
}

func assertStats(c assert.TestingT, want, got stats) {
	assert.InDelta(c, want.Avg, got.Avg, 1e-9, "avg")
	assert.InDelta(c, want.LowerBound, got.LowerBound, 1e-9, "lower_bound")
	assert.InDelta(c, want.UpperBound, got.UpperBound, 1e-9, "upper_bound")
}

// assertRoute checks one route of the observability answer. The record
// carries no timestamp (created_at is the insert time), so its single bin
// is the 15-minute, epoch-aligned bin of a moment between sending and now.
func (f *ingestFixture) assertRoute(c assert.TestingT, obs observabilityResponse, tp string, want observabilityRoute) {
	i := slices.IndexFunc(obs.Data, func(r observabilityRoute) bool { return r.RouteName == want.RouteName })
	if !assert.GreaterOrEqual(c, i, 0, "observability route %s missing", want.RouteName) {
		return
	}
	got := obs.Data[i]
	if assert.Len(c, got.CreatedAt, 1, "bins of %s", want.RouteName) {
		at, err := time.Parse(time.RFC3339Nano, got.CreatedAt[0])
		if assert.NoError(c, err) {
			lo := f.obsSentAfter[tp].UTC().Truncate(15 * time.Minute)
			hi := time.Now().UTC().Truncate(15 * time.Minute)
			assert.True(c, at.Equal(at.Truncate(15*time.Minute)) && !at.Before(lo) && !at.After(hi),
				"bin %s of %s: want a 15-minute boundary in [%s, %s]", got.CreatedAt[0], want.RouteName, lo, hi)
		}
	}
	want.CreatedAt = got.CreatedAt
	assert.Equal(c, want, got)
}

// verifyTotals checks, once every transport's records are read back, that
// nothing else was stored: exactly the transports' series, and the tag
// search finds each transport's entity.
func (f *ingestFixture) verifyTotals(t *testing.T) {
	t.Helper()
	var want []string
	for _, tp := range transportNames {
		want = append(want, tp+"_spc")
	}
	assert.ElementsMatch(t, want, keys(f.readSpc(t).Features))

	var psi psiResponse
	require.NoError(t, f.srv.getJSON("/drift/psi", f.driftQuery(f.psiUID), &psi))
	want = want[:0]
	for _, tp := range transportNames {
		want = append(want, tp+"_psi")
	}
	assert.ElementsMatch(t, want, keys(psi.Features), "idle_psi has no data, <tp>_unprofiled no profile entry")

	var custom customResponse
	require.NoError(t, f.srv.getJSON("/drift/custom", f.driftQuery(f.customUID), &custom))
	want = want[:0]
	for _, tp := range transportNames {
		want = append(want, tp+"_mae", tp+"_mse")
	}
	assert.ElementsMatch(t, want, keys(custom.Metrics))

	var obs observabilityResponse
	require.NoError(t, f.srv.getJSON("/observability/metrics",
		url.Values{"uid": {f.spcUID}, "time_interval": {"15minute"}, "max_data_points": {"1"}}, &obs))
	var routes []string
	for _, r := range obs.Data {
		routes = append(routes, r.RouteName)
	}
	assert.True(t, slices.IsSorted(routes), "routes ordered by name: %v", routes)
	assert.Len(t, routes, 2*len(transportNames), "routes: %v", routes)

	for _, tp := range transportNames {
		status, body := f.srv.post("/tags/entity", mustJSON(map[string]any{
			"entity_type": "model", "tags": []any{map[string]any{"key": "ingested_via", "value": tp}}, "match_all": true,
		}))
		require.Equal(t, http.StatusOK, status, string(body))
		assert.JSONEq(t, string(mustJSON(map[string]any{"entity_id": []string{f.run + "-" + tp}})), string(body))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// httpBadInput feeds malformed requests to POST /scouter/message.
func (f *ingestFixture) httpBadInput(t *testing.T) {
	srv := f.srv
	errorOf := func(body []byte) string {
		var e struct {
			Error string `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &e), "error body %s", body)
		require.NotEmpty(t, e.Error, "error body %s", body)
		return e.Error
	}
	wrongType := bytes.Replace(f.spcMessage(f.spcUID, "http_badtype", spcPoint{8, 1}), []byte(`"value":1`), []byte(`"value":"high"`), 1)
	missing := bytes.Replace(f.spcMessage(f.spcUID, "http_nofeature", spcPoint{8, 1}), []byte(`"feature":"http_nofeature",`), nil, 1)
	for _, tt := range []struct {
		name       string
		body       string
		wantStatus int
		wantInErr  []string
	}{
		{"truncated JSON", `{"records":[`, http.StatusBadRequest, []string{"JSON"}},
		{"not JSON", `records: []`, http.StatusBadRequest, []string{"JSON"}},
		{"empty body", ``, http.StatusBadRequest, []string{"empty"}},
		{"records not a list", `{"records":{"Spc":{}}}`, http.StatusUnprocessableEntity, []string{"records"}},
		{"unknown record type", `{"records":[{"Spk":{}}]}`, http.StatusUnprocessableEntity, []string{"records[0]", "Spk"}},
		{"wrong value type", string(wrongType), http.StatusUnprocessableEntity, []string{"records[0].Spc.value"}},
		{"missing field", string(missing), http.StatusUnprocessableEntity, []string{"records[0].Spc.feature"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := srv.post("/message", []byte(tt.body))
			assert.Equal(t, tt.wantStatus, status, "body %s", body)
			msg := errorOf(body)
			for _, s := range tt.wantInErr {
				assert.Contains(t, msg+string(body), s)
			}
		})
	}

	t.Run("unknown uid is named and its neighbour stored", func(t *testing.T) {
		const ghost = "019ae1b4-0000-7000-8000-00000000beef"
		body := joinRecords(f.spcMessage(f.spcUID, "http_neighbour", spcPoint{8, 11}), f.spcMessage(ghost, "http_ghost", spcPoint{8, 11}))
		status, resp := srv.post("/message", body)
		assert.Equal(t, http.StatusUnprocessableEntity, status, string(resp))
		var r struct {
			Error    string `json:"error"`
			Rejected []struct {
				Index  int    `json:"index"`
				Reason string `json:"reason"`
			} `json:"rejected"`
			Stored int `json:"stored"`
		}
		require.NoError(t, json.Unmarshal(resp, &r), string(resp))
		assert.Equal(t, "1 of 2 records rejected, 1 stored", r.Error)
		assert.Equal(t, 1, r.Stored)
		if assert.Len(t, r.Rejected, 1) {
			assert.Equal(t, 1, r.Rejected[0].Index)
			assert.Contains(t, r.Rejected[0].Reason, ghost)
		}
		spc := f.readSpc(t)
		assert.Equal(t, spcSeries{CreatedAt: []string{f.bin(0)}, Values: []float64{11}}, spc.Features["http_neighbour"])
		assert.NotContains(t, spc.Features, "http_ghost")
		assert.NotContains(t, spc.Features, "http_badtype")
		assert.NotContains(t, spc.Features, "http_nofeature")
	})

	t.Run("body over the limit", func(t *testing.T) {
		const limit = 10 << 20 // record.MaxMessageSize, the documented ingest limit
		// A valid message padded with spaces to limit+1 bytes.
		valid := f.spcMessage(f.spcUID, "http_toolarge", spcPoint{8, 1})
		big := append(bytes.Repeat([]byte(" "), limit+1-len(valid)), valid...)
		status, body, err := srv.do(http.MethodPost, "/message", nil, bytes.NewReader(big), nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusRequestEntityTooLarge, status, "with Content-Length: %s", body)
		assert.Contains(t, errorOf(body), "too large")

		// Chunked (no Content-Length): the limit applies while reading.
		status, body, err = srv.do(http.MethodPost, "/message", nil, io.MultiReader(bytes.NewReader(big)), nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusRequestEntityTooLarge, status, "chunked: %s", body)

		// Exactly at the limit is accepted.
		status, body, err = srv.do(http.MethodPost, "/message", nil, bytes.NewReader(big[1:]), nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status, "at the limit: %.200s", body)
		assert.Contains(t, f.readSpc(t).Features, "http_toolarge")
	})

	t.Run("content type and auth", func(t *testing.T) {
		valid := f.spcMessage(f.spcUID, "http_plain", spcPoint{8, 1})
		h := srv.authHeader(srv.token)
		h.Set("Content-Type", "text/plain")
		status, body, err := srv.do(http.MethodPost, "/message", nil, bytes.NewReader(valid), h)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnsupportedMediaType, status, string(body))

		status, body, err = srv.do(http.MethodPost, "/message", nil, bytes.NewReader(valid), http.Header{"Content-Type": {"application/json"}})
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, status, string(body))
		assert.NotContains(t, f.readSpc(t).Features, "http_plain")
	})
}

// poison returns what is sent through broker tp: not JSON, a record with an
// unknown uid, a record with a wrongly typed value, then a valid record that
// must be stored (the consumer moved on).
func (f *ingestFixture) poison(tp string) [][]byte {
	wrongType := bytes.Replace(f.spcMessage(f.spcUID, tp+"_badtype", spcPoint{8, 1}), []byte(`"value":1`), []byte(`"value":"high"`), 1)
	return [][]byte{
		[]byte("poison through " + tp + ": this is not JSON {"),
		f.spcMessage(f.ghostUID(tp), tp+"_ghost", spcPoint{8, 1}),
		wrongType,
		f.spcMessage(f.spcUID, tp+"_after_poison", spcPoint{8, 42}),
	}
}

func (f *ingestFixture) ghostUID(tp string) string { return "ghost-uid-of-" + tp }

type deadLetterItem struct {
	ID          int64  `json:"id"`
	CreatedAt   string `json:"created_at"`
	Transport   string `json:"transport"`
	Source      string `json:"source"`
	Reason      string `json:"reason"`
	RecordIndex *int32 `json:"record_index"`
	Payload     string `json:"payload"`
	Base64      bool   `json:"payload_base64"`
}

// verifyPoison checks that broker tp's poison is dead-lettered with its
// bytes and reason, counted in /metrics, and that the valid record sent
// after it is stored.
func (f *ingestFixture) verifyPoison(c assert.TestingT, tp string) {
	var spc spcResponse
	if err := f.srv.getJSON("/drift/spc", f.driftQuery(f.spcUID), &spc); assert.NoError(c, err) {
		assert.Equal(c, spcSeries{CreatedAt: []string{f.bin(0)}, Values: []float64{42}}, spc.Features[tp+"_after_poison"],
			"the valid message after the poison")
		assert.NotContains(c, spc.Features, tp+"_badtype")
		assert.NotContains(c, spc.Features, tp+"_ghost")
	}

	var page struct {
		Items []deadLetterItem `json:"items"`
	}
	if err := f.srv.getJSON("/dead-letters", url.Values{"limit": {"1000"}}, &page); !assert.NoError(c, err) {
		return
	}
	var mine []deadLetterItem
	for _, d := range page.Items {
		if d.Transport == tp {
			mine = append(mine, d)
		}
	}
	poison := f.poison(tp)
	find := func(what string, match func(d deadLetterItem) bool) {
		i := slices.IndexFunc(mine, match)
		if !assert.GreaterOrEqual(c, i, 0, "%s dead letter of %s missing; have %+v", what, tp, mine) {
			return
		}
		d := mine[i]
		assert.True(c, strings.HasPrefix(d.Source, tp+":"), "source %q", d.Source)
		assert.NotEmpty(c, d.Reason)
		assert.False(c, d.Base64)
	}
	find("not-JSON", func(d deadLetterItem) bool {
		return d.RecordIndex == nil && d.Payload == string(poison[0])
	})
	find("unknown-uid", func(d deadLetterItem) bool {
		return d.RecordIndex != nil && *d.RecordIndex == 0 && strings.Contains(d.Reason, f.ghostUID(tp)) &&
			strings.Contains(d.Payload, tp+"_ghost")
	})
	find("wrong-type", func(d deadLetterItem) bool {
		return d.RecordIndex != nil && *d.RecordIndex == 0 && strings.Contains(d.Reason, "records[0].Spc.value") &&
			strings.Contains(d.Payload, tp+"_badtype")
	})
	assert.Len(c, mine, 3, "dead letters of %s: %+v", tp, mine)

	metrics, err := f.srv.scrape()
	if assert.NoError(c, err) {
		for _, kind := range []string{"malformed", "unknown_uid", "invalid_record"} {
			assert.Contains(c, metrics, fmt.Sprintf(`dead_letters_total{reason_kind=%q,transport=%q} 1`, kind, tp))
		}
	}
}

// Profiles, registered as the Python client sends them (the profile is a
// JSON string inside ProfileRequest).
const spcProfileJSON = `{
  "features": {
    "col_1": {"id": "col_1", "center": -3.997, "one_ucl": -1.974, "one_lcl": -6.020,
              "two_ucl": 0.049, "two_lcl": -8.043, "three_ucl": 2.072, "three_lcl": -10.066,
              "timestamp": "2026-03-20T10:00:00.000123Z"}
  },
  "config": {
    "sample_size": 25, "sample": true,
    "space": "e2e", "name": "model", "version": "1.0.0", "uid": "",
    "alert_config": {
      "rule": {"rule": "8 16 4 8 2 4 1 1", "zones_to_monitor": ["Zone1", "Zone2", "Zone3", "Zone4"]},
      "schedule": "0 0 * * * *",
      "features_to_monitor": ["col_1"],
      "dispatch_config": {"Console": {"enabled": true}}
    },
    "feature_map": {"features": {}},
    "drift_type": "Spc"
  },
  "scouter_version": "0.25.0"
}`

const customProfileJSON = `{
  "config": {
    "sample_size": 25, "space": "e2e", "name": "model", "version": "1.0.0", "uid": "",
    "alert_config": {
      "dispatch_config": {"Console": {"enabled": true}},
      "schedule": "0 0 * * * *",
      "alert_conditions": {
        "mae": {"baseline_value": 1.0, "alert_threshold": "Above", "delta": null}
      }
    },
    "drift_type": "Custom"
  },
  "metrics": {"mae": 1.0},
  "scouter_version": "0.25.0"
}`

// psiProfileJSON has a feature <tp>_psi per transport, each with two bins
// of reference proportions 0.4 and 0.6, plus idle_psi that gets no data.
func psiProfileJSON(transports []string) string {
	features := map[string]any{}
	names := append([]string{"idle_psi"}, transports...)
	for i, tp := range names {
		name := tp
		if i > 0 {
			name = tp + "_psi"
		}
		features[name] = map[string]any{
			"id": name,
			"bins": []any{
				map[string]any{"id": 1, "lower_limit": "-inf", "upper_limit": 0.0, "proportion": 0.4},
				map[string]any{"id": 2, "lower_limit": 0.0, "upper_limit": "inf", "proportion": 0.6},
			},
			"timestamp": "2026-03-20T10:00:00Z",
			"bin_type":  "Numeric",
		}
	}
	monitored := keys(features)
	slices.Sort(monitored)
	return string(mustJSON(map[string]any{
		"features": features,
		"config": map[string]any{
			"space": "e2e", "name": "model", "version": "1.0.0", "uid": "",
			"alert_config": map[string]any{
				"schedule":            "0 0 0 * * *",
				"features_to_monitor": monitored,
				"dispatch_config":     map[string]any{"Console": map[string]any{"enabled": true}},
				"threshold":           map[string]any{"ChiSquare": map[string]any{"alpha": 0.05}},
			},
			"feature_map":          map[string]any{"features": map[string]any{}},
			"drift_type":           "Psi",
			"categorical_features": nil,
			"binning_strategy":     map[string]any{"QuantileBinning": map[string]any{"num_bins": 2}},
		},
		"scouter_version": "0.25.0",
	}))
}
