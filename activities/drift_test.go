package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/drift"
	"github.com/scoutergo/server/internal/pgtest"
)

// The run every drift test checks: the hourly tick at 12:00, window
// (11:00, 12:00].
var (
	dcTick  = time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	dcStart = dcTick.Add(-time.Hour)
	dcNow   = dcTick.Add(90 * time.Second)
)

const dcRunID = "drift:statworld/test_app/0.1.0/Spc-2026-03-26T12:00:00Z"

type dcFixture struct {
	pool *pgxpool.Pool
	q    *dbsqlc.Queries
	acts *activities.DriftActivities
}

func newDCFixture(t *testing.T) *dcFixture {
	t.Helper()
	pool := pgtest.New(t)
	acts, err := activities.NewDriftActivities(activities.DriftDeps{
		DB: pool, Clock: func() time.Time { return dcNow }, MaxRetries: 3, Lateness: activities.DefaultLateness,
	})
	require.NoError(t, err)
	return &dcFixture{pool: pool, q: dbsqlc.New(pool), acts: acts}
}

// addProfile registers a profile row (as the profile routes do, with
// previous_run = prev) and returns its entity id.
func (f *dcFixture) addProfile(t testing.TB, ref activities.ProfileRef, schedule, body string, active bool, prev *time.Time) int32 {
	t.Helper()
	ctx := context.Background()
	uid := fmt.Sprintf("uid-%s-%s", ref.Name, ref.DriftType)
	e, err := f.q.UpsertEntity(ctx, dbsqlc.UpsertEntityParams{
		UID: uid, Space: ref.Space, Name: ref.Name, Version: ref.Version, DriftType: ref.DriftType,
	})
	require.NoError(t, err)
	_, err = f.q.InsertDriftProfile(ctx, dbsqlc.InsertDriftProfileParams{
		UID: uid, EntityID: e.ID, Name: ref.Name, Space: ref.Space, Version: ref.Version, DriftType: ref.DriftType,
		Profile: json.RawMessage(body), Active: active, Schedule: schedule, PreviousRun: prev,
		ScouterVersion: "0.25.0", CreatedAt: dcStart.Add(-time.Hour),
	})
	require.NoError(t, err)
	return e.ID
}

type spcPoint struct {
	feature string
	at      time.Time
	value   float64
}

func (f *dcFixture) addSPC(t *testing.T, entityID int32, pts ...spcPoint) {
	t.Helper()
	var p dbsqlc.InsertSpcDriftBatchParams
	for _, pt := range pts {
		p.CreatedAt, p.EntityID = append(p.CreatedAt, pt.at), append(p.EntityID, entityID)
		p.Feature, p.Value = append(p.Feature, pt.feature), append(p.Value, pt.value)
	}
	n, err := f.q.InsertSpcDriftBatch(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, int64(len(pts)), n)
}

// addPSI stores one psi_drift record per bin (ids 1..len(counts)) of a
// feature at the given time.
func (f *dcFixture) addPSI(t *testing.T, entityID int32, feature string, at time.Time, counts ...int32) {
	t.Helper()
	var p dbsqlc.InsertPsiDriftBatchParams
	for i, c := range counts {
		p.CreatedAt, p.EntityID, p.Feature = append(p.CreatedAt, at), append(p.EntityID, entityID), append(p.Feature, feature)
		p.BinID, p.BinCount = append(p.BinID, int32(i+1)), append(p.BinCount, c)
	}
	_, err := f.q.InsertPsiDriftBatch(context.Background(), p)
	require.NoError(t, err)
}

func (f *dcFixture) addCustom(t *testing.T, entityID int32, metric string, at time.Time, value float64) {
	t.Helper()
	_, err := f.q.InsertCustomDriftBatch(context.Background(), dbsqlc.InsertCustomDriftBatchParams{
		CreatedAt: []time.Time{at}, EntityID: []int32{entityID}, Metric: []string{metric}, Value: []float64{value},
	})
	require.NoError(t, err)
}

type storedAlert struct {
	CreatedAt  time.Time
	EntityName string
	Key        string
	RunID      string
	Alert      drift.AlertMap
}

