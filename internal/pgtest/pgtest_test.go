package pgtest

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	admin, err := pgx.Connect(t.Context(), URI(t))
	require.NoError(t, err)
	defer func() { _ = admin.Close(t.Context()) }()
	var ok bool
	require.NoError(t, admin.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok))
	return ok
}

func TestNewGivesIsolatedMigratedDatabases(t *testing.T) {
	var names [2]string
	t.Run("create", func(t *testing.T) {
		for i := range names {
			pool := New(t)
			ctx := t.Context()
			require.NoError(t, pool.QueryRow(ctx, "SELECT current_database()").Scan(&names[i]))
			assert.True(t, strings.HasPrefix(names[i], testDBPrefix), "database %q", names[i])

			var version int64
			require.NoError(t, pool.QueryRow(ctx, "SELECT max(version_id) FROM scouter.goose_db_version").Scan(&version))
			assert.Positive(t, version, "database %s is not migrated", names[i])
		}
		require.NotEqual(t, names[0], names[1])

		// A write in one database is invisible in the other.
		first, second := New(t), New(t)
		_, err := first.Exec(t.Context(), `INSERT INTO scouter.drift_entities (space, name, version, drift_type) VALUES ('s','n','v','spc')`)
		require.NoError(t, err)
		var n int
		require.NoError(t, second.QueryRow(t.Context(), "SELECT count(*) FROM scouter.drift_entities").Scan(&n))
		assert.Zero(t, n)
		for _, name := range names {
			assert.True(t, databaseExists(t, name))
		}
	})
	// The subtest's cleanups have run: its databases are gone.
	for _, name := range names {
		assert.False(t, databaseExists(t, name), "database %s not dropped", name)
	}
}

func TestNewEmptyURIIsNotMigrated(t *testing.T) {
	pool := Connect(t, NewEmptyURI(t))
	var exists bool
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT to_regnamespace('scouter') IS NOT NULL").Scan(&exists))
	assert.False(t, exists)
}

func TestNewInParallel(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			var name string
			require.NoError(t, New(t).QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
			mu.Lock()
			defer mu.Unlock()
			assert.False(t, seen[name], "database %s handed out twice", name)
			seen[name] = true
		})
	}
}

// fatalTB records Fatalf instead of stopping the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runFatal(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestURIFailsClearly(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"unset", "", "run `make test` or set SCOUTER_TEST_DATABASE_URI"},
		{"not a url", "host=localhost password=secret", "must be a postgres:// URL, got (dsn)"},
		{"wrong scheme", "mysql://u:secret@h/db", "must be a postgres:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvURI, tt.value)
			msg := runFatal(t, func(tb testing.TB) { URI(tb) })
			assert.Contains(t, msg, tt.want)
			assert.NotContains(t, msg, "secret")
		})
	}
}

func TestDatabaseNames(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	name, err := newDatabaseName(now)
	require.NoError(t, err)
	assert.Regexp(t, `^scouter_test_1700000000_[0-9a-f]{12}$`, name)
	assert.LessOrEqual(t, len(name), 63, "Postgres identifier limit")

	created, ok := databaseCreatedAt(name)
	require.True(t, ok)
	assert.True(t, created.Equal(now))

	for _, bad := range []string{"scouter", "scouter_test_", "scouter_test_abc_def", "scouter_tpl_123"} {
		_, ok := databaseCreatedAt(bad)
		assert.False(t, ok, "%q parsed as a test database", bad)
	}
}

func TestMigrationsHash(t *testing.T) {
	base := fstest.MapFS{
		"00001_a.sql": {Data: []byte("CREATE TABLE a ();")},
		"00002_b.sql": {Data: []byte("CREATE TABLE b ();")},
		"embed.go":    {Data: []byte("package migrations")},
	}
	h1, err := migrationsHash(base)
	require.NoError(t, err)
	h1again, err := migrationsHash(base)
	require.NoError(t, err)
	assert.Equal(t, h1, h1again, "hash must be stable")
	assert.Len(t, h1, 16)

	changed := fstest.MapFS{"00001_a.sql": base["00001_a.sql"], "00002_b.sql": {Data: []byte("CREATE TABLE b (x int);")}}
	renamed := fstest.MapFS{"00001_a.sql": base["00001_a.sql"], "00003_b.sql": base["00002_b.sql"]}
	added := fstest.MapFS{"00001_a.sql": base["00001_a.sql"], "00002_b.sql": base["00002_b.sql"], "00003_c.sql": {Data: []byte("")}}
	goOnly := fstest.MapFS{"00001_a.sql": base["00001_a.sql"], "00002_b.sql": base["00002_b.sql"], "embed.go": {Data: []byte("changed")}}
	for name, fsys := range map[string]fstest.MapFS{"changed": changed, "renamed": renamed, "added": added} {
		h, err := migrationsHash(fsys)
		require.NoError(t, err)
		assert.NotEqual(t, h1, h, "%s migrations must change the hash", name)
	}
	h, err := migrationsHash(goOnly)
	require.NoError(t, err)
	assert.Equal(t, h1, h, "non-SQL files do not affect the template")

	_, err = migrationsHash(fstest.MapFS{})
	assert.ErrorContains(t, err, "no *.sql files")
}

func TestWithDatabase(t *testing.T) {
	got := withDatabase("postgres://u:p@h:5432/scouter?sslmode=disable", "other")
	assert.Equal(t, "postgres://u:p@h:5432/other?sslmode=disable", got)
}
