package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/pgtest"
)

// tracer counts the pool acquisitions and the transactions begun on a pool's
// connections.
type tracer struct {
	acquires atomic.Int64
	begins   atomic.Int64
}

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.EqualFold(strings.TrimSpace(d.SQL), "begin") {
		t.begins.Add(1)
	}
	return ctx
}

func (*tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t *tracer) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	t.acquires.Add(1)
	return ctx
}

func (*tracer) TraceAcquireEnd(context.Context, *pgxpool.Pool, pgxpool.TraceAcquireEndData) {}

// tracedPool connects to a fresh database with a tracer on the pool.
func tracedPool(t *testing.T) (*pgxpool.Pool, *tracer) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.NewURI(t))
	require.NoError(t, err)
	tr := &tracer{}
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, tr
}

// A batch that is one statement runs without BEGIN/COMMIT; a batch that
// writes several tables runs in one transaction. Both store exactly their
// rows, duplicates included.
func TestWriteSingleStatementWithoutTransaction(t *testing.T) {
	t.Parallel()
	pool, tr := tracedPool(t)
	f := newFixture(t, pool, Options{}, uidA)
	base := tr.begins.Load() // the fixture's own transactions
	begins := func() int64 { return tr.begins.Load() - base }

	spcOnly := records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1), spcJSON(uidA, "2026-03-26T12:00:01Z", "a", 2))
	_, err := f.p.Submit(t.Context(), decode(t, spcOnly))
	require.NoError(t, err)
	assert.Equal(t, int64(0), begins(), "one table: no explicit transaction")
	assert.Equal(t, 2, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))

	// A redelivery: the plain insert fails on the duplicate and the retry
	// skips it, still without a transaction.
	res, err := f.p.Submit(t.Context(), decode(t, spcOnly))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Stored)
	assert.Equal(t, int64(0), begins())
	assert.Equal(t, 2, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))

	// SPC and PSI rows: two statements, one transaction.
	mixed := records(spcJSON(uidA, "2026-03-26T12:00:02Z", "a", 3),
		fmt.Sprintf(`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":"f","bin_id":1,"bin_count":3}}`, uidA))
	_, err = f.p.Submit(t.Context(), decode(t, mixed))
	require.NoError(t, err)
	assert.Equal(t, int64(1), begins(), "two tables: one transaction")
	assert.Equal(t, 3, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.psi_drift"))

	// A record with an unknown uid beside a valid one (Handle dead-letters
	// it): spc_drift and dead_letter, one transaction.
	require.NoError(t, f.p.Handle(t.Context(), "kafka:t/0@1", []byte(records(
		spcJSON(uidA, "2026-03-26T12:00:03Z", "a", 4), spcJSON(uidB, "2026-03-26T12:00:03Z", "a", 4)))))
	assert.Equal(t, int64(2), begins())
	assert.Equal(t, 4, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
	assert.Len(t, deadLetters(t, pool), 1)
}

func TestRowsTables(t *testing.T) {
	t.Parallel()
	var r rows
	assert.Equal(t, 0, r.tables())
	r.spc.CreatedAt = make([]time.Time, 2)
	assert.Equal(t, 1, r.tables())
	r.tags.Key = []string{"k"}
	assert.Equal(t, 2, r.tables())
	r.dead.Reason = []string{"x"}
	r.obs.EntityID = []int32{1}
	assert.Equal(t, 4, r.tables())
}

// A writer keeps its connection across batches: one acquisition (and so
// one liveness ping) per run of work, not per batch. It gives the
// connection back after connHoldMax, after a failed write and when asked.
func TestHeldConnection(t *testing.T) {
	t.Parallel()
	pool, tr := tracedPool(t)
	poisonTrigger(t, pool)
	f := newFixture(t, pool, Options{}, uidA)
	batch := func(ts, feature string) []*job {
		j, err := f.p.prepare(t.Context(), "test:held", decode(t, records(spcJSON(uidA, ts, feature, 1))), nil, nil, false)
		require.NoError(t, err)
		return []*job{j}
	}
	batches := [][]*job{
		batch("2026-03-26T12:00:00Z", "a"), batch("2026-03-26T12:00:01Z", "a"), batch("2026-03-26T12:00:02Z", "a"),
		batch("2026-03-26T12:00:03Z", "poison"), batch("2026-03-26T12:00:04Z", "a"),
	}
	conn := newHeldConn(pool)
	defer conn.release()
	base := tr.acquires.Load()

	require.NoError(t, f.p.write(batches[0], conn))
	require.NoError(t, f.p.write(batches[1], conn))
	assert.Equal(t, base+1, tr.acquires.Load(), "back-to-back batches share one acquisition")
	held := conn.conn
	require.NotNil(t, held)

	conn.since = time.Now().Add(-2 * connHoldMax)
	require.NoError(t, f.p.write(batches[2], conn))
	assert.Equal(t, base+2, tr.acquires.Load(), "held past connHoldMax: acquired again")

	// The database refuses the batch: the connection
	// goes back to the pool, and the next batch acquires a checked one.
	require.Error(t, f.p.write(batches[3], conn))
	assert.Nil(t, conn.conn)
	require.NoError(t, f.p.write(batches[4], conn))
	assert.Equal(t, base+3, tr.acquires.Load())

	conn.release()
	assert.Nil(t, conn.conn)
	assert.Equal(t, 4, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
}

// A pipeline on something that is not a pool (a connection, a transaction)
// writes through it directly.
func TestHeldConnectionWithoutPool(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	c, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer c.Release()
	h := newHeldConn(c.Conn())
	got, err := h.get(t.Context())
	require.NoError(t, err)
	assert.Same(t, c.Conn(), got)
	h.release() // nothing held: a no-op
}

// An idle writer keeps its connection until it is due back, then returns it
// to the pool.
func TestWriterReturnsIdleConnection(t *testing.T) {
	t.Parallel()
	pool, _ := tracedPool(t)
	f := newFixture(t, pool, Options{Writers: 1}, uidA)
	_, err := f.p.Submit(t.Context(), decode(t, records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1))))
	require.NoError(t, err)
	assert.Equal(t, int32(1), pool.Stat().AcquiredConns(), "held between batches")
	require.Eventually(t, func() bool { return pool.Stat().AcquiredConns() == 0 },
		3*connHoldMax, 10*time.Millisecond, "released once due")
}
