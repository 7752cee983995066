package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
)

const (
	uidA = "11111111-1111-1111-1111-111111111111"
	uidB = "22222222-2222-2222-2222-222222222222"
)

func TestSubmitStoresEachType(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA)
	id := f.ids[uidA]
	ctx := t.Context()

	tests := []struct {
		name  string
		msg   string
		check func(t *testing.T)
	}{
		{
			name: "spc",
			msg:  records(spcJSON(uidA, "2026-03-26T12:00:00.000001Z", "col_1", 10.5), spcJSON(uidA, "2026-03-26T12:00:00.000002Z", "col_2", -3.25)),
			check: func(t *testing.T) {
				rows, err := pool.Query(ctx, "SELECT created_at, entity_id, feature, value FROM scouter.spc_drift ORDER BY created_at")
				require.NoError(t, err)
				defer rows.Close()
				type row struct {
					at    time.Time
					id    int32
					feat  string
					value float64
				}
				var got []row
				for rows.Next() {
					var r row
					require.NoError(t, rows.Scan(&r.at, &r.id, &r.feat, &r.value))
					r.at = r.at.UTC()
					got = append(got, r)
				}
				assert.Equal(t, []row{
					{time.Date(2026, 3, 26, 12, 0, 0, 1000, time.UTC), id, "col_1", 10.5},
					{time.Date(2026, 3, 26, 12, 0, 0, 2000, time.UTC), id, "col_2", -3.25},
				}, got)
			},
		},
		{
			name: "psi",
			msg: records(
				fmt.Sprintf(`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":"f1","bin_id":1,"bin_count":37,"entity_id":0}}`, uidA),
				fmt.Sprintf(`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":"f1","bin_id":2,"bin_count":5,"entity_id":0}}`, uidA)),
			check: func(t *testing.T) {
				var sum, bins int
				require.NoError(t, pool.QueryRow(ctx,
					"SELECT sum(bin_count), count(*) FROM scouter.psi_drift WHERE entity_id = $1 AND feature = 'f1'", id).Scan(&sum, &bins))
				assert.Equal(t, 42, sum)
				assert.Equal(t, 2, bins)
			},
		},
		{
			// Two metrics sharing a timestamp are both kept (upstream kept one).
			name: "custom",
			msg: records(
				fmt.Sprintf(`{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"metric":"mse","value":14.0,"entity_id":0}}`, uidA),
				fmt.Sprintf(`{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"metric":"mae","value":2.5,"entity_id":0}}`, uidA)),
			check: func(t *testing.T) {
				rows, err := pool.Query(ctx, "SELECT metric, value FROM scouter.custom_drift WHERE entity_id = $1 ORDER BY metric", id)
				require.NoError(t, err)
				defer rows.Close()
				got := map[string]float64{}
				for rows.Next() {
					var m string
					var v float64
					require.NoError(t, rows.Scan(&m, &v))
					got[m] = v
				}
				assert.Equal(t, map[string]float64{"mae": 2.5, "mse": 14}, got)
			},
		},
		{
			name: "observability",
			msg: records(fmt.Sprintf(`{"Observability":{"uid":%q,"request_count":10,"error_count":2,"entity_id":0,
				"route_metrics":[{"route_name":"/predict","metrics":{"p5":1,"p25":2,"p50":3,"p95":4,"p99":5},
				"request_count":10,"error_count":2,"error_latency":0.5,"status_codes":{"200":8,"500":2}}]}}`, uidA)),
			check: func(t *testing.T) {
				var req, errs int64
				var routes []byte
				require.NoError(t, pool.QueryRow(ctx,
					"SELECT request_count, error_count, route_metrics FROM scouter.observability_metric WHERE entity_id = $1", id).
					Scan(&req, &errs, &routes))
				assert.Equal(t, int64(10), req)
				assert.Equal(t, int64(2), errs)
				assert.JSONEq(t, `[{"route_name":"/predict","metrics":{"p5":1,"p25":2,"p50":3,"p95":4,"p99":5},
					"request_count":10,"error_count":2,"error_latency":0.5,"status_codes":{"200":8,"500":2}}]`, string(routes))
			},
		},
		{
			name: "tag",
			msg:  `{"entity_type":"trace","entity_id":"0123456789abcdef0123456789abcdef","key":"env","value":"prod"}`,
			check: func(t *testing.T) {
				assert.Equal(t, 1, count(t, pool,
					"SELECT count(*) FROM scouter.tags WHERE entity_type='trace' AND entity_id='0123456789abcdef0123456789abcdef' AND key='env' AND value='prod'"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := decode(t, tt.msg)
			res, err := f.p.Submit(ctx, msg)
			require.NoError(t, err)
			assert.Empty(t, res.Rejected)
			wantStored := len(msg.Records)
			if msg.Kind == record.KindTag {
				wantStored = 1
			}
			assert.Equal(t, wantStored, res.Stored, "stored")
			tt.check(t)
		})
	}
	assert.Equal(t, 2.0, counter(t, f.p.m.inserted.WithLabelValues(typeSpc)))
	assert.Equal(t, 1.0, counter(t, f.p.m.inserted.WithLabelValues(typeObservability)))
	assert.Equal(t, 5.0, counter(t, f.p.m.processed.WithLabelValues("direct")))
}

func TestSubmitDuplicateStoresOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA)
	drift := records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1), spcJSON(uidA, "2026-03-26T12:00:00Z", "b", 2),
		fmt.Sprintf(`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":"f","bin_id":1,"bin_count":3}}`, uidA),
		fmt.Sprintf(`{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"metric":"m","value":1}}`, uidA))
	tag := `{"entity_type":"trace","entity_id":"x","key":"k","value":"v"}`
	for range 3 {
		for _, m := range []string{drift, tag} {
			res, err := f.p.Submit(t.Context(), decode(t, m))
			require.NoError(t, err)
			assert.Empty(t, res.Rejected)
		}
	}
	assert.Equal(t, 2, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.psi_drift"))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.custom_drift"))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.tags"))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.tags WHERE updated_at > created_at"),
		"a repeated tag bumps updated_at")
	assert.Equal(t, 2.0, counter(t, f.p.m.inserted.WithLabelValues(typeSpc)), "duplicates are not counted as inserted")
	assert.Equal(t, 0.0, counter(t, f.p.m.insertErrors), "a duplicate is not an insert error")

	// The same record twice in one message (one statement) is stored once too.
	twice := spcJSON(uidA, "2026-03-27T12:00:00Z", "c", 3)
	res, err := f.p.Submit(t.Context(), decode(t, records(twice, twice)))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Stored)
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.spc_drift WHERE feature = 'c'"))
}

