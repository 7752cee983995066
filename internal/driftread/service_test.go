package driftread

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/profile"
	"github.com/scoutergo/server/internal/record"
)

// custom builds a DriftRequest over the custom range [start, end).
func customReq(uid, start, end string, points int32) profile.DriftRequest {
	s, _ := time.Parse(time.RFC3339Nano, start)
	e, _ := time.Parse(time.RFC3339Nano, end)
	return profile.DriftRequest{
		UID: uid, Space: "space", TimeInterval: profile.FourHours, MaxDataPoints: points,
		StartCustomDatetime: &s, EndCustomDatetime: &e,
	}
}

func TestSpcExactBins(t *testing.T) {
	f := newFixture(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	id := f.entity(t, "spc-1", "Spc")
	other := f.entity(t, "spc-2", "Spc")
	for _, r := range []struct {
		at      string
		feature string
		value   float64
	}{
		{"2025-03-01T00:01:00Z", "a", 1},
		{"2025-03-01T00:14:59.999999Z", "a", 3}, // last µs of the first bin
		{"2025-03-01T00:15:00Z", "a", 10},       // first µs of the second
		{"2025-03-01T00:30:00Z", "a", 6},
		{"2025-03-01T00:44:59.999999Z", "a", 4},
		{"2025-03-01T01:00:00Z", "a", 100},        // end is exclusive
		{"2025-02-28T23:59:59.999999Z", "a", 100}, // before the window
		{"2025-03-01T00:50:00Z", "b", 7},
	} {
		f.spc(t, id, ts(t, r.at), r.feature, r.value)
	}
	f.spc(t, other, ts(t, "2025-03-01T00:20:00Z"), "a", 1000) // another entity

	// One hour in 4 points: 15-minute bins.
	got, err := f.svc.Spc(reader(t, "read:space"), customReq("spc-1", "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z", 4))
	require.NoError(t, err)
	require.Len(t, got.Features, 2)
	assert.Equal(t, []string{"2025-03-01T00:30:00Z", "2025-03-01T00:15:00Z", "2025-03-01T00:00:00Z"}, times(got.Features["a"].CreatedAt))
	assert.Equal(t, []float64{5, 10, 2}, floats(got.Features["a"].Values))
	assert.Equal(t, []string{"2025-03-01T00:45:00Z"}, times(got.Features["b"].CreatedAt))
	assert.Equal(t, []float64{7}, floats(got.Features["b"].Values))
}

func TestBinsAreEpochAligned(t *testing.T) {
	f := newFixture(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	id := f.entity(t, "spc-epoch", "Spc")
	// 7-minute bins do not divide an hour: 2025-03-01T00:00:00Z is 180 s
	// past a bin start (1740787200 = 4144731 * 420 + 180).
	f.spc(t, id, ts(t, "2025-03-01T00:00:30Z"), "a", 1)
	f.spc(t, id, ts(t, "2025-03-01T00:03:59.999999Z"), "a", 3)
	f.spc(t, id, ts(t, "2025-03-01T00:04:00Z"), "a", 8)

	got, err := f.svc.Spc(reader(t, "read:space"), customReq("spc-epoch", "2025-03-01T00:00:00Z", "2025-03-01T00:07:00Z", 1))
	require.NoError(t, err)
	assert.Equal(t, []string{"2025-03-01T00:04:00Z", "2025-02-28T23:57:00Z"}, times(got.Features["a"].CreatedAt))
	assert.Equal(t, []float64{8, 2}, floats(got.Features["a"].Values))
	assert.Equal(t, ts(t, "2025-02-28T23:57:00Z"), epochBin(ts(t, "2025-03-01T00:00:30Z"), 7*time.Minute))
}

func TestBinsIgnoreSessionTimeZone(t *testing.T) {
	// A session time zone with a half-hour offset: day bins must still
	// start at UTC midnight.
	pool := pgtest.Connect(t, pgtest.NewURI(t)+"&timezone=Asia/Kolkata")
	f := newFixtureOn(t, pool, time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC))
	var tz string
	require.NoError(t, pool.QueryRow(t.Context(), "SHOW TimeZone").Scan(&tz))
	require.Equal(t, "Asia/Kolkata", tz)

	id := f.entity(t, "spc-tz", "Spc")
	f.spc(t, id, ts(t, "2025-03-01T19:00:00Z"), "a", 1) // 00:30 on 2 March in Kolkata
	f.spc(t, id, ts(t, "2025-03-02T01:00:00Z"), "a", 3)
	req := profile.DriftRequest{UID: "spc-tz", Space: "space", TimeInterval: profile.TwentyFourHours, MaxDataPoints: 1}
	got, err := f.svc.Spc(reader(t, "read:space"), req)
	require.NoError(t, err)
	assert.Equal(t, []string{"2025-03-02T00:00:00Z", "2025-03-01T00:00:00Z"}, times(got.Features["a"].CreatedAt))
	assert.Equal(t, []float64{3, 1}, floats(got.Features["a"].Values))
}

func TestPresetIntervals(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)
	f := newFixture(t, now)
	intervals := []profile.TimeInterval{
		profile.FifteenMinutes, profile.ThirtyMinutes, profile.OneHour, profile.FourHours,
		profile.SixHours, profile.TwelveHours, profile.TwentyFourHours, profile.SevenDays,
	}
	for _, ti := range intervals {
		for _, points := range []int32{1, 7, 100} {
			t.Run(fmt.Sprintf("%s/%d", ti, points), func(t *testing.T) {
				uid := fmt.Sprintf("preset-%s-%d", ti, points)
				id := f.entity(t, uid, "Spc")
				window := time.Duration(ti.Minutes()) * time.Minute
				included := []struct {
					at time.Time
					v  float64
				}{
					{now.Add(-window + time.Second), 1},
					{now.Add(-window / 2), 2},
					{now.Add(-time.Second), 4},
					{now, 8},
					// Preset windows have no upper bound (a producer clock
					// slightly ahead of ours still shows up).
					{now.Add(time.Minute), 16},
				}
				for _, r := range included {
					f.spc(t, id, r.at, "x", r.v)
				}
				f.spc(t, id, now.Add(-window-time.Second), "x", 1000) // too old

				bin := (window / time.Duration(points)).Round(time.Microsecond)
				sums := map[time.Time][]float64{}
				for _, r := range included {
					b := epochBin(r.at, bin)
					sums[b] = append(sums[b], r.v)
				}
				var wantAt []string
				var wantV []float64
				keys := make([]time.Time, 0, len(sums))
				for k := range sums {
					keys = append(keys, k)
				}
				slices.SortFunc(keys, func(a, b time.Time) int { return b.Compare(a) })
				for _, k := range keys {
					wantAt = append(wantAt, record.FormatTime(k))
					sum := 0.0
					for _, v := range sums[k] {
						sum += v
					}
					wantV = append(wantV, sum/float64(len(sums[k])))
				}

				got, err := f.svc.Spc(reader(t, "read:space"), profile.DriftRequest{
					UID: uid, Space: "space", TimeInterval: ti, MaxDataPoints: points,
				})
				require.NoError(t, err)
				assert.Equal(t, wantAt, times(got.Features["x"].CreatedAt), "bin width %v", bin)
				assert.InDeltaSlice(t, wantV, floats(got.Features["x"].Values), 1e-12)
			})
		}
	}
}

