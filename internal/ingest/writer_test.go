package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/pgtest"
)

// countingPool is a pool that counts the transactions begun on it.
type countingPool struct {
	*pgxpool.Pool
	begins atomic.Int64
}

func (c *countingPool) Begin(ctx context.Context) (pgx.Tx, error) {
	c.begins.Add(1)
	return c.Pool.Begin(ctx)
}

// A batch that is one statement runs without BEGIN/COMMIT; a batch that
// writes several tables runs in one transaction. Both store exactly their
// rows, duplicates included.
func TestWriteSingleStatementWithoutTransaction(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	cp := &countingPool{Pool: pool}
	f := newFixture(t, pool, Options{DB: cp}, uidA)

	spcOnly := records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1), spcJSON(uidA, "2026-03-26T12:00:01Z", "a", 2))
	_, err := f.p.Submit(t.Context(), decode(t, spcOnly))
	require.NoError(t, err)
	assert.Equal(t, int64(0), cp.begins.Load(), "one table: no explicit transaction")
	assert.Equal(t, 2, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))

	// A redelivery: the plain insert fails on the duplicate and the retry
	// skips it, still without a transaction.
	res, err := f.p.Submit(t.Context(), decode(t, spcOnly))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Stored)
	assert.Equal(t, int64(0), cp.begins.Load())
	assert.Equal(t, 2, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))

	// SPC and PSI rows: two statements, one transaction.
	mixed := records(spcJSON(uidA, "2026-03-26T12:00:02Z", "a", 3),
		fmt.Sprintf(`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":"f","bin_id":1,"bin_count":3}}`, uidA))
	_, err = f.p.Submit(t.Context(), decode(t, mixed))
	require.NoError(t, err)
	assert.Equal(t, int64(1), cp.begins.Load(), "two tables: one transaction")
	assert.Equal(t, 3, count(t, pool, "SELECT count(*) FROM scouter.spc_drift"))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM scouter.psi_drift"))

	// A record with an unknown uid beside a valid one (Handle dead-letters
	// it): spc_drift and dead_letter, one transaction.
	require.NoError(t, f.p.Handle(t.Context(), "kafka:t/0@1", []byte(records(
		spcJSON(uidA, "2026-03-26T12:00:03Z", "a", 4), spcJSON(uidB, "2026-03-26T12:00:03Z", "a", 4)))))
	assert.Equal(t, int64(2), cp.begins.Load())
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
