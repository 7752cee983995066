package activities_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/pgtest"
)

// Benchmark sizes: a window of one hour holding 1 M SPC records across 20
// features and 1 M PSI bin rows (20 features × 10 bins × 5000 records).
const (
	benchFeatures = 20
	benchSPCRows  = 1_000_000
	benchPSIBins  = 10
	benchPSIRows  = 1_000_000
)

// BenchmarkDriftCheck measures one drift check (LoadProfile +
// ComputeAndStore + RecordRun, everything a DriftCheck run does besides
// Temporal's bookkeeping) over a window of 1 M records, beside a
// hand-written SQL aggregate of the same window (…/baseline: one GROUP BY
// read of every record of the window, the least any check must do), and,
// for SPC, upstream's query for the same window (…/upstream_sql: the
// values per feature, newest first, with array_agg(... ORDER BY)).
// .ci/bench.sh prints each check with its ratio to the baseline.
//
// Run: go test ./activities -run '^$' -bench DriftCheck -benchtime 5x
func BenchmarkDriftCheck(b *testing.B) {
	ctx := b.Context()
	pool := pgtest.New(b)
	acts, err := activities.NewDriftActivities(activities.DriftDeps{DB: pool, MaxRetries: 3})
	if err != nil {
		b.Fatal(err)
	}
	f := &dcFixture{pool: pool, q: dbsqlc.New(pool), acts: acts}
	tick := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	start := tick.Add(-time.Hour)
	prev := start

	spcRef := activities.ProfileRef{Space: "bench", Name: "spc", Version: "1.0.0", DriftType: "Spc"}
	spcID := f.addProfile(b, spcRef, "0 0 * * * *", benchSPCProfile(), true, &prev)
	copyRows(b, pool, "spc_drift", []string{"created_at", "entity_id", "feature", "value"}, benchSPCRows,
		func(i int, r *rand.Rand) []any {
			at := start.Add(time.Duration(i/benchFeatures+1) * (time.Hour / (benchSPCRows / benchFeatures)))
			return []any{at, spcID, benchFeature(i % benchFeatures), r.NormFloat64()}
		})

	psiRef := activities.ProfileRef{Space: "bench", Name: "psi", Version: "1.0.0", DriftType: "Psi"}
	psiID := f.addProfile(b, psiRef, "0 0 * * * *", benchPSIProfile(), true, &prev)
	const perRecord = benchFeatures * benchPSIBins
	copyRows(b, pool, "psi_drift", []string{"created_at", "entity_id", "feature", "bin_id", "bin_count"}, benchPSIRows,
		func(i int, r *rand.Rand) []any {
			at := start.Add(time.Duration(i/perRecord+1) * (time.Hour / (benchPSIRows / perRecord)))
			feature, bin := (i%perRecord)/benchPSIBins, int32(i%benchPSIBins+1)
			count := int32(5 + r.IntN(11))
			if feature < 2 && bin == 1 { // two drifting features
				count *= 3
			}
			return []any{at, psiID, benchFeature(feature), bin, count}
		})
	for _, table := range []string{"spc_drift", "psi_drift"} {
		if _, err := pool.Exec(ctx, "ANALYZE scouter."+table); err != nil {
			b.Fatal(err)
		}
	}

	check := func(b *testing.B, ref activities.ProfileRef, wantEvaluated int) {
		var alerts int
		for b.Loop() {
			loaded, err := acts.LoadProfile(ctx, &activities.LoadProfileInput{Profile: ref, Tick: tick})
			if err != nil {
				b.Fatal(err)
			}
			if loaded.SkipReason != "" || !loaded.WindowStart.Equal(start) {
				b.Fatalf("load: skip %q, window start %s", loaded.SkipReason, loaded.WindowStart)
			}
			res, err := acts.ComputeAndStore(ctx, &activities.ComputeAndStoreInput{
				EntityID: loaded.EntityID, DriftType: loaded.DriftType, RunID: "bench",
				WindowStart: loaded.WindowStart, WindowEnd: loaded.WindowEnd,
			})
			if err != nil {
				b.Fatal(err)
			}
			if res.Evaluated != wantEvaluated {
				b.Fatalf("evaluated %d features, want %d", res.Evaluated, wantEvaluated)
			}
			alerts = res.Alerts
			// The benchmark re-checks the same tick: keep previous_run at
			// its start (RetryWindow) so the next iteration reads it again.
			if _, err := acts.RecordRun(ctx, &activities.RecordRunInput{Profile: ref, Tick: tick, RetryWindow: true}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(alerts), "alerts")
	}
	baseline := func(b *testing.B, query string, entityID int32, wantRows int) {
		for b.Loop() {
			// QueryExecModeExec: planned for these parameters each time, never
			// with a cached generic plan (see DriftActivities.read).
			rows, err := pool.Query(ctx, query, pgx.QueryExecModeExec, entityID, start, tick)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			if n != wantRows {
				b.Fatalf("baseline read %d groups, want %d", n, wantRows)
			}
		}
	}

	const spcBaseline = `SELECT feature, count(*), avg(value) FROM scouter.spc_drift
		WHERE entity_id = $1 AND created_at > $2 AND created_at <= $3 GROUP BY feature`
	const psiBaseline = `SELECT feature, bin_id, sum(bin_count) FROM scouter.psi_drift
		WHERE entity_id = $1 AND created_at > $2 AND created_at <= $3 GROUP BY feature, bin_id`
	// Upstream's SPC query (ordered array_agg per feature), for reference.
	const spcUpstream = `SELECT feature, array_agg(value ORDER BY created_at DESC) FROM scouter.spc_drift
		WHERE entity_id = $1 AND created_at > $2 AND created_at <= $3 GROUP BY feature`
	b.Run("spc/baseline", func(b *testing.B) { baseline(b, spcBaseline, spcID, benchFeatures) })
	b.Run("spc/check", func(b *testing.B) { check(b, spcRef, benchFeatures) })
	b.Run("spc/upstream_sql", func(b *testing.B) { baseline(b, spcUpstream, spcID, benchFeatures) })
	b.Run("psi/baseline", func(b *testing.B) { baseline(b, psiBaseline, psiID, benchFeatures*benchPSIBins) })
	b.Run("psi/check", func(b *testing.B) { check(b, psiRef, benchFeatures) })
}

func benchFeature(i int) string { return fmt.Sprintf("feature_%02d", i) }

// copyRows COPYs n generated rows into scouter.<table>.
func copyRows(b *testing.B, pool *pgxpool.Pool, table string, cols []string, n int, row func(i int, r *rand.Rand) []any) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	i := 0
	got, err := pool.CopyFrom(context.Background(), pgx.Identifier{"scouter", table}, cols,
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return row(i-1, r), nil
		}))
	if err != nil {
		b.Fatalf("copy into %s: %v", table, err)
	}
	if got != int64(n) {
		b.Fatalf("copied %d rows into %s, want %d", got, table, n)
	}
}