// Duplicates inside one batch (the same tag twice) must not fail the upsert.
func TestFlushDeduplicatesTagsInOneBatch(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{})
	tag := decode(t, `{"entity_type":"trace","entity_id":"x","key":"k","value":"v"}`)
	var jobs []*job
	for range 3 {
		j, err := f.p.prepare(t.Context(), "test:dup", tag, nil, nil, false)
		require.NoError(t, err)
		jobs = append(jobs, j)
	}
	conn := newHeldConn(pool)
	defer conn.release()
	f.p.flush(jobs, conn)
	for _, j := range jobs {
		require.NoError(t, <-j.done)
	}
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.tags"))
}

func TestSubmitMixedTypesAreSplit(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA, uidB)
	msg := decode(t, records(
		fmt.Sprintf(`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":"f","bin_id":1,"bin_count":3}}`, uidB),
		spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1),
		fmt.Sprintf(`{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"metric":"m","value":1}}`, uidA),
		spcJSON(uidB, "2026-03-26T12:00:00Z", "a", 1),
	))
	res, err := f.p.Submit(t.Context(), msg)
	require.NoError(t, err)
	assert.Equal(t, 4, res.Stored)
	// Each record is stored under its own uid's entity, not the first one's.
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.spc_drift WHERE entity_id = $1", f.ids[uidA]))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.spc_drift WHERE entity_id = $1", f.ids[uidB]))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.psi_drift WHERE entity_id = $1", f.ids[uidB]))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.custom_drift WHERE entity_id = $1", f.ids[uidA]))
}

