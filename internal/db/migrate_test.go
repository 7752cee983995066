package db_test

import (
	"context"
	"io/fs"
	"log/slog"
	"sync"
	"testing"

	"github.com/scoutergo/server/internal/testenv"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/db/migrations"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/pgtest"
)

func newLogger() (*slog.Logger, *testenv.Buffer) {
	buf := &testenv.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// latestVersion is the highest migration version embedded in the binary.
func latestVersion(t *testing.T) int64 {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return int64(len(names)) // files are numbered 00001.. without gaps
}

type versionRow struct {
	version int64
	count   int
}

func appliedVersions(t *testing.T, pool *pgxpool.Pool) []versionRow {
	t.Helper()
	rows, err := pool.Query(t.Context(),
		`SELECT version_id, count(*) FROM scouter.goose_db_version WHERE is_applied GROUP BY version_id ORDER BY version_id`)
	require.NoError(t, err)
	defer rows.Close()
	var out []versionRow
	for rows.Next() {
		var r versionRow
		require.NoError(t, rows.Scan(&r.version, &r.count))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func requireAllAppliedOnce(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	got := appliedVersions(t, pool)
	latest := latestVersion(t)
	require.Len(t, got, int(latest)+1, "got versions %v, want 0..%d", got, latest)
	for i, r := range got {
		assert.Equal(t, int64(i), r.version, "version at position %d", i)
		assert.Equal(t, 1, r.count, "version %d applied %d times, want once", r.version, r.count)
	}
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok))
	return ok
}

var ownedTables = []string{
	"scouter.goose_db_version",
	"scouter.drift_entities",
	`scouter."user"`,
	"scouter.drift_profile",
	"scouter.part_config", // pg_partman, installed into scouter
}

func TestMigrateEmptyDatabaseTwice(t *testing.T) {
	pool := pgtest.Connect(t, pgtest.NewEmptyURI(t))
	logger, logs := newLogger()

	require.NoError(t, db.Migrate(t.Context(), pool, logger))
	for _, name := range ownedTables {
		assert.True(t, tableExists(t, pool, name), "table %s missing after migrate", name)
	}
	requireAllAppliedOnce(t, pool)
	assert.Contains(t, logs.String(), "migration applied")
	// Per-test databases are not pg_cron's database: the job is skipped with a
	// notice, and Migrate still succeeds.
	assert.Contains(t, logs.String(), "partition maintenance job not scheduled")
	assert.Contains(t, logs.String(), "status=\"skipped: ")

	var rowsBefore int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM scouter.goose_db_version`).Scan(&rowsBefore))

	require.NoError(t, db.Migrate(t.Context(), pool, logger), "second run")
	requireAllAppliedOnce(t, pool)
	var rowsAfter int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM scouter.goose_db_version`).Scan(&rowsAfter))
	assert.Equal(t, rowsBefore, rowsAfter, "second run wrote version rows")
}

func TestMigrateConcurrently(t *testing.T) {
	uri := pgtest.NewEmptyURI(t)
	const runners = 3
	// Each runner has its own pool, like separate server/worker processes.
	pools := make([]*pgxpool.Pool, runners)
	for i := range pools {
		pools[i] = pgtest.Connect(t, uri)
	}

	errs := make([]error, runners)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range runners {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(t.Context(), pools[i], nil)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "runner %d", i)
	}
	requireAllAppliedOnce(t, pools[0])
}

func TestMigrateDownAndUpAgain(t *testing.T) {
	uri := pgtest.NewEmptyURI(t)
	pool := pgtest.Connect(t, uri)
	require.NoError(t, db.Migrate(t.Context(), pool, nil))

	sqlDB := stdlib.OpenDB(*pool.Config().ConnConfig)
	t.Cleanup(func() { _ = sqlDB.Close() })
	provider, err := db.NewProvider(sqlDB, migrations.FS, nil)
	require.NoError(t, err)

	_, err = provider.DownTo(t.Context(), 0)
	require.NoError(t, err, "down sections must run")
	for _, name := range ownedTables[1:] {
		assert.False(t, tableExists(t, pool, name), "table %s still there after down", name)
	}

	require.NoError(t, db.Migrate(t.Context(), pool, nil), "up after down")
	requireAllAppliedOnce(t, pool)
}

// TestMigrateSchedulesMaintenanceInCronDatabase runs against the database
// named by SCOUTER_TEST_DATABASE_URI itself (pg_cron only works in the one
// database named by cron.database_name, so a per-test database cannot be
// used). Everything it does is idempotent.
func TestMigrateSchedulesMaintenanceInCronDatabase(t *testing.T) {
	uri := pgtest.URI(t)
	pool := pgtest.Connect(t, uri)
	ctx := t.Context()

	var cronDB, current, preload string
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(current_setting('cron.database_name', true), ''),
		current_database(), current_setting('shared_preload_libraries')`).Scan(&cronDB, &current, &preload))
	if cronDB != current {
		t.Fatalf("%s must name the pg_cron database of a server with pg_cron preloaded (the `make test` cluster); "+
			"got database %q, cron.database_name %q, shared_preload_libraries %q", pgtest.EnvURI, current, cronDB, preload)
	}

	countJobs := func() int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx,
			`SELECT count(*) FROM cron.job WHERE jobname = 'partition-maintenance'`).Scan(&n))
		return n
	}

	logger, logs := newLogger()
	require.NoError(t, db.Migrate(ctx, pool, logger), "first run")
	require.NoError(t, db.Migrate(ctx, pool, logger), "second run")
	requireAllAppliedOnce(t, pool)
	require.Equal(t, 1, countJobs(), "partition-maintenance jobs after two runs")

	var schedule, command, database string
	require.NoError(t, pool.QueryRow(ctx, `SELECT schedule, command, database FROM cron.job WHERE jobname = 'partition-maintenance'`).
		Scan(&schedule, &command, &database))
	assert.Equal(t, "0 * * * *", schedule)
	assert.Equal(t, "CALL scouter.run_maintenance_proc()", command)
	assert.Equal(t, current, database)
	assert.NotContains(t, logs.String(), "skipped")

	// A job removed by hand comes back on the next run.
	_, err := pool.Exec(ctx, `SELECT cron.unschedule('partition-maintenance')`)
	require.NoError(t, err)
	require.Equal(t, 0, countJobs())
	require.NoError(t, db.Migrate(ctx, pool, logger), "run after unschedule")
	require.Equal(t, 1, countJobs(), "job recreated")
	assert.Contains(t, logs.String(), "status=scheduled")
}

func TestMigrateCancelledContext(t *testing.T) {
	pool := pgtest.Connect(t, pgtest.NewEmptyURI(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := db.Migrate(ctx, pool, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}
