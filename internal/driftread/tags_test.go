package driftread

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/record"
)

// sqlTagWriter is a minimal real TagWriter: one upsert statement, as the
// ingest pipeline's batch upsert does.
type sqlTagWriter struct{ db dbsqlc.DBTX }

var _ TagWriter = sqlTagWriter{}

func (w sqlTagWriter) StoreTags(ctx context.Context, tags []record.TagRecord) (int64, error) {
	var et, eid, k, v []string
	for _, t := range tags {
		et, eid, k, v = append(et, t.EntityType), append(eid, t.EntityID), append(k, t.Key), append(v, t.Value)
	}
	tag, err := w.db.Exec(ctx, `INSERT INTO scouter.tags (entity_type, entity_id, key, value)
		SELECT unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[])
		ON CONFLICT ON CONSTRAINT tags_pkey DO UPDATE SET updated_at = now()`, et, eid, k, v)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func tr(entityType, entityID, key, value string) record.TagRecord {
	return record.TagRecord{EntityType: entityType, EntityID: entityID, Key: key, Value: value}
}

func TestTags(t *testing.T) {
	f := newFixture(t, testNow)
	tags, err := NewTags(f.pool, sqlTagWriter{f.pool})
	require.NoError(t, err)
	ctx := t.Context()

	n, err := tags.Store(ctx, []record.TagRecord{
		tr("service", "A", "version", "1.0.0"),
		tr("service", "A", "env", "a"),
		tr("service", "A", "env", "b"),
		tr("service", "A", "env", "b"), // repeated in one call: written once
		tr("service", "B", "env", "a"),
		tr("service", "B", "team", "ml"),
		tr("trace", "C", "env", "a"),
	})
	require.NoError(t, err)
	assert.Equal(t, int64(6), n)

	got, err := tags.List(ctx, "service", "A")
	require.NoError(t, err)
	assert.Equal(t, []record.TagRecord{
		tr("service", "A", "env", "a"), tr("service", "A", "env", "b"), tr("service", "A", "version", "1.0.0"),
	}, got, "ordered by key, then value")
	none, err := tags.List(ctx, "service", "Z")
	require.NoError(t, err)
	assert.Empty(t, none)

	tests := []struct {
		name     string
		filters  []Tag
		matchAll bool
		want     []string
	}{
		// Upstream counted distinct keys, so these two filters could never
		// match; we count matched pairs.
		{"all, two values of one key", []Tag{{"env", "a"}, {"env", "b"}}, true, []string{"A"}},
		{"any, two values of one key", []Tag{{"env", "a"}, {"env", "b"}}, false, []string{"A", "B"}},
		{"all, one pair", []Tag{{"env", "a"}}, true, []string{"A", "B"}},
		{"all, a pair given twice counts once", []Tag{{"env", "a"}, {"env", "a"}}, true, []string{"A", "B"}},
		{"all, two keys", []Tag{{"env", "a"}, {"team", "ml"}}, true, []string{"B"}},
		{"all, one pair missing", []Tag{{"env", "a"}, {"team", "nope"}}, true, []string{}},
		{"any, nothing matches", []Tag{{"env", "zzz"}}, false, []string{}},
		{"no filters", nil, true, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := tags.EntityIDs(ctx, "service", tt.filters, tt.matchAll)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids)
		})
	}

	// Storing the same tags again updates them in place.
	n, err = tags.Store(ctx, []record.TagRecord{tr("service", "A", "env", "a")})
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	got, err = tags.List(ctx, "service", "A")
	require.NoError(t, err)
	assert.Len(t, got, 3)
}

func TestTagsWithoutWriter(t *testing.T) {
	f := newFixture(t, testNow)
	tags, err := NewTags(f.pool, nil)
	require.NoError(t, err)
	_, err = tags.Store(t.Context(), []record.TagRecord{tr("service", "A", "env", "a")})
	require.ErrorIs(t, err, ErrNoTagWriter)
	n, err := tags.Store(t.Context(), nil)
	require.NoError(t, err)
	assert.Zero(t, n)
}
