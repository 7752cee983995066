package ingest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
)

// benchRows is the number of SPC rows each benchmark iteration writes.
const benchRows = 100_000

// BenchmarkInsertSPC compares ways of writing 100k SPC rows (one
// transaction per iteration, the table emptied between iterations):
//
//   - unnest_new/chunkN: the pipeline's first try, a plain multi-row INSERT
//     ... SELECT unnest(...) (sqlc), N rows per statement;
//   - unnest_on_conflict/chunk5000: its fallback for batches holding a
//     duplicate, the same with ON CONFLICT DO NOTHING;
//   - unnest_from/chunk5000: that with unnest(a, b, c, d) in FROM instead;
//   - copy_insert/chunkN: COPY N rows into a temp table, then INSERT ...
//     SELECT ... ON CONFLICT DO NOTHING (idempotent too);
//   - copy_raw: COPY straight into spc_drift, the baseline (not idempotent:
//     a duplicate fails the whole COPY).
//
// Run: go test ./internal/ingest -run '^$' -bench InsertSPC -benchtime 5x
func BenchmarkInsertSPC(b *testing.B) {
	pool := pgtest.New(b)
	ctx := b.Context()
	entityID := benchEntity(b, pool)
	rows := spcRows(entityID, benchRows)

	run := func(b *testing.B, write func(ctx context.Context, tx pgx.Tx) error) {
		for b.Loop() {
			b.StopTimer()
			if _, err := pool.Exec(ctx, "TRUNCATE scouter.spc_drift"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return write(ctx, tx) }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM scouter.spc_drift").Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n != benchRows {
			b.Fatalf("got %d rows, want %d", n, benchRows)
		}
	}

	for _, chunk := range []int{500, 2000, 5000} {
		b.Run(fmt.Sprintf("unnest_new/chunk%d", chunk), func(b *testing.B) {
			run(b, func(ctx context.Context, tx pgx.Tx) error {
				q := dbsqlc.New(tx)
				return rows.chunks(chunk, func(d spcColumnsData) error {
					_, err := q.InsertNewSpcDriftBatch(ctx, dbsqlc.InsertNewSpcDriftBatchParams(d))
					return err
				})
			})
		})
	}
	b.Run("unnest_on_conflict/chunk5000", func(b *testing.B) {
		run(b, func(ctx context.Context, tx pgx.Tx) error {
			q := dbsqlc.New(tx)
			return rows.chunks(5000, func(d spcColumnsData) error {
				_, err := q.InsertSpcDriftBatch(ctx, dbsqlc.InsertSpcDriftBatchParams(d))
				return err
			})
		})
	})
	// The same with a multi-argument unnest in FROM (sqlc cannot type it).
	b.Run("unnest_from/chunk5000", func(b *testing.B) {
		run(b, func(ctx context.Context, tx pgx.Tx) error {
			return rows.chunks(5000, func(d spcColumnsData) error {
				_, err := tx.Exec(ctx, `INSERT INTO scouter.spc_drift (created_at, entity_id, feature, value)
					SELECT * FROM unnest($1::timestamptz[], $2::integer[], $3::text[], $4::double precision[])
					ON CONFLICT DO NOTHING`, d.CreatedAt, d.EntityID, d.Feature, d.Value)
				return err
			})
		})
	})
	for _, chunk := range []int{5000, benchRows} {
		b.Run(fmt.Sprintf("copy_insert/chunk%d", chunk), func(b *testing.B) {
			run(b, func(ctx context.Context, tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `CREATE TEMP TABLE ingest_spc
					(created_at timestamptz, entity_id integer, feature text, value double precision) ON COMMIT DROP`); err != nil {
					return err
				}
				return rows.chunks(chunk, func(d spcColumnsData) error {
					if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ingest_spc"}, spcColumns, d.source()); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `INSERT INTO scouter.spc_drift (created_at, entity_id, feature, value)
						SELECT created_at, entity_id, feature, value FROM ingest_spc ON CONFLICT DO NOTHING`); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, "TRUNCATE ingest_spc")
					return err
				})
			})
		})
	}
	b.Run("copy_new/chunk2000", func(b *testing.B) {
		run(b, func(ctx context.Context, tx pgx.Tx) error {
			return rows.chunks(2000, func(d spcColumnsData) error {
				_, err := tx.CopyFrom(ctx, pgx.Identifier{"scouter", "spc_drift"}, spcColumns, d.source())
				return err
			})
		})
	})
	b.Run("copy_raw", func(b *testing.B) {
		run(b, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"scouter", "spc_drift"}, spcColumns, rows.source())
			return err
		})
	})
}

var spcColumns = []string{"created_at", "entity_id", "feature", "value"}

type spcColumnsData struct {
	CreatedAt []time.Time
	EntityID  []int32
	Feature   []string
	Value     []float64
}

// chunks calls fn with consecutive slices of at most n rows.
func (d spcColumnsData) chunks(n int, fn func(spcColumnsData) error) error {
	for lo := 0; lo < len(d.CreatedAt); lo += n {
		hi := min(lo+n, len(d.CreatedAt))
		if err := fn(spcColumnsData{d.CreatedAt[lo:hi], d.EntityID[lo:hi], d.Feature[lo:hi], d.Value[lo:hi]}); err != nil {
			return err
		}
	}
	return nil
}

func (d spcColumnsData) source() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(d.CreatedAt), func(i int) ([]any, error) {
		return []any{d.CreatedAt[i], d.EntityID[i], d.Feature[i], d.Value[i]}, nil
	})
}

// spcRows returns n distinct SPC rows: 20 features per timestamp, one
// timestamp per millisecond ending now.
func spcRows(entityID int32, n int) spcColumnsData {
	d := spcColumnsData{
		CreatedAt: make([]time.Time, n), EntityID: make([]int32, n),
		Feature: make([]string, n), Value: make([]float64, n),
	}
	start := time.Now().UTC().Add(-time.Duration(n) * time.Millisecond)
	for i := range n {
		d.CreatedAt[i] = start.Add(time.Duration(i/20) * time.Millisecond)
		d.EntityID[i] = entityID
		d.Feature[i] = fmt.Sprintf("feature_%02d", i%20)
		d.Value[i] = float64(i%997) / 7
	}
	return d
}

func benchEntity(tb testing.TB, pool *pgxpool.Pool) int32 {
	tb.Helper()
	var e dbsqlc.DriftEntity
	err := db.InTx(tb.Context(), pool, func(q *dbsqlc.Queries) error {
		var err error
		e, err = q.UpsertEntity(tb.Context(), dbsqlc.UpsertEntityParams{
			UID: "bench-uid", Space: "bench", Name: "bench", Version: "0.1.0", DriftType: "Spc"})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e.ID
}

// BenchmarkPipelineSubmit measures the whole pipeline: 100k SPC records in
// messages of 100, submitted by 16 goroutines, each Submit returning after
// its commit (group commit with 1 writer, as HTTP_CONSUMER_WORKER_COUNT's
// default).
func BenchmarkPipelineSubmit(b *testing.B) {
	pool := pgtest.New(b)
	f := newFixture(b, pool, Options{}, uidA)
	const perMessage, submitters = 100, 16
	base := time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC)
	var msgs []*record.Message
	for m := range benchRows / perMessage {
		var elems []string
		for r := range perMessage {
			at := base.Add(time.Duration(m*perMessage+r) * time.Microsecond)
			elems = append(elems, spcJSON(uidA, record.FormatTime(at), "f", float64(r)))
		}
		msgs = append(msgs, decode(b, records(elems...)))
	}
	ctx := b.Context()
	for b.Loop() {
		b.StopTimer()
		if _, err := pool.Exec(ctx, "TRUNCATE scouter.spc_drift"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range submitters {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(len(msgs)); i = next.Add(1) - 1 {
					if _, err := f.p.Submit(ctx, msgs[i]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// uidMap resolves a fixed set of uids, for benchmarks of the CPU work alone.
type uidMap map[string]int32

func (m uidMap) ID(_ context.Context, uid string) (int32, error) {
	if id, ok := m[uid]; ok {
		return id, nil
	}
	return 0, fmt.Errorf("uid %q: %w", uid, entity.ErrUnknownUID)
}

// BenchmarkPrepare measures the pipeline's CPU work between the wire and the
// database, without the database: decoding 8 messages of 100 SPC records,
// turning them into jobs and merging those into one batch's column arrays,
// as a writer does. ns/record is the figure to watch.
func BenchmarkPrepare(b *testing.B) {
	const perMessage, messages = 100, 8
	base := time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC)
	payloads := make([][]byte, messages)
	for m := range payloads {
		elems := make([]string, perMessage)
		for r := range elems {
			at := base.Add(time.Duration(m*perMessage+r) * time.Second)
			elems[r] = spcJSON(uidA, record.FormatTime(at), fmt.Sprintf("feature_%d", r%20), float64(r)+0.25)
		}
		payloads[m] = []byte(records(elems...))
	}
	p := &Pipeline{entities: uidMap{uidA: 1}}
	ctx := b.Context()
	b.ReportAllocs()
	jobs := make([]*job, messages)
	for b.Loop() {
		for m, payload := range payloads {
			msg, err := record.Decode(payload)
			if err != nil {
				b.Fatal(err)
			}
			if jobs[m], err = p.prepare(ctx, "http:/scouter/message", msg, nil, nil, false); err != nil {
				b.Fatal(err)
			}
		}
		all := mergeRows(jobs)
		if all.len() != perMessage*messages {
			b.Fatalf("%d rows, want %d", all.len(), perMessage*messages)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perMessage*messages), "ns/record")
}
