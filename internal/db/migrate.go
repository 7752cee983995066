package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/scoutergo/server/db/migrations"
)

const (
	// Schema holds everything the server owns, goose's version table included.
	Schema = "scouter"
	// MigrationTable is goose's version table.
	MigrationTable = Schema + ".goose_db_version"

	// migrationLockID is the Postgres advisory lock key that serialises
	// migration runs on one database ("scouter1" in ASCII, not goose's default
	// key, so another goose-managed app in the same database cannot collide).
	migrationLockID int64 = 0x73636f7574657231
)

// Migrate applies every pending migration embedded in db/migrations, then
// makes sure the partition-maintenance pg_cron job exists when pg_cron is
// usable in this database (see scouter.ensure_partition_maintenance).
//
// It is safe to run from several processes at once: runs are serialised by a
// Postgres advisory lock, so each migration is applied exactly once. Migrate
// uses its own short-lived connections built from the pool's config (so session
// state changed by migrations never leaks into the pool) and logs Postgres
// notices, such as the one saying pg_cron is unavailable, through logger.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return migrateFS(ctx, pool, logger, migrations.FS)
}

func migrateFS(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, fsys fs.FS) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("component", "migrate"))

	sqlDB := openMigrationDB(pool, logger)
	defer func() { _ = sqlDB.Close() }()

	if err := ensureSchema(ctx, sqlDB); err != nil {
		return err
	}
	provider, err := newProvider(sqlDB, fsys, logger)
	if err != nil {
		return err
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		if r == nil || r.Source == nil {
			continue
		}
		if r.Error != nil {
			continue // reported through err below
		}
		logger.InfoContext(ctx, "migration applied",
			slog.Int64("version", r.Source.Version),
			slog.String("file", r.Source.Path),
			slog.Int64("duration_ms", r.Duration.Milliseconds()))
	}
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	version, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read migration version: %w", err)
	}
	logger.InfoContext(ctx, "database migrated", slog.Int64("version", version), slog.Int("applied", len(results)))

	var status string
	if err := sqlDB.QueryRowContext(ctx, "SELECT scouter.ensure_partition_maintenance()").Scan(&status); err != nil {
		return fmt.Errorf("ensure partition maintenance job: %w", err)
	}
	level := slog.LevelInfo
	if strings.HasPrefix(status, "skipped") {
		level = slog.LevelWarn
	}
	logger.Log(ctx, level, "partition maintenance job", slog.String("status", status))
	return nil
}

// openMigrationDB opens a database/sql handle (what goose needs) on fresh
// connections configured like the pool's, with notices forwarded to logger.
func openMigrationDB(pool *pgxpool.Pool, logger *slog.Logger) *sql.DB {
	connCfg := pool.Config().ConnConfig.Copy()
	connCfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		log := logger.Info
		if strings.HasSuffix(n.Message, ", skipping") { // "... already exists, skipping"
			log = logger.Debug
		}
		log("postgres notice", slog.String("severity", n.Severity), slog.String("message", n.Message))
	}
	sqlDB := stdlib.OpenDB(*connCfg)
	// One connection for goose's lock session, one for the schema pre-step and
	// the version queries; nothing else runs here.
	sqlDB.SetMaxOpenConns(2)
	return sqlDB
}

// ensureSchema creates schema scouter, when missing, before goose creates its
// version table in it. It runs under the migration lock (transaction-scoped
// here) so concurrent runs cannot race to create it.
func ensureSchema(ctx context.Context, sqlDB *sql.DB) error {
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema %s: %w", Schema, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("create schema %s: lock: %w", Schema, err)
	}
	// Check first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on
	// the database even when the schema exists, and a non-superuser deployment
	// has the schema pre-created with grants on it only.
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT to_regnamespace($1) IS NOT NULL", Schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %s: %w", Schema, err)
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+Schema); err != nil {
			return fmt.Errorf("create schema %s: %w", Schema, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema %s: commit: %w", Schema, err)
	}
	return nil
}

// newProvider builds the goose provider over fsys with the advisory-lock
// session locker (retried every second for up to 10 minutes).
func newProvider(sqlDB *sql.DB, fsys fs.FS, logger *slog.Logger) (*goose.Provider, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID),
		lock.WithLockTimeout(1, 600),
		lock.WithUnlockTimeout(1, 60),
	)
	if err != nil {
		return nil, fmt.Errorf("migration locker: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(locker),
		goose.WithTableName(MigrationTable),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return provider, nil
}
