package driftread

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
)

// fixture is a migrated database with a Service over it.
type fixture struct {
	pool *pgxpool.Pool
	svc  *Service
	now  time.Time
}

func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	return newFixtureOn(t, pgtest.New(t), now)
}

// newFixtureOn builds the Service over pool with the real cached resolver.
func newFixtureOn(t *testing.T, pool *pgxpool.Pool, now time.Time) *fixture {
	t.Helper()
	res, err := entity.NewResolver(pool, 100)
	require.NoError(t, err)
	svc, err := New(Deps{DB: pool, Entities: res, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return &fixture{pool: pool, svc: svc, now: now}
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := f.pool.Exec(t.Context(), sql, args...)
	require.NoError(t, err, sql)
}

// entity registers an entity with uid in space "space" and returns its id.
func (f *fixture) entity(t *testing.T, uid, driftType string) int32 {
	t.Helper()
	var id int32
	err := f.pool.QueryRow(t.Context(),
		`INSERT INTO scouter.drift_entities (uid, space, name, version, drift_type)
		 VALUES ($1, 'space', $1, '1.0.0', $2) RETURNING id`, uid, driftType).Scan(&id)
	require.NoError(t, err)
	return id
}

// profile stores a profile row for the entity.
func (f *fixture) profile(t *testing.T, entityID int32, uid, driftType, profileJSON string) {
	t.Helper()
	f.exec(t, `INSERT INTO scouter.drift_profile (uid, entity_id, name, space, version, drift_type, profile, schedule)
		VALUES ($1, $2, $1, 'space', '1.0.0', $3, $4::jsonb, '0 0 0 * * *')`, uid, entityID, driftType, profileJSON)
}

func (f *fixture) spc(t *testing.T, entityID int32, at time.Time, feature string, value float64) {
	t.Helper()
	f.exec(t, `INSERT INTO scouter.spc_drift (created_at, entity_id, feature, value) VALUES ($1, $2, $3, $4)`,
		at, entityID, feature, value)
}

func (f *fixture) psi(t *testing.T, entityID int32, at time.Time, feature string, binID, count int32) {
	t.Helper()
	f.exec(t, `INSERT INTO scouter.psi_drift (created_at, entity_id, feature, bin_id, bin_count) VALUES ($1, $2, $3, $4, $5)`,
		at, entityID, feature, binID, count)
}

func (f *fixture) custom(t *testing.T, entityID int32, at time.Time, metric string, value float64) {
	t.Helper()
	f.exec(t, `INSERT INTO scouter.custom_drift (created_at, entity_id, metric, value) VALUES ($1, $2, $3, $4)`,
		at, entityID, metric, value)
}

func (f *fixture) observability(t *testing.T, entityID int32, at time.Time, routes []record.RouteMetrics) {
	t.Helper()
	raw, err := json.Marshal(routes)
	require.NoError(t, err)
	f.exec(t, `INSERT INTO scouter.observability_metric (created_at, entity_id, request_count, error_count, route_metrics)
		VALUES ($1, $2, 0, 0, $3::jsonb)`, at, entityID, string(raw))
}

// psiProfileJSON builds a stored PSI profile whose features have bins with
// ids 1..n and the given proportions.
func psiProfileJSON(uid string, features map[string][]float64) string {
	var fs []string
	for name, props := range features {
		var bins []string
		for i, p := range props {
			bins = append(bins, fmt.Sprintf(`{"id": %d, "lower_limit": null, "upper_limit": null, "proportion": %v}`, i+1, p))
		}
		fs = append(fs, fmt.Sprintf(`%q: {"id": %q, "bins": [%s], "timestamp": "2025-01-01T00:00:00Z", "bin_type": "Category"}`,
			name, name, strings.Join(bins, ", ")))
	}
	return fmt.Sprintf(`{
  "features": {%s},
  "config": {
    "space": "space", "name": %q, "version": "1.0.0", "uid": %q,
    "alert_config": {
      "schedule": "0 0 0 * * *", "features_to_monitor": [],
      "dispatch_config": {"Console": {"enabled": true}},
      "threshold": {"ChiSquare": {"alpha": 0.05}}
    },
    "feature_map": {"features": {}}, "drift_type": "Psi", "categorical_features": null,
    "binning_strategy": {"QuantileBinning": {"num_bins": 2}}
  },
  "scouter_version": "0.25.0"
}`, strings.Join(fs, ", "), uid, uid)
}

// reader returns a context whose caller holds the given permissions.
func reader(t *testing.T, perms ...string) context.Context {
	t.Helper()
	return auth.WithIdentity(t.Context(), auth.Identity{Username: "tester", Permissions: perms})
}

// ts parses an RFC3339 timestamp.
func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v.UTC()
}

// times formats record times as their wire strings.
func times(ts []record.Time) []string {
	out := make([]string, len(ts))
	for i, v := range ts {
		out[i] = record.FormatTime(v.Time)
	}
	return out
}

func floats(fs []record.Float) []float64 {
	out := make([]float64, len(fs))
	for i, v := range fs {
		out[i] = float64(v)
	}
	return out
}

// epochBin is the start of the epoch-aligned bin of width w holding t,
// computed independently of Postgres.
func epochBin(t time.Time, w time.Duration) time.Time {
	us, wus := t.UnixMicro(), w.Microseconds()
	r := us % wus
	if r < 0 {
		r += wus
	}
	return time.UnixMicro(us - r).UTC()
}

// testNow is the fixed clock of tests that do not depend on it.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
