package db

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors produced by this package; match them with errors.Is.
var (
	// ErrNotFound: the query expected a row and found none.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint rejected the write (SQLSTATE 23505).
	ErrConflict = errors.New("conflict")
)

// sqlstateUniqueViolation is Postgres' unique_violation error code.
const sqlstateUniqueViolation = "23505"

// MapError translates driver errors into this package's sentinels:
// pgx.ErrNoRows becomes ErrNotFound and a unique violation becomes ErrConflict
// (naming the constraint). The driver error is not kept in the chain, so no pgx
// type escapes through errors.As. Other errors, and nil, pass through unchanged.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateUniqueViolation {
		if pgErr.ConstraintName != "" {
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
		}
		return ErrConflict
	}
	return err
}