func (f *dcFixture) alerts(t *testing.T, entityID int32) []storedAlert {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT created_at, entity_name, alert_key, run_id, alert
		FROM scouter.drift_alert WHERE entity_id = $1 ORDER BY alert_key`, entityID)
	require.NoError(t, err)
	defer rows.Close()
	var out []storedAlert
	for rows.Next() {
		var a storedAlert
		var raw []byte
		require.NoError(t, rows.Scan(&a.CreatedAt, &a.EntityName, &a.Key, &a.RunID, &raw))
		require.NoError(t, json.Unmarshal(raw, &a.Alert), "alert %s", raw)
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

func (f *dcFixture) compute(t *testing.T, entityID int32, driftType string) (*activities.ComputeAndStoreResult, error) {
	t.Helper()
	return f.acts.ComputeAndStore(context.Background(), &activities.ComputeAndStoreInput{
		EntityID: entityID, DriftType: driftType, RunID: dcRunID, WindowStart: dcStart, WindowEnd: dcTick,
	})
}

// requireNonRetryable checks err is a non-retryable application error of
// the given type whose message contains want.
func requireNonRetryable(t *testing.T, err error, errType, want string) {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, errType, appErr.Type())
	assert.True(t, appErr.NonRetryable(), "non-retryable")
	assert.Contains(t, appErr.Message(), want)
}

// dcSpcProfile has limits center 0 and k sigma = k for col_1..col_3; it
// monitors col_1 and col_2 with the given rule.
func dcSpcProfile(rule string) string {
	limits := `{"id": "%s", "center": 0, "one_ucl": 1, "one_lcl": -1, "two_ucl": 2, "two_lcl": -2,
		"three_ucl": 3, "three_lcl": -3, "timestamp": "2026-03-20T10:00:00.000123Z"}`
	return `{
  "features": {"col_1": ` + fmt.Sprintf(limits, "col_1") + `, "col_2": ` + fmt.Sprintf(limits, "col_2") +
		`, "col_3": ` + fmt.Sprintf(limits, "col_3") + `},
  "config": {
    "sample_size": 25, "sample": true, "space": "statworld", "name": "test_app", "version": "0.1.0",
    "uid": "uid-test_app-Spc",
    "alert_config": {
      "rule": {"rule": "` + rule + `", "zones_to_monitor": ["Zone1", "Zone2", "Zone3", "Zone4"]},
      "schedule": "0 0 * * * *",
      "features_to_monitor": ["col_1", "col_2"],
      "dispatch_config": {"Slack": {"channel": "#ml-alerts"}}
    },
    "feature_map": {"features": {}}, "drift_type": "Spc"
  },
  "scouter_version": "0.25.0"
}`
}

var dcSpcRef = activities.ProfileRef{Space: "statworld", Name: "test_app", Version: "0.1.0", DriftType: "Spc"}

// series returns points of one feature, one minute apart, the last at end.
func dcSeries(feature string, end time.Time, values ...float64) []spcPoint {
	pts := make([]spcPoint, len(values))
	for i, v := range values {
		pts[i] = spcPoint{feature: feature, at: end.Add(-time.Duration(len(values)-1-i) * time.Minute), value: v}
	}
	return pts
}

func TestComputeSPC(t *testing.T) {
	t.Run("out of bounds and trend", func(t *testing.T) {
		f := newDCFixture(t)
		id := f.addProfile(t, dcSpcRef, "0 0 * * * *", dcSpcProfile(drift.DefaultSPCRule), true, &dcStart)
		// col_1: within 1 sigma, then beyond 3 sigma exactly at the tick
		// (the window's end is included).
		f.addSPC(t, id, dcSeries("col_1", dcTick, 0.5, -0.5, 0.2, 0.3, -0.2, 0.1, 3.5)...)
		// col_2: zone codes -3 -2 -1 0 1 2 3 over time, a trend.
		f.addSPC(t, id, dcSeries("col_2", dcTick.Add(-time.Second), -2.5, -1.5, -0.5, 0, 0.5, 1.5, 2.5)...)
		// col_3 is not monitored; the window's start is excluded, and so is
		// anything after the tick.
		f.addSPC(t, id, dcSeries("col_3", dcTick, 9, 9, 9, 9, 9, 9, 9, 9)...)
		f.addSPC(t, id, spcPoint{"col_1", dcStart, 50}, spcPoint{"col_2", dcStart, -50},
			spcPoint{"col_1", dcTick.Add(time.Microsecond), -50}, spcPoint{"col_2", dcTick.Add(time.Second), 50})

		res, err := f.compute(t, id, "Spc")
		require.NoError(t, err)
		assert.Equal(t, activities.ComputeAndStoreResult{Evaluated: 2, Alerts: 2, Inserted: 2, Stored: 2}, *res)
		got := f.alerts(t, id)
		want := []storedAlert{
			{CreatedAt: dcTick, EntityName: "col_1", Key: "spc/col_1/OutOfBounds/Zone4", RunID: dcRunID,
				Alert: drift.AlertMap{Spc: &drift.SPCAlert{Feature: "col_1", Kind: drift.OutOfBounds, Zone: drift.Zone4}}},
			{CreatedAt: dcTick, EntityName: "col_2", Key: "spc/col_2/Trend/NotApplicable", RunID: dcRunID,
				Alert: drift.AlertMap{Spc: &drift.SPCAlert{Feature: "col_2", Kind: drift.Trend, Zone: drift.NotApplicable}}},
		}
		assert.Equal(t, want, got)
	})

	t.Run("newest values of each feature, truncated to the shortest", func(t *testing.T) {
		f := newDCFixture(t)
		id := f.addProfile(t, dcSpcRef, "0 0 * * * *", dcSpcProfile(drift.DefaultSPCRule), true, &dcStart)
		// col_1's oldest value is beyond 3 sigma, but col_2 has only three
		// values: the newest three of col_1 are evaluated, all fine.
		f.addSPC(t, id, dcSeries("col_1", dcTick, -4, 0.5, 0.5, 0.5)...)
		f.addSPC(t, id, dcSeries("col_2", dcTick, 0.5, 0.5, 0.5)...)
		res, err := f.compute(t, id, "Spc")
		require.NoError(t, err)
		assert.Equal(t, 0, res.Alerts)
		assert.Empty(t, f.alerts(t, id))
	})

	t.Run("consecutive zone 2, default rule", func(t *testing.T) {
		f := newDCFixture(t)
		id := f.addProfile(t, dcSpcRef, "0 0 * * * *", dcSpcProfile(drift.DefaultSPCRule), true, &dcStart)
		f.addSPC(t, id, dcSeries("col_1", dcTick, 1.5, 1.6, 1.7, 1.8)...)
		res, err := f.compute(t, id, "Spc")
		require.NoError(t, err)
		assert.Equal(t, 1, res.Alerts)
		got := f.alerts(t, id)
		require.Len(t, got, 1)
		assert.Equal(t, drift.SPCAlert{Feature: "col_1", Kind: drift.Consecutive, Zone: drift.Zone2}, *got[0].Alert.Spc)
	})

	t.Run("no data", func(t *testing.T) {
		f := newDCFixture(t)
		id := f.addProfile(t, dcSpcRef, "0 0 * * * *", dcSpcProfile(drift.DefaultSPCRule), true, &dcStart)
		res, err := f.compute(t, id, "Spc")
		require.NoError(t, err)
		assert.Equal(t, activities.ComputeAndStoreResult{}, *res)
	})
}

func TestComputeBadSPCRuleIsInvalidProfile(t *testing.T) {
	f := newDCFixture(t)
	id := f.addProfile(t, dcSpcRef, "0 0 * * * *", dcSpcProfile("8 16 4 8 2 4 1"), true, &dcStart)
	f.addSPC(t, id, dcSeries("col_1", dcTick, 5)...)
	_, err := f.compute(t, id, "Spc")
	requireNonRetryable(t, err, activities.ErrTypeInvalidProfile, `rule "8 16 4 8 2 4 1": want 8 integers`)
	assert.ErrorIs(t, err, drift.ErrInvalidProfile)
	assert.Empty(t, f.alerts(t, id))
}

// dcPsiProfile returns a PSI profile with uniform bins: feature name → bin
// count, all monitored.
func dcPsiProfile(threshold string, bins map[string]int) string {
	var feats, names []string
	for name, n := range bins {
		var bs []string
		for i := 1; i <= n; i++ {
			bs = append(bs, fmt.Sprintf(`{"id": %d, "lower_limit": %s, "upper_limit": %s, "proportion": %v}`,
				i, dcLimit(i-1, n), dcLimit(i, n), 1/float64(n)))
		}
		feats = append(feats, fmt.Sprintf(`"%s": {"id": "%s", "bins": [%s], "timestamp": "2026-03-20T10:00:00Z", "bin_type": "Numeric"}`,
			name, name, strings.Join(bs, ", ")))
		names = append(names, `"`+name+`"`)
	}
	return `{
  "features": {` + strings.Join(feats, ", ") + `},
  "config": {
    "space": "scouter", "name": "model", "version": "0.1.0", "uid": "uid-model-Psi",
    "alert_config": {
      "schedule": "0 0 * * * *", "features_to_monitor": [` + strings.Join(names, ", ") + `],
      "dispatch_config": {"Console": {"enabled": true}},
      "threshold": ` + threshold + `
    },
    "feature_map": {"features": {}}, "drift_type": "Psi", "categorical_features": null,
    "binning_strategy": {"QuantileBinning": {"num_bins": 10}}
  },
  "scouter_version": "0.25.0"
}`
}

func dcLimit(i, n int) string {
	switch i {
	case 0:
		return `"-inf"`
	case n:
		return `"inf"`
	}
	return fmt.Sprint(float64(i))
}

var dcPsiRef = activities.ProfileRef{Space: "scouter", Name: "model", Version: "0.1.0", DriftType: "Psi"}

func TestComputePSI(t *testing.T) {
	// The reference thresholds of drift.md §3.2.
	chi10x400 := 16.918977604620448 / 400  // χ²(0.95; 9) / 400 ≈ 0.0423
	chi20x1000 := 30.14352720564616 / 1000 // χ²(0.95; 19) / 1000 ≈ 0.0301

	f := newDCFixture(t)
	id := f.addProfile(t, dcPsiRef, "0 0 * * * *",
		dcPsiProfile(`{"ChiSquare": {"alpha": 0.05}}`, map[string]int{"f10": 10, "f20": 20, "few": 10, "calm": 10}), true, &dcStart)

	// f10: 400 values in four records; bin 1 doubled, bins 9 and 10 halved.
	for i := range 4 {
		f.addPSI(t, id, "f10", dcTick.Add(-time.Duration(10*i)*time.Minute), 20, 10, 10, 10, 10, 10, 10, 10, 5, 5)
	}
	// f20: 1000 values; bin 1 doubled, bin 2 empty.
	f20 := make([]int32, 20)
	for i := range f20 {
		f20[i] = 50
	}
	f20[0], f20[1] = 100, 0
	f.addPSI(t, id, "f20", dcTick, f20...)
	// few: exactly 10 values per bin is not enough (must be more).
	f.addPSI(t, id, "few", dcTick, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	// calm: 1000 values as expected.
	f.addPSI(t, id, "calm", dcTick, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100)
	// Outside the window: would make f10 calm and push "few" over the limit.
	f.addPSI(t, id, "f10", dcStart, 0, 100, 100, 100, 100, 100, 100, 100, 200, 200)
	f.addPSI(t, id, "few", dcTick.Add(time.Millisecond), 100, 100, 100, 100, 100, 100, 100, 100, 100, 100)

	res, err := f.compute(t, id, "Psi")
	require.NoError(t, err)
	assert.Equal(t, activities.ComputeAndStoreResult{Evaluated: 3, Alerts: 2, Inserted: 2, Stored: 2}, *res)

	got := f.alerts(t, id)
	require.Len(t, got, 2)
	assert.Equal(t, "psi/f10", got[0].Key)
	assert.Equal(t, "psi/f20", got[1].Key)
	// PSI by hand: Σ (p−q)·ln(p/q).
	wantF10 := (0.1-0.2)*math.Log(0.1/0.2) + 2*(0.1-0.05)*math.Log(0.1/0.05)
	assert.InDelta(t, wantF10, got[0].Alert.Psi.Drift, 1e-8)
	assert.InDelta(t, chi10x400, got[0].Alert.Psi.Threshold, 1e-12)
	assert.InDelta(t, 0.0423, got[0].Alert.Psi.Threshold, 5e-5)
	wantF20 := (0.05-0.1)*math.Log(0.05/0.1) + (0.05+1e-10-1e-10)*math.Log((0.05+1e-10)/1e-10)
	assert.InDelta(t, wantF20, got[1].Alert.Psi.Drift, 1e-8)
	assert.InDelta(t, chi20x1000, got[1].Alert.Psi.Threshold, 1e-12)
	assert.InDelta(t, 0.0301, got[1].Alert.Psi.Threshold, 5e-5)
	for _, a := range got {
		assert.Equal(t, dcTick, a.CreatedAt)
		assert.Equal(t, a.Alert.Psi.Feature, a.EntityName)
	}
}

func TestComputePSIThresholds(t *testing.T) {
	tests := []struct {
		name          string
		threshold     string
		wantThreshold float64
	}{
		// drift.md §3.2: Normal α=0.05, B=10, M=400 → ≈ 0.0400.
		{name: "normal", threshold: `{"Normal": {"alpha": 0.05}}`, wantThreshold: (9 + 1.6448536269514722*math.Sqrt(18)) / 400},
		{name: "fixed", threshold: `{"Fixed": {"threshold": 0.1}}`, wantThreshold: 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDCFixture(t)
			id := f.addProfile(t, dcPsiRef, "0 0 * * * *", dcPsiProfile(tt.threshold, map[string]int{"f10": 10}), true, &dcStart)
			f.addPSI(t, id, "f10", dcTick, 80, 40, 40, 40, 40, 40, 40, 40, 20, 20)
			res, err := f.compute(t, id, "Psi")
			require.NoError(t, err)
			require.Equal(t, 1, res.Alerts)
			got := f.alerts(t, id)
			require.Len(t, got, 1)
			assert.InDelta(t, tt.wantThreshold, got[0].Alert.Psi.Threshold, 1e-12)
		})
	}
}

func TestComputePSIInvalidProfile(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{
			name: "one bin",
			body: strings.Replace(dcPsiProfile(`{"ChiSquare": {"alpha": 0.05}}`, map[string]int{"f2": 2}),
				`{"id": 2, "lower_limit": 1, "upper_limit": "inf", "proportion": 0.5}`, "", 1),
			want: "features.f2.bins",
		},
		{
			name: "monitored feature missing",
			body: strings.Replace(dcPsiProfile(`{"ChiSquare": {"alpha": 0.05}}`, map[string]int{"f2": 2}),
				`"features_to_monitor": ["f2"]`, `"features_to_monitor": ["f2", "gone"]`, 1),
			want: `monitored feature "gone" is not in the profile`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDCFixture(t)
			body := strings.Replace(tt.body, `}, ]`, `}]`, 1) // the one-bin edit leaves a trailing comma
			body = strings.Replace(body, `, ]`, `]`, 1)
			require.True(t, json.Valid([]byte(body)), body)
			id := f.addProfile(t, dcPsiRef, "0 0 * * * *", body, true, &dcStart)
			f.addPSI(t, id, "f2", dcTick, 500, 500)
			_, err := f.compute(t, id, "Psi")
			requireNonRetryable(t, err, activities.ErrTypeInvalidProfile, tt.want)
			assert.ErrorIs(t, err, drift.ErrInvalidProfile)
		})
	}
}

const dcCustomProfile = `{
  "config": {
    "sample_size": 25, "space": "scouter", "name": "model", "version": "0.1.0", "uid": "uid-model-Custom",
    "alert_config": {
      "dispatch_config": {"OpsGenie": {"team": "ml-team", "priority": "P3"}},
      "schedule": "0 0 * * * *",
      "alert_conditions": {
        "mse": {"baseline_value": 12.02, "alert_threshold": "Above", "delta": 1.0},
        "accuracy": {"baseline_value": 0.75, "alert_threshold": "Below", "delta": null},
        "latency": {"baseline_value": 100, "alert_threshold": "Outside", "delta": 5},
        "f1": {"baseline_value": 0.5, "alert_threshold": "Outside", "delta": 0.1}
      }
    },
    "drift_type": "Custom"
  },
  "metrics": {"mse": 12.02, "accuracy": 0.75, "latency": 100, "f1": 0.5},
  "scouter_version": "0.25.0"
}`

var dcCustomRef = activities.ProfileRef{Space: "scouter", Name: "model", Version: "0.1.0", DriftType: "Custom"}

func TestComputeCustom(t *testing.T) {
	f := newDCFixture(t)
	id := f.addProfile(t, dcCustomRef, "0 0 * * * *", dcCustomProfile, true, &dcStart)
	for _, r := range []struct {
		metric string
		at     time.Time
		value  float64
	}{
		{"mse", dcTick.Add(-30 * time.Minute), 13.5}, {"mse", dcTick, 14.5}, // avg 14 > 12.02 + 1
		{"mse", dcStart, 0}, {"mse", dcTick.Add(time.Microsecond), 0}, // outside (start, tick]
		{"accuracy", dcTick.Add(-time.Minute), 0.7}, {"accuracy", dcTick.Add(-2 * time.Minute), 0.72}, // avg 0.71 < 0.75
		{"latency", dcTick.Add(-time.Minute), 90}, {"latency", dcTick.Add(-2 * time.Minute), 80}, // 85 outside 100 ± 5
		{"f1", dcTick.Add(-time.Minute), 0.45}, {"f1", dcTick.Add(-2 * time.Minute), 0.55}, // 0.5: fine
		{"unknown", dcTick.Add(-time.Minute), 1e9}, // not a profile metric
	} {
		f.addCustom(t, id, r.metric, r.at, r.value)
	}

	res, err := f.compute(t, id, "Custom")
	require.NoError(t, err)
	assert.Equal(t, activities.ComputeAndStoreResult{Evaluated: 4, Alerts: 3, Inserted: 3, Stored: 3}, *res)

	got := f.alerts(t, id)
	require.Len(t, got, 3)
	one, five := 1.0, 5.0
	want := []struct {
		key   string
		alert drift.MetricAlert
	}{
		{"custom/accuracy", drift.MetricAlert{MetricName: "accuracy", BaselineValue: 0.75, ObservedValue: 0.71, AlertThreshold: drift.Below}},
		{"custom/latency", drift.MetricAlert{MetricName: "latency", BaselineValue: 100, ObservedValue: 85, Delta: &five, AlertThreshold: drift.Outside}},
		{"custom/mse", drift.MetricAlert{MetricName: "mse", BaselineValue: 12.02, ObservedValue: 14, Delta: &one, AlertThreshold: drift.Above}},
	}
	for i, w := range want {
		assert.Equal(t, w.key, got[i].Key)
		assert.Equal(t, w.alert.MetricName, got[i].EntityName)
		require.NotNil(t, got[i].Alert.Custom)
		assert.InDelta(t, w.alert.ObservedValue, got[i].Alert.Custom.ObservedValue, 1e-12, w.key)
		got[i].Alert.Custom.ObservedValue = w.alert.ObservedValue
		assert.Equal(t, w.alert, *got[i].Alert.Custom)
	}
}

func TestComputeRetryStoresNoDuplicate(t *testing.T) {
	f := newDCFixture(t)
	id := f.addProfile(t, dcCustomRef, "0 0 * * * *", dcCustomProfile, true, &dcStart)
	f.addCustom(t, id, "mse", dcTick, 20)

	first, err := f.compute(t, id, "Custom")
	require.NoError(t, err)
	assert.Equal(t, activities.ComputeAndStoreResult{Evaluated: 1, Alerts: 1, Inserted: 1, Stored: 1}, *first)

	// The retry sees one more late record for another metric.
	f.addCustom(t, id, "accuracy", dcTick.Add(-time.Second), 0.1)
	again, err := f.compute(t, id, "Custom")
	require.NoError(t, err)
	assert.Equal(t, activities.ComputeAndStoreResult{Evaluated: 2, Alerts: 2, Inserted: 1, Stored: 2}, *again)
	keys := []string{}
	for _, a := range f.alerts(t, id) {
		keys = append(keys, a.Key)
	}
	assert.Equal(t, []string{"custom/accuracy", "custom/mse"}, keys, "mse stored once")
}

func TestComputeThroughActivityEnvironment(t *testing.T) {
	f := newDCFixture(t)
	id := f.addProfile(t, dcCustomRef, "0 0 * * * *", dcCustomProfile, true, &dcStart)
	f.addCustom(t, id, "mse", dcTick, 20)

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	val, err := env.ExecuteActivity(f.acts.ComputeAndStore, &activities.ComputeAndStoreInput{
		EntityID: id, DriftType: "Custom", RunID: dcRunID, WindowStart: dcStart, WindowEnd: dcTick,
	})
	require.NoError(t, err)
	var res activities.ComputeAndStoreResult
	require.NoError(t, val.Get(&res))
	assert.Equal(t, int64(1), res.Stored)

	_, err = env.ExecuteActivity(f.acts.ComputeAndStore, &activities.ComputeAndStoreInput{
		EntityID: id, DriftType: "Custom", RunID: dcRunID, WindowStart: dcTick, WindowEnd: dcTick,
	})
	requireNonRetryable(t, err, activities.ErrTypeInvalidDriftInput, "is empty")
}

func TestComputeProfileTypeMismatchAndGenAI(t *testing.T) {
	f := newDCFixture(t)
	id := f.addProfile(t, dcCustomRef, "0 0 * * * *", dcCustomProfile, true, &dcStart)
	_, err := f.compute(t, id, "Spc")
	requireNonRetryable(t, err, activities.ErrTypeInvalidProfile, "is Custom, the run checks Spc")

	genAI := `{"config": {"space": "scouter", "name": "genai_test", "version": "0.1.0", "uid": "uid-genai_test-GenAI",
	  "alert_config": {"dispatch_config": {"Console": {"enabled": true}}, "schedule": "0 0 * * * *",
	    "alert_condition": {"baseline_value": 0.8, "alert_threshold": "Below", "delta": 0.01}}, "drift_type": "GenAI"},
	  "tasks": {"assertion": [], "judge": [], "trace": [], "agent": []},
	  "scouter_version": "0.25.0", "workflow": null, "task_ids": [], "alias": null}`
	gid := f.addProfile(t, activities.ProfileRef{Space: "scouter", Name: "genai_test", Version: "0.1.0", DriftType: "GenAI"},
		"0 0 * * * *", genAI, true, &dcStart)
	res, err := f.compute(t, gid, "GenAI")
	require.NoError(t, err)
	assert.Contains(t, res.SkipReason, "not checked yet")
	assert.Zero(t, res.Stored)
}

func TestLoadProfile(t *testing.T) {
	prev := dcTick.Add(-20 * time.Minute)
	late := dcTick.Add(time.Minute)
	tests := []struct {
		name     string
		schedule string
		active   bool
		prev     *time.Time
		lateness time.Duration
		want     activities.LoadProfileResult // EntityID, UID, MaxRetries and WindowEnd filled in below
	}{
		{
			name: "window from previous run", schedule: "0 0 * * * *", active: true, prev: &prev, lateness: 30 * time.Second,
			want: activities.LoadProfileResult{WindowStart: prev, Lateness: 30 * time.Second},
		},
		{
			name: "first run: one interval back", schedule: "0 0,15,30,45 * * * * *", active: true, lateness: 30 * time.Second,
			want: activities.LoadProfileResult{WindowStart: dcTick.Add(-15 * time.Minute), Lateness: 30 * time.Second},
		},
		{
			name: "lateness capped at half the interval", schedule: "0 * * * * * *", active: true, prev: &prev, lateness: time.Minute,
			want: activities.LoadProfileResult{WindowStart: prev, Lateness: 30 * time.Second},
		},
		{
			name: "tick already checked", schedule: "0 0 * * * *", active: true, prev: &late,
			want: activities.LoadProfileResult{WindowStart: late, SkipReason: "previous run 2026-03-26T12:01:00Z is not before the tick 2026-03-26T12:00:00Z"},
		},
		{
			name: "inactive", schedule: "0 0 * * * *", active: false, prev: &prev,
			want: activities.LoadProfileResult{WindowEnd: dcTick, SkipReason: "profile is inactive"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDCFixture(t)
			acts, err := activities.NewDriftActivities(activities.DriftDeps{DB: f.pool, MaxRetries: 5, Lateness: tt.lateness})
			require.NoError(t, err)
			id := f.addProfile(t, dcCustomRef, tt.schedule, dcCustomProfile, tt.active, tt.prev)
			got, err := acts.LoadProfile(context.Background(), &activities.LoadProfileInput{Profile: dcCustomRef, Tick: dcTick})
			require.NoError(t, err)
			want := tt.want
			want.Found, want.Active, want.EntityID, want.UID = true, tt.active, id, "uid-model-Custom"
			want.DriftType, want.Schedule, want.WindowEnd, want.MaxRetries = "Custom", tt.schedule, dcTick, 5
			assert.Equal(t, want, *got)
		})
	}

	t.Run("missing", func(t *testing.T) {
		f := newDCFixture(t)
		got, err := f.acts.LoadProfile(context.Background(), &activities.LoadProfileInput{Profile: dcCustomRef, Tick: dcTick})
		require.NoError(t, err)
		assert.Equal(t, activities.LoadProfileResult{WindowEnd: dcTick, MaxRetries: 3, SkipReason: "profile not found"}, *got)
	})

	t.Run("drift type matches case-insensitively", func(t *testing.T) {
		f := newDCFixture(t)
		f.addProfile(t, dcCustomRef, "0 0 * * * *", dcCustomProfile, true, &prev)
		ref := dcCustomRef
		ref.DriftType = "CUSTOM"
		got, err := f.acts.LoadProfile(context.Background(), &activities.LoadProfileInput{Profile: ref, Tick: dcTick})
		require.NoError(t, err)
		assert.True(t, got.Found)
	})

	t.Run("unparsable schedule", func(t *testing.T) {
		f := newDCFixture(t)
		f.addProfile(t, dcCustomRef, "0 0 * * *", dcCustomProfile, true, &prev)
		_, err := f.acts.LoadProfile(context.Background(), &activities.LoadProfileInput{Profile: dcCustomRef, Tick: dcTick})
		requireNonRetryable(t, err, activities.ErrTypeInvalidProfile, `schedule "0 0 * * *"`)
	})

	t.Run("bad input", func(t *testing.T) {
		f := newDCFixture(t)
		_, err := f.acts.LoadProfile(context.Background(), &activities.LoadProfileInput{Profile: dcCustomRef})
		requireNonRetryable(t, err, activities.ErrTypeInvalidDriftInput, "tick is missing")
		_, err = f.acts.LoadProfile(context.Background(), &activities.LoadProfileInput{Tick: dcTick})
		requireNonRetryable(t, err, activities.ErrTypeInvalidDriftInput, "are required")
		_, err = f.acts.LoadProfile(context.Background(), nil)
		requireNonRetryable(t, err, activities.ErrTypeInvalidDriftInput, "input is missing")
	})
}

type profileRun struct {
	PreviousRun, NextRun *time.Time
	Status               string
	Reason               *string
	LastErrorAt          *time.Time
}

func (f *dcFixture) run(t *testing.T, entityID int32) profileRun {
	t.Helper()
	var r profileRun
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT previous_run, next_run, status, status_reason, last_error_at
		FROM scouter.drift_profile WHERE entity_id = $1`, entityID).Scan(&r.PreviousRun, &r.NextRun, &r.Status, &r.Reason, &r.LastErrorAt))
	for _, p := range []**time.Time{&r.PreviousRun, &r.NextRun, &r.LastErrorAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	return r
}

