package db_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/pgtest"
)

func TestOpenAppliesOptions(t *testing.T) {
	uri := pgtest.NewURI(t)
	opts := db.DefaultPoolOptions(uri)
	opts.MaxConns = 7
	opts.MinConns = 1
	opts.AcquireTimeout = 3 * time.Second
	opts.IdleTimeout = 42 * time.Second
	opts.MaxLifetime = 99 * time.Second

	pool, err := db.Open(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	cfg := pool.Config()
	assert.EqualValues(t, 7, cfg.MaxConns)
	assert.EqualValues(t, 1, cfg.MinConns)
	assert.Equal(t, 3*time.Second, cfg.ConnConfig.ConnectTimeout)
	assert.Equal(t, 42*time.Second, cfg.MaxConnIdleTime)
	assert.Equal(t, 99*time.Second, cfg.MaxConnLifetime)
	require.NotNil(t, cfg.ShouldPing)

	var one int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT 1").Scan(&one))
	assert.Equal(t, 1, one)

	var mode string
	require.NoError(t, pool.QueryRow(t.Context(), "SHOW plan_cache_mode").Scan(&mode))
	assert.Equal(t, "force_custom_plan", mode, "range queries must keep partition pruning")
}

func TestDefaultPoolOptions(t *testing.T) {
	got := db.DefaultPoolOptions("postgres://x")
	assert.Equal(t, db.PoolOptions{
		URI: "postgres://x", MaxConns: 200, MinConns: 20, AcquireTimeout: 10 * time.Second,
		IdleTimeout: 300 * time.Second, MaxLifetime: 1800 * time.Second, TestBeforeAcquire: true,
	}, got)
}

func TestOpenRejectsBadOptions(t *testing.T) {
	valid := db.DefaultPoolOptions("postgres://postgres@127.0.0.1:1/none?sslmode=disable")
	tests := []struct {
		name    string
		mutate  func(*db.PoolOptions)
		wantErr string
	}{
		{"empty uri", func(o *db.PoolOptions) { o.URI = " " }, "database uri is empty"},
		{"zero max conns", func(o *db.PoolOptions) { o.MaxConns = 0 }, "max conns must be >= 1"},
		{"min above max", func(o *db.PoolOptions) { o.MinConns = 300 }, "min conns must be between 0 and max conns"},
		{"negative timeout", func(o *db.PoolOptions) { o.IdleTimeout = -time.Second }, "must not be negative"},
		{"unparsable uri", func(o *db.PoolOptions) { o.URI = "postgres://u:s3cret@host:notaport/db" }, "invalid connection string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mutate(&o)
			_, err := db.Open(t.Context(), o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func TestOpenUnreachableHidesPassword(t *testing.T) {
	o := db.DefaultPoolOptions("postgres://postgres:s3cret@127.0.0.1:1/scouter?sslmode=disable")
	o.MinConns = 0
	o.AcquireTimeout = 2 * time.Second
	_, err := db.Open(t.Context(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connect to postgres://postgres:xxxxx@127.0.0.1:1/scouter")
	assert.False(t, strings.Contains(err.Error(), "s3cret"), "password leaked: %v", err)
}

func TestRedactURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgresql://h/db?password=pw&sslmode=disable", "postgresql://h/db?password=xxxxx&sslmode=disable"},
		{"host=h user=u password=pw", "(dsn)"},
		{"", "(dsn)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, db.RedactURI(tt.in))
		})
	}
}
