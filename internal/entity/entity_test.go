package entity

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/pgtest"
)

// countingLookup counts the queries that reach the database.
type countingLookup struct {
	q *dbsqlc.Queries
	n atomic.Int64
}

func (c *countingLookup) GetEntityIDByUID(ctx context.Context, uid string) (int32, error) {
	c.n.Add(1)
	return c.q.GetEntityIDByUID(ctx, uid)
}

func TestResolver(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ids := map[string]int32{}
	for i := range 3 {
		uid := fmt.Sprintf("uid-%d", i)
		err := db.InTx(t.Context(), pool, func(q *dbsqlc.Queries) error {
			e, err := q.UpsertEntity(t.Context(), dbsqlc.UpsertEntityParams{
				UID: uid, Space: "s", Name: fmt.Sprintf("n%d", i), Version: "1.0.0", DriftType: "Spc"})
			ids[uid] = e.ID
			return err
		})
		require.NoError(t, err)
	}
	lookup := &countingLookup{q: dbsqlc.New(pool)}
	r, err := newResolver(lookup, 2)
	require.NoError(t, err)
	ctx := t.Context()

	tests := []struct {
		name        string
		uid         string
		wantID      int32
		wantUnknown bool
		wantQueries int64 // cumulative
	}{
		{name: "miss", uid: "uid-0", wantID: ids["uid-0"], wantQueries: 1},
		{name: "hit", uid: "uid-0", wantID: ids["uid-0"], wantQueries: 1},
		{name: "second", uid: "uid-1", wantID: ids["uid-1"], wantQueries: 2},
		{name: "third evicts the oldest", uid: "uid-2", wantID: ids["uid-2"], wantQueries: 3},
		{name: "evicted uid is looked up again", uid: "uid-0", wantID: ids["uid-0"], wantQueries: 4},
		{name: "unknown", uid: "nobody", wantUnknown: true, wantQueries: 5},
		{name: "unknown is not cached", uid: "nobody", wantUnknown: true, wantQueries: 6},
	}
	for _, tt := range tests {
		id, err := r.ID(ctx, tt.uid)
		if tt.wantUnknown {
			require.ErrorIs(t, err, ErrUnknownUID, tt.name)
			assert.Contains(t, err.Error(), tt.uid)
		} else {
			require.NoError(t, err, tt.name)
			assert.Equal(t, tt.wantID, id, tt.name)
		}
		assert.Equal(t, tt.wantQueries, lookup.n.Load(), "%s: queries", tt.name)
		assert.LessOrEqual(t, r.Len(), 2, "%s: cache bound", tt.name)
	}
}

func TestResolverDatabaseError(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	r, err := NewResolver(pool, 10)
	require.NoError(t, err)
	pool.Close()
	_, err = r.ID(t.Context(), "uid")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnknownUID)
}

func TestNewResolverValidates(t *testing.T) {
	t.Parallel()
	_, err := NewResolver(nil, 10)
	require.Error(t, err)
	_, err = newResolver(&countingLookup{}, 0)
	require.ErrorContains(t, err, "cache size")
}
