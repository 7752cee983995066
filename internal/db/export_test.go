package db

import (
	"database/sql"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// NewProvider exposes the goose provider to the external tests (down/up).
func NewProvider(sqlDB *sql.DB, fsys fs.FS, logger *slog.Logger) (*goose.Provider, error) {
	return newProvider(sqlDB, fsys, logger)
}
