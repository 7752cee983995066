package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scoutergo/server/internal/db"
)

// connHoldMax bounds how long a writer keeps one pooled connection across
// back-to-back batches before handing it back, so the pool still checks it
// (DB_TEST_BEFORE_ACQUIRE) and retires it at DB_MAX_LIFETIME_SECONDS.
const connHoldMax = time.Second

// connPool is a pool a writer can take a connection from for a run of
// batches (a *pgxpool.Pool).
type connPool interface {
	Acquire(ctx context.Context) (*pgxpool.Conn, error)
}

// heldConn is a writer's connection, kept across batches for up to
// connHoldMax. Acquiring one per batch cost a ping round trip each time (the
// pool pings every connection it hands out when DB_TEST_BEFORE_ACQUIRE is
// set, upstream's default): about a tenth of the ingest throughput. The
// connection goes back to the pool after connHoldMax (even while the writer
// idles) and after a failed write, so the next batch gets a checked one. Not
// safe for concurrent use: each writer has its own.
type heldConn struct {
	pool  connPool // nil: the pipeline's DB is not a pool; use it directly
	fixed db.TxStarter
	conn  *pgxpool.Conn
	since time.Time
}

func newHeldConn(d db.TxStarter) *heldConn {
	if pool, ok := d.(connPool); ok {
		return &heldConn{pool: pool}
	}
	return &heldConn{fixed: d}
}

// get returns the connection to write the next batch with, acquiring one
// when none is held or the held one is due back.
func (h *heldConn) get(ctx context.Context) (db.TxStarter, error) {
	if h.pool == nil {
		return h.fixed, nil
	}
	if h.conn != nil && h.due() == 0 {
		h.release()
	}
	if h.conn == nil {
		conn, err := h.pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("acquire connection: %w", err)
		}
		h.conn, h.since = conn, time.Now()
	}
	return h.conn, nil
}

// due returns how long the held connection may still be kept (0: none is
// held, or it is due back).
func (h *heldConn) due() time.Duration {
	if h.conn == nil {
		return 0
	}
	return max(connHoldMax-time.Since(h.since), 0)
}

// release hands the connection back to the pool (which destroys it when it
// is broken or still inside a transaction).
func (h *heldConn) release() {
	if h.conn != nil {
		h.conn.Release()
		h.conn = nil
	}
}