func TestSubmitRejectsBadRecordsKeepsNeighbours(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA)
	const unknown = "99999999-0000-0000-0000-000000000000"
	msg := decode(t, records(
		spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1),
		spcJSON(unknown, "2026-03-26T12:00:00Z", "a", 1),
		`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"`+uidA+`","feature":"nul\u0000byte","value":1}}`,
		spcJSON(uidA, "2026-03-26T12:00:00Z", "b", 2),
		spcJSON(unknown, "2026-03-26T12:00:01Z", "a", 1),
	))
	res, err := f.p.Submit(t.Context(), msg)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Stored)
	require.Len(t, res.Rejected, 3)
	assert.Equal(t, []int{1, 2, 4}, []int{res.Rejected[0].Index, res.Rejected[1].Index, res.Rejected[2].Index})
	assert.Contains(t, res.Rejected[0].Reason, unknown)
	assert.Contains(t, res.Rejected[0].Reason, "records[1].Spc.uid")
	assert.Contains(t, res.Rejected[1].Reason, "records[2].Spc.feature")
	assert.Contains(t, res.Rejected[1].Reason, "NUL")
	assert.Equal(t, 2, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
	assert.Empty(t, deadLetters(t, pool), "Submit reports rejections to its caller, it does not dead-letter them")

	// A profile registered later is found (misses are not cached).
	registerEntity(t, pool, unknown, "late")
	res, err = f.p.Submit(t.Context(), decode(t, records(spcJSON(unknown, "2026-03-26T12:00:00Z", "a", 1))))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Stored)
	assert.Empty(t, res.Rejected)
}

func TestSubmitDefersGenAIAndTraces(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA)
	workflow := fmt.Sprintf(`{"GenAIWorkflowRecord":{"created_at":"2026-03-26T12:00:00Z","record_uid":"r1","entity_id":0,
		"total_tasks":2,"passed_tasks":1,"failed_tasks":1,"pass_rate":0.5,"duration_ms":12,"entity_uid":%q,
		"execution_plan":{"stages":[["a"]],"nodes":{}},"id":0}}`, uidA)
	res, err := f.p.SubmitFrom(t.Context(), "http:/scouter/message",
		decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1), workflow)))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Stored)
	assert.Equal(t, 1, res.Deferred)

	trace := `{"request":{"resourceSpans":[]}}`
	res, err = f.p.SubmitFrom(t.Context(), "grpc:InsertMessage", decode(t, trace))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Deferred)

	dl := deadLetters(t, pool)
	require.Len(t, dl, 2)
	assert.Equal(t, "http", dl[0].Transport)
	assert.Equal(t, "http:/scouter/message", dl[0].Source)
	assert.Equal(t, UnsupportedReason, dl[0].Reason)
	assert.Equal(t, ptr(int32(1)), dl[0].RecordIndex)
	// The payload is a replayable one-record message.
	replay, err := record.Decode(dl[0].Payload)
	require.NoError(t, err)
	require.Len(t, replay.Records, 1)
	assert.Equal(t, record.TypeGenAIWorkflow, replay.Records[0].Type)
	assert.Equal(t, "r1", replay.Records[0].GenAIWorkflow.RecordUID)

	assert.Equal(t, "grpc", dl[1].Transport)
	assert.Nil(t, dl[1].RecordIndex)
	assert.JSONEq(t, trace, string(dl[1].Payload))
	assert.Equal(t, 1.0, counter(t, f.p.m.deadLetters.WithLabelValues("grpc", kindUnsupported)))
}

