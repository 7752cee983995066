package db

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// TxStarter begins a transaction: a *pgxpool.Pool, a *pgx.Conn, or a pgx.Tx
// (which nests as a savepoint).
type TxStarter interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in one transaction: it commits when fn returns nil and rolls
// back when fn returns an error or panics. The returned error goes through
// MapError. Keep network calls (Kafka, HTTP, blob) out of fn.
func InTx(ctx context.Context, db TxStarter, fn func(q *dbsqlc.Queries) error) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		return fn(dbsqlc.New(tx))
	})
	return MapError(err)
}
