package db_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/scoutergo/server/internal/db"
)

func TestMapError(t *testing.T) {
	other := errors.New("other")
	fkViolation := &pgconn.PgError{Code: "23503", ConstraintName: "fk"}
	tests := []struct {
		name    string
		in      error
		wantIs  error
		wantMsg string
	}{
		{name: "nil", in: nil},
		{name: "no rows", in: pgx.ErrNoRows, wantIs: db.ErrNotFound, wantMsg: "not found"},
		{name: "wrapped no rows", in: fmt.Errorf("get user: %w", pgx.ErrNoRows), wantIs: db.ErrNotFound},
		{name: "unique violation", in: &pgconn.PgError{Code: "23505", ConstraintName: "user_username_key"},
			wantIs: db.ErrConflict, wantMsg: "conflict: user_username_key"},
		{name: "wrapped unique violation without constraint", in: fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}),
			wantIs: db.ErrConflict, wantMsg: "conflict"},
		{name: "other postgres error passes through", in: fkViolation, wantIs: fkViolation},
		{name: "other error passes through", in: other, wantIs: other, wantMsg: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := db.MapError(tt.in)
			if tt.in == nil {
				assert.NoError(t, got)
				return
			}
			assert.ErrorIs(t, got, tt.wantIs)
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, got.Error())
			}
			if tt.wantIs == db.ErrNotFound || tt.wantIs == db.ErrConflict {
				var pgErr *pgconn.PgError
				assert.False(t, errors.As(got, &pgErr), "driver error leaked through the mapped error")
				assert.NotErrorIs(t, got, pgx.ErrNoRows)
			}
		})
	}
}