func TestCustomStats(t *testing.T) {
	f := newFixture(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	id := f.entity(t, "custom-1", "Custom")
	for _, r := range []struct {
		at     string
		metric string
		v      float64
	}{
		// Same timestamp, several metrics: all kept (custom_drift keys on the metric).
		{"2025-03-01T00:01:00Z", "mse", 1},
		{"2025-03-01T00:01:00Z", "accuracy", 0.5},
		{"2025-03-01T00:02:00Z", "mse", 2},
		{"2025-03-01T00:03:00Z", "mse", 3},
		{"2025-03-01T00:20:00Z", "mse", 5},
	} {
		f.custom(t, id, ts(t, r.at), r.metric, r.v)
	}
	got, err := f.svc.Custom(reader(t, "read:space"), customReq("custom-1", "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z", 4))
	require.NoError(t, err)

	mse := got.Metrics["mse"]
	assert.Equal(t, "mse", mse.Metric)
	assert.Equal(t, []string{"2025-03-01T00:15:00Z", "2025-03-01T00:00:00Z"}, times(mse.CreatedAt))
	require.Len(t, mse.Stats, 2)
	// A single value has no sample deviation: bounds equal the average.
	assert.Equal(t, BinnedMetricStats{Avg: 5, LowerBound: 5, UpperBound: 5}, mse.Stats[0])
	// 1, 2, 3: average 2, sample standard deviation 1.
	assert.InDelta(t, 2.0, float64(mse.Stats[1].Avg), 1e-12)
	assert.InDelta(t, 1.0, float64(mse.Stats[1].LowerBound), 1e-12)
	assert.InDelta(t, 3.0, float64(mse.Stats[1].UpperBound), 1e-12)

	acc := got.Metrics["accuracy"]
	assert.Equal(t, []string{"2025-03-01T00:00:00Z"}, times(acc.CreatedAt))
	assert.Equal(t, []BinnedMetricStats{{Avg: 0.5, LowerBound: 0.5, UpperBound: 0.5}}, acc.Stats)
}

// handPSI is the PSI formula written out: Σ (p − q) · ln((p + ε) / (q + ε)).
func handPSI(p, q []float64) float64 {
	const eps = 1e-10
	sum := 0.0
	for i := range p {
		sum += (p[i] - q[i]) * math.Log((p[i]+eps)/(q[i]+eps))
	}
	return sum
}

func TestPsi(t *testing.T) {
	f := newFixture(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	id := f.entity(t, "psi-1", "Psi")
	f.profile(t, id, "psi-1", "Psi", psiProfileJSON("psi-1", map[string][]float64{
		"f1": {0.5, 0.5},
		"f2": {0.2, 0.3, 0.5},
	}))
	for _, r := range []struct {
		at      string
		feature string
		bin     int32
		count   int32
	}{
		// f1, bin 00:00: 60/60 (two rows for bin 1) → matches the profile.
		{"2025-03-01T00:01:00Z", "f1", 1, 30},
		{"2025-03-01T00:02:00Z", "f1", 1, 30},
		{"2025-03-01T00:01:00Z", "f1", 2, 60},
		// f1, bin 00:15: 90/30 plus 20 in bin 3, which the profile lacks.
		{"2025-03-01T00:16:00Z", "f1", 1, 90},
		{"2025-03-01T00:16:00Z", "f1", 2, 30},
		{"2025-03-01T00:16:00Z", "f1", 3, 20},
		// f1, bin 00:30: total 100 is not above 100 → left out.
		{"2025-03-01T00:31:00Z", "f1", 1, 50},
		{"2025-03-01T00:31:00Z", "f1", 2, 50},
		// f2, bin 00:45: everything in bin 1, bins 2 and 3 unobserved.
		{"2025-03-01T00:46:00Z", "f2", 1, 101},
		// f3 is not in the profile → dropped.
		{"2025-03-01T00:01:00Z", "f3", 1, 500},
		// Outside the window.
		{"2025-03-01T01:00:00Z", "f1", 1, 1000},
	} {
		f.psi(t, id, ts(t, r.at), r.feature, r.bin, r.count)
	}

	got, err := f.svc.Psi(reader(t, "read:space"), customReq("psi-1", "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z", 4))
	require.NoError(t, err)
	require.Len(t, got.Features, 2, "f3 is not in the profile")

	f1 := got.Features["f1"]
	assert.Equal(t, []string{"2025-03-01T00:15:00Z", "2025-03-01T00:00:00Z"}, times(f1.CreatedAt))
	require.Len(t, f1.Psi, 2)
	assert.InDelta(t, handPSI([]float64{0.5, 0.5}, []float64{90.0 / 140, 30.0 / 140}), float64(f1.Psi[0]), 1e-12)
	assert.InDelta(t, 0.0, float64(f1.Psi[1]), 1e-12)
	// Window: 150, 90 and 20 of 260.
	assert.InDelta(t, handPSI([]float64{0.5, 0.5}, []float64{150.0 / 260, 90.0 / 260}), float64(f1.OverallPsi), 1e-12)
	require.Len(t, f1.Bins, 3)
	assert.InDelta(t, 150.0/260, float64(f1.Bins[1]), 1e-12)
	assert.InDelta(t, 90.0/260, float64(f1.Bins[2]), 1e-12)
	assert.InDelta(t, 20.0/260, float64(f1.Bins[3]), 1e-12)
	// The same numbers worked out by hand (q = 9/14, 3/14 and 15/26, 9/26):
	// (1/2 − 9/14)·ln(7/9) + (1/2 − 3/14)·ln(7/3) ≈ 0.277987.
	assert.InDelta(t, 0.2779871640682194, float64(f1.Psi[0]), 1e-12)
	assert.InDelta(t, 0.06758080028360487, float64(f1.OverallPsi), 1e-12)

	f2 := got.Features["f2"]
	assert.Equal(t, []string{"2025-03-01T00:45:00Z"}, times(f2.CreatedAt))
	want := handPSI([]float64{0.2, 0.3, 0.5}, []float64{1, 0, 0})
	assert.InDelta(t, want, float64(f2.Psi[0]), 1e-9)
	assert.InDelta(t, want, float64(f2.OverallPsi), 1e-9)
	// 0.8·ln(5) + 0.3·ln(3e9) + 0.5·ln(5e9) ≈ 19.0005: unobserved bins weigh through ε.
	assert.InDelta(t, 19.000465642201892, float64(f2.Psi[0]), 1e-9)
	assert.Equal(t, map[int32]float64{1: 1}, map[int32]float64{1: float64(f2.Bins[1])})

	raw, err := json.Marshal(got)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"bins":{"1":1}`, "bin ids are string keys")
}

func TestPsiNeedsAPsiProfile(t *testing.T) {
	f := newFixture(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	f.entity(t, "no-profile", "Psi")
	spcID := f.entity(t, "spc-profile", "Spc")
	spc, err := os.ReadFile("../profile/testdata/spc.json")
	require.NoError(t, err)
	f.profile(t, spcID, "spc-profile", "Spc", string(spc))

	for _, uid := range []string{"no-profile", "spc-profile"} {
		t.Run(uid, func(t *testing.T) {
			_, err := f.svc.Psi(reader(t, "read:space"), customReq(uid, "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z", 4))
			require.ErrorIs(t, err, ErrNoProfile)
		})
	}
}

func TestEmptyData(t *testing.T) {
	f := newFixture(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	id := f.entity(t, "empty", "Psi")
	f.profile(t, id, "empty", "Psi", psiProfileJSON("empty", map[string][]float64{"f1": {0.5, 0.5}}))
	req := profile.DriftRequest{UID: "empty", Space: "space", TimeInterval: profile.OneHour, MaxDataPoints: 10}
	ctx := reader(t, "read:space")

	spc, err := f.svc.Spc(ctx, req)
	require.NoError(t, err)
	psi, err := f.svc.Psi(ctx, req)
	require.NoError(t, err)
	custom, err := f.svc.Custom(ctx, req)
	require.NoError(t, err)
	for _, tt := range []struct {
		v    any
		want string
	}{{spc, `{"features":{}}`}, {psi, `{"features":{}}`}, {custom, `{"metrics":{}}`}} {
		raw, err := json.Marshal(tt.v)
		require.NoError(t, err)
		assert.JSONEq(t, tt.want, string(raw))
	}
}

func TestPermissionsAndUnknownUID(t *testing.T) {
	f := newFixture(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	f.entity(t, "known", "Spc")
	req := func(uid, space string) profile.DriftRequest {
		return profile.DriftRequest{UID: uid, Space: space, TimeInterval: profile.OneHour, MaxDataPoints: 10}
	}
	admin := auth.WithIdentity(t.Context(), auth.Identity{GroupPermissions: []string{"admin"}})
	tests := []struct {
		name    string
		ctx     func(t *testing.T) context.Context
		uid     string
		wantErr error
	}{
		{"read on the space", func(t *testing.T) context.Context { return reader(t, "read:space") }, "known", nil},
		{"read:all", func(t *testing.T) context.Context { return reader(t, "read:all") }, "known", nil},
		{"group admin", func(*testing.T) context.Context { return admin }, "known", nil},
		{"write only", func(t *testing.T) context.Context { return reader(t, "write:space") }, "known", ErrPermissionDenied},
		{"another space", func(t *testing.T) context.Context { return reader(t, "read:other") }, "known", ErrPermissionDenied},
		{"no identity", func(t *testing.T) context.Context { return t.Context() }, "known", ErrPermissionDenied},
		// The permission check comes before the uid lookup.
		{"no permission, unknown uid", func(t *testing.T) context.Context { return reader(t) }, "nope", ErrPermissionDenied},
		{"unknown uid", func(t *testing.T) context.Context { return reader(t, "read:space") }, "nope", ErrEntityNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx(t)
			_, errSpc := f.svc.Spc(ctx, req(tt.uid, "space"))
			_, errCustom := f.svc.Custom(ctx, req(tt.uid, "space"))
			_, errPsi := f.svc.Psi(ctx, req(tt.uid, "space"))
			if tt.wantErr == nil {
				require.NoError(t, errSpc)
				require.NoError(t, errCustom)
				require.ErrorIs(t, errPsi, ErrNoProfile) // no profile stored
				return
			}
			require.ErrorIs(t, errSpc, tt.wantErr)
			require.ErrorIs(t, errCustom, tt.wantErr)
			require.ErrorIs(t, errPsi, tt.wantErr)
		})
	}
}