func TestHandlePoison(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA)
	const unknown = "99999999-0000-0000-0000-000000000000"
	badElem := `{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"` + uidA + `","feature":"x","value":"high"}}`
	unknownElem := spcJSON(unknown, "2026-03-26T12:00:00Z", "a", 1)
	tooLarge := []byte(`{"records":[` + strings.Repeat(" ", record.MaxMessageSize) + `]}`)

	tests := []struct {
		name       string
		payload    []byte
		wantDead   []deadRow // Source is filled in
		wantKind   string
		wantStored int
	}{
		{
			name:     "not json",
			payload:  []byte("\x00\xffnot json"),
			wantDead: []deadRow{{Transport: "kafka", Reason: "invalid JSON", Payload: []byte("\x00\xffnot json")}},
			wantKind: kindMalformed,
		},
		{
			name:     "wrong shape",
			payload:  []byte(`{"records":"nope"}`),
			wantDead: []deadRow{{Transport: "kafka", Reason: "records: expected array", Payload: []byte(`{"records":"nope"}`)}},
			wantKind: kindMalformed,
		},
		{
			name:     "too large",
			payload:  tooLarge,
			wantDead: []deadRow{{Transport: "kafka", Reason: "too large", Payload: tooLarge}},
			wantKind: kindTooLarge,
		},
		{
			name:    "invalid and unknown records beside valid ones",
			payload: []byte(records(spcJSON(uidA, "2026-03-26T12:00:00Z", "ok", 1), badElem, unknownElem)),
			wantDead: []deadRow{
				{Transport: "kafka", Reason: "records[1].Spc.value: expected number", RecordIndex: ptr(int32(1)), Payload: []byte(records(badElem))},
				{Transport: "kafka", Reason: unknown, RecordIndex: ptr(int32(2))},
			},
			wantKind:   kindInvalidRecord,
			wantStored: 1,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(t.Context(), "TRUNCATE scouter.dead_letter, scouter.spc_drift")
			require.NoError(t, err)
			source := fmt.Sprintf("kafka:scouter_monitoring/0@%d", i)
			require.NoError(t, f.p.Handle(t.Context(), source, tt.payload))

			got := deadLetters(t, pool)
			require.Len(t, got, len(tt.wantDead))
			for k, want := range tt.wantDead {
				assert.Equal(t, want.Transport, got[k].Transport)
				assert.Equal(t, source, got[k].Source)
				assert.Contains(t, got[k].Reason, want.Reason)
				assert.Equal(t, want.RecordIndex, got[k].RecordIndex)
				if want.Payload != nil {
					assert.Equal(t, want.Payload, got[k].Payload)
				}
			}
			assert.Equal(t, tt.wantStored, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
			assert.GreaterOrEqual(t, counter(t, f.p.m.deadLetters.WithLabelValues("kafka", tt.wantKind)), 1.0)
		})
	}
	// The unknown-uid record's payload replays as a one-record message.
	got := deadLetters(t, pool)
	msg, err := record.Decode(got[1].Payload)
	require.NoError(t, err)
	require.Len(t, msg.Records, 1)
	assert.Equal(t, unknown, msg.Records[0].UID())
	assert.Equal(t, 1.0, counter(t, f.p.m.deadLetters.WithLabelValues("kafka", kindUnknownUID)))
}

// poisonTrigger makes the database refuse SPC rows whose feature is
// "poison" with a data exception (SQLSTATE 22023), as it would a value out
// of range.
func poisonTrigger(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(t.Context(), `
		CREATE FUNCTION scouter.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.feature = 'poison' THEN
				RAISE EXCEPTION 'poisoned value' USING ERRCODE = '22023';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER test_poison BEFORE INSERT ON scouter.spc_drift
			FOR EACH ROW EXECUTE FUNCTION scouter.test_poison();`)
	require.NoError(t, err)
}

