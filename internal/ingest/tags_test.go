package ingest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
)

func TestStoreTags(t *testing.T) {
	f := newFixture(t, pgtest.New(t), Options{})
	ctx := t.Context()
	tags := []record.TagRecord{
		{EntityType: "trace", EntityID: "abc", Key: "env", Value: "prod"},
		{EntityType: "trace", EntityID: "abc", Key: "env", Value: "prod"}, // repeated: written once
		{EntityType: "trace", EntityID: "abc", Key: "team", Value: "ml"},
	}
	n, err := f.p.StoreTags(ctx, tags)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)

	var count int
	require.NoError(t, f.pool.QueryRow(ctx,
		`SELECT count(*) FROM scouter.tags WHERE entity_type = 'trace' AND entity_id = 'abc'`).Scan(&count))
	assert.Equal(t, 2, count)

	// Again: an upsert, still two rows.
	n, err = f.p.StoreTags(ctx, tags[:1])
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM scouter.tags`).Scan(&count))
	assert.Equal(t, 2, count)

	n, err = f.p.StoreTags(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, n)

	_, err = f.p.StoreTags(ctx, []record.TagRecord{{EntityType: "trace", EntityID: "a\x00b", Key: "k", Value: "v"}})
	require.ErrorIs(t, err, ErrRejected)
}
