package db_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/pgtest"
)

type partConfig struct {
	interval  string
	premake   int
	retention *string
	keepTable bool
	infinite  bool
}

func TestRegisterTimePartitions(t *testing.T) {
	pool := pgtest.New(t)
	ctx := t.Context()

	_, err := pool.Exec(ctx, `CREATE TABLE scouter.partition_probe (
		created_at timestamptz NOT NULL DEFAULT now(),
		value double precision
	) PARTITION BY RANGE (created_at)`)
	require.NoError(t, err)

	readConfig := func() partConfig {
		t.Helper()
		var c partConfig
		require.NoError(t, pool.QueryRow(ctx, `SELECT partition_interval, premake, retention, retention_keep_table,
			infinite_time_partitions FROM scouter.part_config WHERE parent_table = 'scouter.partition_probe'`).
			Scan(&c.interval, &c.premake, &c.retention, &c.keepTable, &c.infinite))
		return c
	}
	countPartitions := func() int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx,
			`SELECT count(*) FROM pg_inherits WHERE inhparent = 'scouter.partition_probe'::regclass`).Scan(&n))
		return n
	}

	var created bool
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT scouter.register_time_partitions('scouter.partition_probe', 'created_at', interval '60 days')`).Scan(&created))
	assert.True(t, created, "first call registers the table")

	c := readConfig()
	assert.Equal(t, "1 day", c.interval)
	assert.Equal(t, 4, c.premake)
	require.NotNil(t, c.retention)
	assert.Equal(t, "60 days", *c.retention)
	assert.False(t, c.keepTable, "retention_keep_table")
	assert.True(t, c.infinite, "infinite_time_partitions")

	// premake 4 on each side of today, plus today and the default partition.
	partitions := countPartitions()
	assert.GreaterOrEqual(t, partitions, 2*4+2, "partitions after registering")

	// A row stamped now lands in a daily partition (today's), not the default
	// one. (Partition names differ between partman 4 and 5, so no name check.)
	var partition string
	require.NoError(t, pool.QueryRow(ctx,
		`INSERT INTO scouter.partition_probe (value) VALUES (1) RETURNING tableoid::regclass::text`).Scan(&partition))
	assert.NotEqual(t, "scouter.partition_probe_default", partition)
	assert.NotEqual(t, "scouter.partition_probe", partition)

	// Second call with the same arguments: nothing changes.
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT scouter.register_time_partitions('scouter.partition_probe', 'created_at', interval '60 days')`).Scan(&created))
	assert.False(t, created, "second call must not register again")
	assert.Equal(t, c, readConfig())
	assert.Equal(t, partitions, countPartitions())

	// A later call changes the settings in place.
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT scouter.register_time_partitions('scouter.partition_probe', 'created_at', interval '365 days', 7, true)`).Scan(&created))
	assert.False(t, created)
	c = readConfig()
	require.NotNil(t, c.retention)
	assert.Equal(t, "365 days", *c.retention)
	assert.Equal(t, 7, c.premake)
	assert.True(t, c.keepTable)

	// Maintenance runs cleanly on the registered set.
	_, err = pool.Exec(ctx, `CALL scouter.run_maintenance_proc()`)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, countPartitions(), 2*4+2+3, "maintenance premakes 7 days ahead")
}

func TestRegisterTimePartitionsRejectsBadInput(t *testing.T) {
	pool := pgtest.New(t)
	ctx := t.Context()
	_, err := pool.Exec(ctx, `
		CREATE TABLE scouter.plain_probe (created_at timestamptz NOT NULL);
		CREATE TABLE scouter.ranged_probe (created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);`)
	require.NoError(t, err)

	tests := []struct {
		name    string
		sql     string
		wantErr string
	}{
		{"unknown table", `SELECT scouter.register_time_partitions('scouter.nope', 'created_at', '1 day')`, `does not exist`},
		{"not partitioned", `SELECT scouter.register_time_partitions('scouter.plain_probe', 'created_at', '1 day')`, `partitioned`},
		{"premake zero", `SELECT scouter.register_time_partitions('scouter.ranged_probe', 'created_at', '1 day', 0)`, `premake must be >= 1`},
		{"negative retention", `SELECT scouter.register_time_partitions('scouter.ranged_probe', 'created_at', '-1 day')`, `retention must be positive`},
		{"empty control", `SELECT scouter.register_time_partitions('scouter.ranged_probe', '', '1 day')`, `control column are required`},
		{"wrong control", `SELECT scouter.register_time_partitions('scouter.ranged_probe', 'updated_at', '1 day')`, `updated_at`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tt.sql)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM scouter.part_config WHERE parent_table IN ('scouter.plain_probe', 'scouter.ranged_probe')`).Scan(&n))
	assert.Zero(t, n, "failed calls must not leave part_config rows")
}
