package driftread

import (
	"context"
	"errors"
	"fmt"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/record"
)

// TagWriter stores tags (an upsert on (entity_type, entity_id, key, value))
// and returns the number of rows written. The ingest pipeline implements it
// with its batch upsert, so tags posted over HTTP take the same path as tags
// arriving in a MessageRecord.
type TagWriter interface {
	StoreTags(ctx context.Context, tags []record.TagRecord) (int64, error)
}

// Tags serves the tag routes.
type Tags struct {
	q      *dbsqlc.Queries
	writer TagWriter
}

// NewTags returns the tag service. conn is required; a nil writer makes
// Store fail with ErrNoTagWriter.
func NewTags(conn dbsqlc.DBTX, writer TagWriter) (*Tags, error) {
	if conn == nil {
		return nil, errors.New("driftread: tags need a database connection")
	}
	return &Tags{q: dbsqlc.New(conn), writer: writer}, nil
}

// List returns the tags of one entity, ordered by key (then value).
func (t *Tags) List(ctx context.Context, entityType, entityID string) ([]record.TagRecord, error) {
	rows, err := t.q.ListTags(ctx, dbsqlc.ListTagsParams{EntityType: entityType, EntityID: entityID})
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", db.MapError(err))
	}
	out := make([]record.TagRecord, len(rows))
	for i, r := range rows {
		out[i] = record.TagRecord{EntityType: r.EntityType, EntityID: r.EntityID, Key: r.Key, Value: r.Value}
	}
	return out, nil
}

// Store writes tags through the TagWriter and returns the number of rows
// written. Repeated tags in one call are written once (an upsert cannot
// touch the same row twice in one statement).
func (t *Tags) Store(ctx context.Context, tags []record.TagRecord) (int64, error) {
	if len(tags) == 0 {
		return 0, nil
	}
	if t.writer == nil {
		return 0, ErrNoTagWriter
	}
	seen := make(map[record.TagRecord]struct{}, len(tags))
	uniq := make([]record.TagRecord, 0, len(tags))
	for _, tag := range tags {
		if _, dup := seen[tag]; dup {
			continue
		}
		seen[tag] = struct{}{}
		uniq = append(uniq, tag)
	}
	n, err := t.writer.StoreTags(ctx, uniq)
	if err != nil {
		return 0, fmt.Errorf("store %d tags: %w", len(uniq), err)
	}
	return n, nil
}

// EntityIDs returns the ids of entities of entityType that carry every
// (matchAll) or at least one of the given key/value pairs, sorted. With
// matchAll, two pairs sharing a key (env=a, env=b) match an entity tagged
// with both; a pair given twice counts once. No pairs match nothing.
func (t *Tags) EntityIDs(ctx context.Context, entityType string, tags []Tag, matchAll bool) ([]string, error) {
	if len(tags) == 0 {
		return []string{}, nil
	}
	keys := make([]string, len(tags))
	vals := make([]string, len(tags))
	for i, tag := range tags {
		keys[i], vals[i] = tag.Key, tag.Value
	}
	ids, err := t.q.ListEntityIDsByTags(ctx, dbsqlc.ListEntityIDsByTagsParams{
		EntityType: entityType, MatchAll: matchAll, Keys: keys, Vals: vals,
	})
	if err != nil {
		return nil, fmt.Errorf("list entity ids by tags: %w", db.MapError(err))
	}
	return ids, nil
}
