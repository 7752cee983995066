package db_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/pgtest"
)

func TestInTx(t *testing.T) {
	pool := pgtest.New(t)
	ctx := t.Context()
	outside := dbsqlc.New(pool)
	errBoom := errors.New("boom")

	userExists := func(name string) bool {
		t.Helper()
		_, err := outside.GetUserByUsername(ctx, name)
		if errors.Is(db.MapError(err), db.ErrNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}

	t.Run("commit on nil", func(t *testing.T) {
		err := db.InTx(ctx, pool, func(q *dbsqlc.Queries) error {
			if _, err := q.InsertUser(ctx, newUser("committed", "user")); err != nil {
				return err
			}
			// Visible inside the transaction, not yet outside.
			_, err := q.GetUserByUsername(ctx, "committed")
			require.NoError(t, err)
			assert.False(t, userExists("committed"), "visible outside before commit")
			return nil
		})
		require.NoError(t, err)
		assert.True(t, userExists("committed"))
	})

	t.Run("rollback on error", func(t *testing.T) {
		err := db.InTx(ctx, pool, func(q *dbsqlc.Queries) error {
			if _, err := q.InsertUser(ctx, newUser("rolled-back", "user")); err != nil {
				return err
			}
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		assert.False(t, userExists("rolled-back"))
	})

	t.Run("rollback on panic", func(t *testing.T) {
		assert.Panics(t, func() {
			_ = db.InTx(ctx, pool, func(q *dbsqlc.Queries) error {
				if _, err := q.InsertUser(ctx, newUser("panicked", "user")); err != nil {
					return err
				}
				panic("boom")
			})
		})
		assert.False(t, userExists("panicked"))
	})

	t.Run("errors are mapped", func(t *testing.T) {
		err := db.InTx(ctx, pool, func(q *dbsqlc.Queries) error {
			_, err := q.InsertUser(ctx, newUser("committed", "user"))
			return err
		})
		require.ErrorIs(t, err, db.ErrConflict)

		err = db.InTx(ctx, pool, func(q *dbsqlc.Queries) error {
			_, err := q.GetUserByUsername(ctx, "nobody")
			return err
		})
		require.ErrorIs(t, err, db.ErrNotFound)
	})
}