// benchSPCProfile: 20 features with limits center 0, k sigma = k (the
// records are standard normal), default rule, every feature monitored.
func benchSPCProfile() string {
	feats := make([]string, benchFeatures)
	for i := range feats {
		name := benchFeature(i)
		feats[i] = fmt.Sprintf(`"%s": {"id": "%s", "center": 0, "one_ucl": 1, "one_lcl": -1, "two_ucl": 2, "two_lcl": -2,
			"three_ucl": 3, "three_lcl": -3, "timestamp": "2026-03-20T10:00:00Z"}`, name, name)
	}
	return `{"features": {` + strings.Join(feats, ", ") + `},
	  "config": {"sample_size": 25, "sample": true, "space": "bench", "name": "spc", "version": "1.0.0", "uid": "uid-spc-Spc",
	    "alert_config": {"rule": {"rule": "8 16 4 8 2 4 1 1", "zones_to_monitor": ["Zone1", "Zone2", "Zone3", "Zone4"]},
	      "schedule": "0 0 * * * *", "features_to_monitor": [], "dispatch_config": {"Console": {"enabled": true}}},
	    "feature_map": {"features": {}}, "drift_type": "Spc"},
	  "scouter_version": "0.25.0"}`
}

// benchPSIProfile: 20 features of 10 equal bins, ChiSquare threshold.
func benchPSIProfile() string {
	bins := map[string]int{}
	for i := range benchFeatures {
		bins[benchFeature(i)] = benchPSIBins
	}
	return strings.NewReplacer(`"name": "model"`, `"name": "psi"`, `"space": "scouter"`, `"space": "bench"`,
		`"version": "0.1.0"`, `"version": "1.0.0"`).Replace(dcPsiProfile(`{"ChiSquare": {"alpha": 0.05}}`, bins))
}
