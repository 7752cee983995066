// Package entity resolves profile uids to the internal entity ids that the
// drift, observability and GenAI tables key on, through a bounded LRU cache.
//
// An entity's id never changes, so cached entries are never invalidated.
// (Re-registering a profile under a new uid keeps the entity id; the old uid
// then stays resolvable from the cache until it is evicted, which only sends
// late records of the old uid to the same entity.) Unknown uids are not
// cached, so a profile registered after a miss resolves on the next call.
package entity

import (
	"context"
	"errors"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// ErrUnknownUID: no entity has the uid.
var ErrUnknownUID = errors.New("unknown entity uid")

// lookup is the query the resolver needs; *dbsqlc.Queries implements it.
type lookup interface {
	GetEntityIDByUID(ctx context.Context, uid string) (int32, error)
}

// Resolver maps uids to entity ids. It is safe for concurrent use.
type Resolver struct {
	q     lookup
	cache *lru.Cache[string, int32]
}

// NewResolver returns a resolver querying conn (a pool) and caching up to
// size uids (ENTITY_CACHE_MAX_SIZE).
func NewResolver(conn dbsqlc.DBTX, size int) (*Resolver, error) {
	if conn == nil {
		return nil, errors.New("entity resolver: nil database")
	}
	return newResolver(dbsqlc.New(conn), size)
}

func newResolver(q lookup, size int) (*Resolver, error) {
	if size < 1 {
		return nil, fmt.Errorf("entity resolver: cache size must be >= 1, got %d", size)
	}
	cache, err := lru.New[string, int32](size)
	if err != nil {
		return nil, fmt.Errorf("entity resolver: %w", err)
	}
	return &Resolver{q: q, cache: cache}, nil
}

// ID returns the entity id of uid, or an error wrapping ErrUnknownUID when no
// entity has it. Other errors are database failures.
func (r *Resolver) ID(ctx context.Context, uid string) (int32, error) {
	if id, ok := r.cache.Get(uid); ok {
		return id, nil
	}
	id, err := r.q.GetEntityIDByUID(ctx, uid)
	if err != nil {
		if errors.Is(db.MapError(err), db.ErrNotFound) {
			return 0, fmt.Errorf("resolve entity uid %q: %w", uid, ErrUnknownUID)
		}
		return 0, fmt.Errorf("resolve entity uid %q: %w", uid, err)
	}
	r.cache.Add(uid, id)
	return id, nil
}

// Remember caches uid → id, e.g. right after a profile registration.
func (r *Resolver) Remember(uid string, id int32) { r.cache.Add(uid, id) }

// Len returns the number of cached uids.
func (r *Resolver) Len() int { return r.cache.Len() }