func TestFlushIsolatesARejectedMessage(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	poisonTrigger(t, pool)
	f := newFixture(t, pool, Options{}, uidA)
	good := decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "good", 1)))
	bad := decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "poison", 1)))
	var jobs []*job
	for _, m := range []*record.Message{good, bad, good} {
		j, err := f.p.prepare(t.Context(), "test:batch", m, nil, nil, false)
		require.NoError(t, err)
		jobs = append(jobs, j)
	}
	conn := newHeldConn(pool)
	defer conn.release()
	f.p.flush(jobs, conn) // one batch: it fails, then each job is retried alone
	require.NoError(t, <-jobs[0].done)
	err := <-jobs[1].done
	require.ErrorIs(t, err, ErrRejected)
	assert.Contains(t, err.Error(), "poisoned value")
	require.NoError(t, <-jobs[2].done)
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.spc_drift WHERE feature = 'good'"))
	assert.Equal(t, 2.0, counter(t, f.p.m.insertErrors), "the batch and the poisoned retry failed")

	// Through Handle, the refused message is dead-lettered whole.
	payload := []byte(records(spcJSON(uidA, "2026-03-26T12:00:00Z", "poison", 1)))
	require.NoError(t, f.p.Handle(t.Context(), "redis:scouter_monitoring", payload))
	dl := deadLetters(t, pool)
	require.Len(t, dl, 1)
	assert.Equal(t, "redis", dl[0].Transport)
	assert.Equal(t, payload, dl[0].Payload)
	assert.Nil(t, dl[0].RecordIndex)
	assert.Contains(t, dl[0].Reason, "poisoned value")
	assert.Equal(t, 1.0, counter(t, f.p.m.deadLetters.WithLabelValues("redis", kindRejectedByDB)))
}

func TestSubmitDatabaseDown(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)

	t.Run("unreachable", func(t *testing.T) {
		down := pgtest.Connect(t, closedPortURI(t))
		f := newFixture(t, pool, Options{DB: down}, uidA) // entities resolve, writes fail
		msg := decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1)))
		_, err := f.p.Submit(t.Context(), msg)
		require.ErrorIs(t, err, ErrUnavailable)
		// Handle returns the error too: the consumer must redeliver.
		require.ErrorIs(t, f.p.Handle(t.Context(), "kafka:t/0@1", []byte("not json")), ErrUnavailable)
		assert.Equal(t, 2.0, counter(t, f.p.m.insertErrors))
	})

	t.Run("connection killed mid-transaction", func(t *testing.T) {
		// The PSI insert runs after the SPC insert in the same transaction;
		// its trigger kills the backend, as an outage would.
		_, err := pool.Exec(t.Context(), `
			CREATE FUNCTION scouter.test_kill() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				PERFORM pg_terminate_backend(pg_backend_pid());
				PERFORM pg_sleep(5);
				RETURN NEW;
			END $$;
			CREATE TRIGGER test_kill BEFORE INSERT ON scouter.psi_drift
				FOR EACH ROW EXECUTE FUNCTION scouter.test_kill();`)
		require.NoError(t, err)
		f := newFixture(t, pool, Options{}, uidA)
		msg := decode(t, records(
			spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1),
			fmt.Sprintf(`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":"f","bin_id":1,"bin_count":3}}`, uidA)))
		_, err = f.p.Submit(t.Context(), msg)
		require.ErrorIs(t, err, ErrUnavailable)
		t.Logf("submit during the outage: %v", err)
		assert.Equal(t, 0, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"), "nothing half-written")

		// Once the database is healthy again, resending stores everything.
		_, err = pool.Exec(t.Context(), "DROP TRIGGER test_kill ON scouter.psi_drift")
		require.NoError(t, err)
		res, err := f.p.Submit(t.Context(), msg)
		require.NoError(t, err)
		assert.Equal(t, 2, res.Stored)
		assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
		assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.psi_drift"))
	})
}

