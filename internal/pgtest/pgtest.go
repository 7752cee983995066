// Package pgtest gives tests isolated, migrated Postgres databases.
//
// Each call creates a new database from a migrated template and drops it when
// the test ends. The template is built once per migration set: its name carries
// a hash of the embedded migration files, so changing a migration builds a new
// one. Building is guarded by a Postgres advisory lock, so parallel test
// binaries (go test runs one per package) never build the same template twice.
//
// The server to use comes from SCOUTER_TEST_DATABASE_URI (a postgres:// URL);
// `make test` sets it. Tests fail, never skip, when it is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scoutergo/server/db/migrations"
	"github.com/scoutergo/server/internal/db"
)

// EnvURI names the variable holding the test server's URI.
const EnvURI = "SCOUTER_TEST_DATABASE_URI"

const (
	// templateVersion is part of the template hash; bump it when the way the
	// template is built changes.
	templateVersion = "pgtest-v1"
	templatePrefix  = "scouter_tpl_"
	testDBPrefix    = "scouter_test_"
	// staleAfter: test databases older than this are left over from killed
	// test binaries and are dropped by the next run.
	staleAfter = 12 * time.Hour
	// lockKey serialises template builds across test binaries ("pgtest01").
	lockKey int64 = 0x7067746573743031
	// setupTimeout bounds building a template or creating/dropping a database.
	setupTimeout = 3 * time.Minute
	// poolMaxConns caps each test's pool.
	poolMaxConns = 8
)

// URI returns SCOUTER_TEST_DATABASE_URI, failing the test when it is unset or
// not a postgres:// URL.
func URI(t testing.TB) string {
	t.Helper()
	uri := strings.TrimSpace(os.Getenv(EnvURI))
	if uri == "" {
		t.Fatalf("%s is not set: run `make test` or set %s (e.g. postgres://postgres@127.0.0.1:54330/scouter?sslmode=disable)", EnvURI, EnvURI)
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, got %s", EnvURI, db.RedactURI(uri))
	}
	return uri
}

// New returns a pool on a fresh, migrated database of its own. The pool is
// closed and the database dropped when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	uri := NewURI(t)
	return connect(t, uri)
}

// NewURI returns the URI of a fresh, migrated database of its own, dropped
// when the test ends. Use it when the code under test opens its own pool.
func NewURI(t testing.TB) string {
	t.Helper()
	base := URI(t)
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	tpl, err := ensureTemplate(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: build template database: %v", err)
	}
	return createDatabase(ctx, t, base, tpl)
}

// NewEmptyURI returns the URI of a fresh database with nothing in it (not
// migrated), dropped when the test ends. For migration tests.
func NewEmptyURI(t testing.TB) string {
	t.Helper()
	base := URI(t)
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	return createDatabase(ctx, t, base, "template0")
}

// Connect opens a small pool on uri and closes it when the test ends.
func Connect(t testing.TB, uri string) *pgxpool.Pool {
	t.Helper()
	return connect(t, uri)
}

func connect(t testing.TB, uri string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(uri)
	if err != nil {
		t.Fatalf("pgtest: parse uri %s: %v", db.RedactURI(uri), err)
	}
	cfg.MaxConns = poolMaxConns
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", db.RedactURI(uri), err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// createDatabase creates a uniquely named database from template and
// registers its removal. Cleanups run LIFO, so pools opened on it later by the
// test are closed before it is dropped.
func createDatabase(ctx context.Context, t testing.TB, base, template string) string {
	t.Helper()
	name, err := newDatabaseName(time.Now())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", db.RedactURI(base), err)
	}
	defer func() { _ = admin.Close(ctx) }()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+
		" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s from %s: %v", name, template, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := dropDatabase(ctx, base, name); err != nil {
			t.Logf("pgtest: %v (it will be dropped by a later run)", err)
		}
	})
	return withDatabase(base, name)
}

func dropDatabase(ctx context.Context, base, name string) error {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("drop database %s: connect: %w", name, err)
	}
	defer func() { _ = admin.Close(ctx) }()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// ensureTemplate returns the name of the migrated template database for the
// current migrations, building it when it does not exist yet.
func ensureTemplate(ctx context.Context, base string) (string, error) {
	hash, err := migrationsHash(migrations.FS)
	if err != nil {
		return "", err
	}
	tpl := templatePrefix + hash

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", db.RedactURI(base), err)
	}
	defer func() { _ = admin.Close(ctx) }()

	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return "", fmt.Errorf("take template lock: %w", err)
	}
	// Closing the connection releases the lock too; unlock explicitly anyway.
	defer func() { _, _ = admin.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey) }()

	if err := dropStale(ctx, admin, time.Now()); err != nil {
		return "", err
	}

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tpl).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template %s: %w", tpl, err)
	}
	if exists {
		return tpl, nil
	}

	// Build under a temporary name and rename at the end, so a build killed
	// half-way never leaves a broken template under the final name.
	build := tpl + "_build"
	buildID := pgx.Identifier{build}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+buildID+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop leftover %s: %w", build, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+buildID+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("create %s: %w", build, err)
	}
	if err := migrateDatabase(ctx, withDatabase(base, build)); err != nil {
		return "", err
	}
	tplID := pgx.Identifier{tpl}.Sanitize()
	for _, stmt := range []string{
		"ALTER DATABASE " + buildID + " RENAME TO " + tplID,
		// Nobody may connect to the template: CREATE DATABASE ... TEMPLATE
		// fails while the source database has sessions.
		"ALTER DATABASE " + tplID + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			return "", fmt.Errorf("finish template %s: %w", tpl, err)
		}
	}
	return tpl, nil
}

func migrateDatabase(ctx context.Context, uri string) error {
	pool, err := pgxpool.New(ctx, uri)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", db.RedactURI(uri), err)
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

// dropStale drops test databases left behind by test binaries that were
// killed before their cleanups ran. Their names carry the creation time.
func dropStale(ctx context.Context, admin *pgx.Conn, now time.Time) error {
	rows, err := admin.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", testDBPrefix)
	if err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	for _, name := range names {
		created, ok := databaseCreatedAt(name)
		if !ok || now.Sub(created) < staleAfter {
			continue
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop stale test database %s: %w", name, err)
		}
	}
	return nil
}

// newDatabaseName returns scouter_test_<unix seconds>_<12 random hex>.
func newDatabaseName(now time.Time) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return testDBPrefix + strconv.FormatInt(now.Unix(), 10) + "_" + hex.EncodeToString(b[:]), nil
}

func databaseCreatedAt(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, testDBPrefix)
	if !ok {
		return time.Time{}, false
	}
	secs, _, ok := strings.Cut(rest, "_")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// migrationsHash hashes the names and contents of all migration files.
func migrationsHash(fsys fs.FS) (string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	if len(names) == 0 {
		return "", errors.New("list migrations: no *.sql files embedded")
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte(templateVersion))
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", name, err)
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// withDatabase returns base with its database name replaced.
func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base // URI validated it already
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}
