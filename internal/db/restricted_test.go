package db_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/pgtest"
)

// TestMigrateAsRestrictedUser runs the migrations as a role that cannot
// create schemas or extensions, the way a locked-down deployment runs: the DBA
// pre-creates schema scouter and pg_partman and grants on the schema only.
func TestMigrateAsRestrictedUser(t *testing.T) {
	uri := pgtest.NewEmptyURI(t)
	admin := pgtest.Connect(t, uri)
	ctx := t.Context()

	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	role := "scouter_test_role_" + hex.EncodeToString(b[:])
	roleID := pgx.Identifier{role}.Sanitize()
	var dbName string
	require.NoError(t, admin.QueryRow(ctx, "SELECT current_database()").Scan(&dbName))
	dbID := pgx.Identifier{dbName}.Sanitize()

	for _, stmt := range []string{
		"CREATE ROLE " + roleID + " LOGIN",
		"REVOKE CREATE ON DATABASE " + dbID + " FROM PUBLIC",
		"CREATE SCHEMA scouter",
		"CREATE EXTENSION pg_partman SCHEMA scouter",
		"GRANT ALL ON SCHEMA scouter TO " + roleID,
		"GRANT ALL ON ALL TABLES IN SCHEMA scouter TO " + roleID,
		"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA scouter TO " + roleID,
		"GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA scouter TO " + roleID,
	} {
		_, err := admin.Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Objects owned by the role live in the test database, which is
		// dropped after this cleanup; drop them first so the role can go.
		for _, stmt := range []string{"DROP OWNED BY " + roleID + " CASCADE", "DROP ROLE " + roleID} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})

	u, err := url.Parse(uri)
	require.NoError(t, err)
	u.User = url.User(role)
	pool := pgtest.Connect(t, u.String())

	var canCreate bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT has_database_privilege(current_user, current_database(), 'CREATE')").Scan(&canCreate))
	require.False(t, canCreate, "role must not be able to create schemas")

	require.NoError(t, db.Migrate(ctx, pool, nil), "first run")
	require.NoError(t, db.Migrate(ctx, pool, nil), "second run")
	requireAllAppliedOnce(t, pool)

	var owner string
	require.NoError(t, pool.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE schemaname = 'scouter' AND tablename = 'drift_profile'").Scan(&owner))
	assert.Equal(t, role, owner)
}