func TestSubmitConcurrent(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{Writers: 2, QueueSize: 16}, uidA, uidB)
	const goroutines, perGoroutine, recordsPer = 50, 10, 5
	base := time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := range goroutines {
		wg.Go(func() {
			for m := range perGoroutine {
				var elems []string
				for r := range recordsPer {
					at := base.Add(time.Duration((g*perGoroutine+m)*recordsPer+r) * time.Microsecond)
					elems = append(elems, spcJSON([]string{uidA, uidB}[g%2], record.FormatTime(at), "f", float64(r)))
				}
				msg, err := record.Decode([]byte(records(elems...)))
				if err != nil {
					errs <- err
					return
				}
				res, err := f.p.SubmitFrom(context.Background(), "http:/scouter/message", msg)
				if err == nil && res.Stored != recordsPer {
					err = fmt.Errorf("stored %d, want %d", res.Stored, recordsPer)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := goroutines * perGoroutine * recordsPer
	assert.Equal(t, total, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
	assert.Equal(t, float64(goroutines*perGoroutine), counter(t, f.p.m.processed.WithLabelValues("http")))

	// Group commit: fewer transactions than messages.
	commits := histogramCount(t, f, MetricBatchSize)
	assert.Less(t, commits, uint64(goroutines*perGoroutine), "got %d commits for %d messages", commits, goroutines*perGoroutine)
}

func histogramCount(t *testing.T, f *fixture, name string) uint64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestCloseFlushesAndRefuses(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{QueueSize: 100}, uidA)
	const n = 40
	var wg sync.WaitGroup
	results := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			msg := decode(t, records(spcJSON(uidA, record.FormatTime(time.Unix(int64(i), 0)), "f", 1)))
			_, err := f.p.Submit(context.Background(), msg)
			results <- err
		})
	}
	// Close while the submissions are under way: each one is either
	// committed or refused with ErrClosed, never left hanging or lost.
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, f.p.Close(t.Context()))
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, ErrClosed)
	}
	assert.Equal(t, ok, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))

	_, err := f.p.Submit(t.Context(), decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "late", 1))))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, f.p.Handle(t.Context(), "kafka:t/0@1", []byte("{}")), ErrClosed)
	require.NoError(t, f.p.Close(t.Context()), "Close is idempotent")
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := New(Options{})
	require.Error(t, err)
	pool := pgtest.New(t)
	_, err = New(Options{DB: pool})
	require.ErrorContains(t, err, "Entities")
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA)
	_, err := f.p.Submit(t.Context(), decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1))))
	require.NoError(t, err)
	n, err := testutil.GatherAndCount(f.reg, MetricRecordsInserted, MetricMessagesProcessed, MetricInsertErrors,
		MetricBatchSize, MetricCommitDuration)
	require.NoError(t, err)
	assert.Equal(t, 5+1+1+1+1, n) // five record types, one transport, the counter, two histograms
	// A second pipeline on the same registerer is a configuration error.
	res, _ := New(Options{DB: pool, Entities: f.p.entities, Registerer: f.reg})
	assert.Nil(t, res)
}

func TestTransportOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"kafka:topic/0@12": "kafka", "rabbitmq:q": "rabbitmq", "redis": "redis", "": "unknown", ":x": "unknown",
	} {
		assert.Equal(t, want, TransportOf(in), in)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	assert.ErrorIs(t, classify(errors.New("conn refused")), ErrUnavailable)
	assert.ErrorIs(t, classify(context.DeadlineExceeded), ErrUnavailable)
	assert.False(t, isolatable(errors.New("conn refused")))
}

// A database that accepts connections and never answers: Close gives up
// at its ctx's deadline, and the waiting Submit gets an error, not a hang.
func TestCloseGivesUpAtDeadline(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	silent := pgtest.Connect(t, "postgres://postgres@"+ln.Addr().String()+"/scouter?sslmode=disable&connect_timeout=60")
	f := newFixture(t, pool, Options{DB: silent}, uidA)

	submitted := make(chan error, 1)
	go func() {
		_, err := f.p.Submit(context.Background(), decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1))))
		submitted <- err
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = f.p.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	select {
	case err := <-submitted:
		require.ErrorIs(t, err, ErrUnavailable)
	case <-time.After(5 * time.Second):
		t.Fatal("Submit still waiting after Close")
	}
}

// A consumer whose ctx has ended gets an error and nothing is written, so
// the message is redelivered rather than lost.
func TestHandleCancelledWritesNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := newFixture(t, pool, Options{}, uidA)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 20 {
		err := f.p.Handle(ctx, "rabbitmq:q", []byte(records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1))))
		require.ErrorIs(t, err, context.Canceled)
	}
	assert.Equal(t, 0, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
	assert.Empty(t, deadLetters(t, pool))
}