func TestRecordRun(t *testing.T) {
	ctx := context.Background()
	f := newDCFixture(t)
	id := f.addProfile(t, dcCustomRef, "0 0 * * * *", dcCustomProfile, true, &dcStart)
	next := dcTick.Add(time.Hour)
	reason := "compute drift: invalid drift profile: spc rule"
	ptr := func(v time.Time) *time.Time { return &v }

	steps := []struct {
		name string
		in   activities.RecordRunInput
		want profileRun
	}{
		{
			name: "failed, cannot be evaluated: window consumed",
			in:   activities.RecordRunInput{Profile: dcCustomRef, Tick: dcTick, Failed: true, Reason: reason},
			want: profileRun{PreviousRun: ptr(dcTick), NextRun: &next, Status: "failed", Reason: &reason, LastErrorAt: ptr(dcNow)},
		},
		{
			name: "success clears the failure",
			in:   activities.RecordRunInput{Profile: dcCustomRef, Tick: dcTick},
			want: profileRun{PreviousRun: ptr(dcTick), NextRun: &next, Status: "pending"},
		},
		{
			name: "transient failure keeps the window",
			in:   activities.RecordRunInput{Profile: dcCustomRef, Tick: next, Failed: true, Reason: "db down", RetryWindow: true},
			want: profileRun{PreviousRun: ptr(dcTick), NextRun: ptr(next.Add(time.Hour)), Status: "failed", Reason: ptr2("db down"), LastErrorAt: ptr(dcNow)},
		},
		{
			name: "an older tick never moves previous_run back",
			in:   activities.RecordRunInput{Profile: dcCustomRef, Tick: dcStart},
			want: profileRun{PreviousRun: ptr(dcTick), NextRun: ptr(dcTick), Status: "pending"},
		},
	}
	for _, s := range steps {
		res, err := f.acts.RecordRun(ctx, &s.in)
		require.NoError(t, err, s.name)
		assert.Equal(t, int64(1), res.Updated, s.name)
		assert.Equal(t, s.want, f.run(t, id), s.name)
	}

	res, err := f.acts.RecordRun(ctx, &activities.RecordRunInput{Profile: dcPsiRef, Tick: dcTick})
	require.NoError(t, err)
	assert.Equal(t, int64(0), res.Updated, "a missing profile records nothing")

	_, err = f.acts.RecordRun(ctx, &activities.RecordRunInput{Profile: dcCustomRef})
	requireNonRetryable(t, err, activities.ErrTypeInvalidDriftInput, "tick is missing")
}

func ptr2(s string) *string { return &s }

func TestNewDriftActivities(t *testing.T) {
	_, err := activities.NewDriftActivities(activities.DriftDeps{})
	assert.ErrorContains(t, err, "DB is required")
	_, err = activities.NewDriftActivities(activities.DriftDeps{DB: (*pgxpool.Pool)(nil), Lateness: -time.Second})
	assert.ErrorContains(t, err, "must not be negative")
}

func TestAlertKey(t *testing.T) {
	tests := []struct {
		alert drift.AlertMap
		want  string
	}{
		{drift.AlertMap{Spc: &drift.SPCAlert{Feature: "a/b", Kind: drift.Consecutive, Zone: drift.Zone1}}, "spc/a/b/Consecutive/Zone1"},
		{drift.AlertMap{Psi: &drift.PSIAlert{Feature: "f"}}, "psi/f"},
		{drift.AlertMap{Custom: &drift.MetricAlert{MetricName: "mse"}}, "custom/mse"},
		{drift.AlertMap{GenAI: &drift.MetricAlert{MetricName: drift.GenAIMetricName}}, "genai/genai_workflow_metric"},
		{drift.AlertMap{}, "none"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, activities.AlertKey(tt.alert))
	}
}
