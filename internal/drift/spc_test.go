package drift

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allZones = []Zone{Zone1, Zone2, Zone3, Zone4}

// col1 are the limits of the SPC profile example in drift.md §2.1.
var col1 = SPCLimits{Center: -3.997, OneUCL: -1.974, OneLCL: -6.020, TwoUCL: 0.049, TwoLCL: -8.043, ThreeUCL: 2.072, ThreeLCL: -10.066}

func defaultRule(t *testing.T) SPCRule {
	t.Helper()
	r, err := ParseSPCRule(DefaultSPCRule)
	require.NoError(t, err)
	return r
}

func TestParseSPCRule(t *testing.T) {
	r := defaultRule(t)
	assert.Equal(t, [4]int{8, 4, 2, 1}, r.Consecutive)
	assert.Equal(t, [4]int{16, 8, 4, 1}, r.Alternating)

	r, err := ParseSPCRule("0 0 3 0 0 5 0 0")
	require.NoError(t, err)
	assert.Equal(t, SPCRule{Consecutive: [4]int{0, 3, 0, 0}, Alternating: [4]int{0, 0, 5, 0}}, r)

	bad := []struct{ rule, want string }{
		{"8 16 4 8 2 4 1", "want 8 integers separated by single spaces, got 7 parts"},
		{"8 16 4 8 2 4 1 1 1", "got 9 parts"},
		{"8  16 4 8 2 4 1 1", "got 9 parts"},
		{" 8 16 4 8 2 4 1 1", "got 9 parts"},
		{"8\t16 4 8 2 4 1 1", "got 7 parts"},
		{"", "got 1 parts"},
		{"a 16 4 8 2 4 1 1", `part 1 ("a") is not an integer`},
		{"8 16 4 8 2 4 1 1.5", `part 8 ("1.5") is not an integer`},
		{"8 16 4 8 2 4 1 99999999999", "is not an integer"},
		{"8 16 4 8 2 4 1 -1", "part 8 (-1) must not be negative"},
	}
	for _, tt := range bad {
		t.Run(tt.rule, func(t *testing.T) {
			_, err := ParseSPCRule(tt.rule)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidProfile)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestZoneCode(t *testing.T) {
	tests := []struct {
		v    float64
		want int
	}{
		{3, 4}, {math.Inf(1), 4},
		{-11, -4}, {math.Inf(-1), -4},
		{2.072, 0}, {-10.066, 0}, // exactly on a 3-sigma limit
		{-3.997, 0}, // the center
		{math.NaN(), 0},
		{0.049, 3}, {1, 3}, // two_ucl <= v < three_ucl
		{-1.974, 2}, {-1, 2}, // one_ucl <= v < two_ucl
		{-2, 1}, {-3.99, 1}, // center < v < one_ucl
		{-8.043, -3}, {-9, -3}, // three_lcl < v <= two_lcl
		{-6.020, -2}, {-7, -2}, // two_lcl < v <= one_lcl
		{-5, -1}, {-4, -1}, // one_lcl < v < center
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, col1.ZoneCode(tt.v), "ZoneCode(%v)", tt.v)
	}
}

func TestSPCRuleAlerts(t *testing.T) {
	oob := SPCKindZone{OutOfBounds, Zone4}
	cons := func(z Zone) SPCKindZone { return SPCKindZone{Consecutive, z} }
	alt := func(z Zone) SPCKindZone { return SPCKindZone{Alternating, z} }
	trend := SPCKindZone{Trend, NotApplicable}
	repeat := func(n int, codes ...int) []int {
		var out []int
		for len(out) < n {
			out = append(out, codes...)
		}
		return out[:n]
	}
	tests := []struct {
		name  string
		codes []int
		rule  string
		zones []Zone
		want  []SPCKindZone
	}{
		{"empty", nil, DefaultSPCRule, allZones, []SPCKindZone{}},
		{"all on center", []int{0, 0, 0, 0, 0, 0, 0, 0, 0}, DefaultSPCRule, allZones, []SPCKindZone{}},
		{"one point above 3 sigma", []int{0, 4, 0}, DefaultSPCRule, allZones, []SPCKindZone{oob}},
		{"one point below 3 sigma", []int{-4}, DefaultSPCRule, allZones, []SPCKindZone{oob}},
		{"8 in zone 1", repeat(8, 1), DefaultSPCRule, allZones, []SPCKindZone{cons(Zone1)}},
		{"7 in zone 1", repeat(7, 1), DefaultSPCRule, allZones, []SPCKindZone{}},
		{"8 below in zone 1", repeat(8, -1), DefaultSPCRule, allZones, []SPCKindZone{cons(Zone1)}},
		{"8 at or beyond zone 1 ending in zone 1", []int{2, 3, 2, 2, 3, 2, 2, 1}, DefaultSPCRule, allZones,
			[]SPCKindZone{cons(Zone1), cons(Zone2)}},
		{"8 mixed sides", []int{1, 1, 1, -1, 1, 1, 1, 1}, DefaultSPCRule, allZones, []SPCKindZone{}},
		{"4 in zone 2", repeat(4, 2), DefaultSPCRule, allZones, []SPCKindZone{cons(Zone2)}},
		{"zone 2 window must end in zone 2 (newest first)", []int{3, 3, 3, 2}, DefaultSPCRule, allZones,
			[]SPCKindZone{cons(Zone2), cons(Zone3)}},
		{"same points oldest first", []int{2, 3, 3, 3}, DefaultSPCRule, allZones, []SPCKindZone{cons(Zone3)}},
		{"2 in zone 3", []int{-3, -3}, DefaultSPCRule, allZones, []SPCKindZone{cons(Zone3)}},
		{"4 alternating in zone 3", []int{3, -3, 3, -3}, DefaultSPCRule, allZones, []SPCKindZone{alt(Zone3)}},
		{"3 alternating in zone 3", []int{3, -3, 3}, DefaultSPCRule, allZones, []SPCKindZone{}},
		{"16 alternating in zone 1", repeat(16, 1, -1), DefaultSPCRule, allZones, []SPCKindZone{alt(Zone1)}},
		{"15 alternating in zone 1", repeat(15, 1, -1), DefaultSPCRule, allZones, []SPCKindZone{}},
		{"alternating run broken by a zero", append(repeat(10, 1, -1), append([]int{0}, repeat(10, 1, -1)...)...),
			DefaultSPCRule, allZones, []SPCKindZone{}},
		{"8 alternating beyond zone 2", []int{2, -3, 2, -2, 3, -2, 2, -2}, DefaultSPCRule, allZones,
			[]SPCKindZone{alt(Zone2)}},
		{"zone 4 is always OutOfBounds", []int{4, -4}, "0 0 0 0 0 0 0 2", allZones, []SPCKindZone{oob}},
		{"zone not monitored", []int{4, 1, 1}, DefaultSPCRule, []Zone{Zone1, Zone2, Zone3}, []SPCKindZone{}},
		{"only zone 1 and 4 monitored", []int{2, 2, 2, 2, 4}, DefaultSPCRule, []Zone{Zone1, Zone4}, []SPCKindZone{oob}},
		{"disabled checks", repeat(20, 4), "8 16 4 8 2 4 0 0", allZones, []SPCKindZone{}},
		{"custom rule", []int{1, 1}, "2 0 0 0 0 0 0 0", allZones, []SPCKindZone{cons(Zone1)}},
		{"trend up", []int{-3, -2, -1, 0, 1, 2, 3}, DefaultSPCRule, allZones, []SPCKindZone{trend}},
		{"trend down", []int{3, 2, 1, 0, -1, -2, -3, -3}, DefaultSPCRule, allZones, []SPCKindZone{cons(Zone3), trend}},
		{"trend ignores monitored zones", []int{-3, -2, -1, 0, 1, 2, 3}, DefaultSPCRule, nil, []SPCKindZone{trend}},
		{"six rising is not a trend", []int{-2, -1, 0, 1, 2, 3}, DefaultSPCRule, allZones, []SPCKindZone{}},
		{"a tie breaks the trend", []int{-3, -2, -1, -1, 0, 1, 2}, DefaultSPCRule, allZones, []SPCKindZone{}},
		{"everything", []int{4, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, -1, -2, -3}, DefaultSPCRule, allZones,
			[]SPCKindZone{cons(Zone1), cons(Zone2), cons(Zone3), oob}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule, err := ParseSPCRule(tt.rule)
			require.NoError(t, err)
			assert.Equal(t, tt.want, SPCRuleAlerts(tt.codes, rule, tt.zones))
		})
	}
}

func TestAlternatingScan(t *testing.T) {
	tests := []struct {
		w    []int
		a, t int
		want bool
	}{
		{[]int{1, -1, 1, -1}, 4, 1, true},
		{[]int{1, -1, 1, 0}, 4, 1, false},
		{[]int{1, -1, 1, 1, -1, 1}, 4, 1, false}, // a repeat resets the run
		{[]int{1, -1, 1, 1, -1, 1}, 3, 1, true},
		{[]int{2, 1, -2}, 3, 2, false}, // a too-small code resets the run
		{[]int{2, 3, -2}, 3, 2, true},  // different codes of magnitude >= t count
		// upstream resets the previous code to 0 (not to the repeated code), so
		// the third 1 counts again and the -1 completes a run of 2
		{[]int{1, 1, 1, -1}, 2, 1, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, alternatingHit(tt.w, tt.a, tt.t), "alternatingHit(%v, %d, %d)", tt.w, tt.a, tt.t)
	}
}

func TestEvaluateSPC(t *testing.T) {
	t0 := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	at := func(min int, v float64) Sample {
		return Sample{CreatedAt: t0.Add(time.Duration(min) * time.Minute), Value: v}
	}
	profile := SPCProfile{
		Features:       map[string]SPCLimits{"col_1": col1, "col_2": {Center: 0, OneUCL: 1, OneLCL: -1, TwoUCL: 2, TwoLCL: -2, ThreeUCL: 3, ThreeLCL: -3}},
		Rule:           DefaultSPCRule,
		ZonesToMonitor: allZones,
	}

	t.Run("no data", func(t *testing.T) {
		got, err := EvaluateSPC(profile, nil)
		require.NoError(t, err)
		assert.Empty(t, got)
		got, err = EvaluateSPC(profile, map[string][]Sample{"col_1": {}})
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("alerts per feature sorted", func(t *testing.T) {
		got, err := EvaluateSPC(profile, map[string][]Sample{
			"col_2": {at(1, 5), at(2, 0.5)},
			"col_1": {at(1, -20), at(2, -4)},
		})
		require.NoError(t, err)
		assert.Equal(t, []SPCAlert{
			{Feature: "col_1", Kind: OutOfBounds, Zone: Zone4},
			{Feature: "col_2", Kind: OutOfBounds, Zone: Zone4},
		}, got)
	})

	t.Run("samples are sorted newest first whatever the input order", func(t *testing.T) {
		// oldest 2.5 (zone 2), then three zone-3 points: newest first this is
		// 3,3,3,2, which raises the zone-2 consecutive alert.
		in := []Sample{at(4, 2.5), at(1, 1.5), at(3, 2.5), at(2, 2.5)}
		got, err := EvaluateSPC(profile, map[string][]Sample{"col_2": in})
		require.NoError(t, err)
		assert.Equal(t, []SPCAlert{
			{Feature: "col_2", Kind: Consecutive, Zone: Zone2},
			{Feature: "col_2", Kind: Consecutive, Zone: Zone3},
		}, got)
		assert.Equal(t, 4*time.Minute, in[0].CreatedAt.Sub(t0), "input must not be reordered")
	})

	t.Run("truncated to the newest min length", func(t *testing.T) {
		samples := map[string][]Sample{
			"col_2": {at(1, 10), at(2, 0), at(3, 0)}, // the out-of-bounds point is the oldest
			"col_1": {at(3, -4)},
		}
		got, err := EvaluateSPC(profile, samples)
		require.NoError(t, err)
		assert.Empty(t, got)

		delete(samples, "col_1")
		got, err = EvaluateSPC(profile, samples)
		require.NoError(t, err)
		assert.Equal(t, []SPCAlert{{Feature: "col_2", Kind: OutOfBounds, Zone: Zone4}}, got)
	})

	t.Run("features to monitor", func(t *testing.T) {
		p := profile
		p.FeaturesToMonitor = []string{"col_2"}
		got, err := EvaluateSPC(p, map[string][]Sample{
			"col_1": {at(1, 100)},
			"col_2": {at(1, 100), at(2, 0)},
		})
		require.NoError(t, err)
		// col_1 is not monitored, so it does not shorten col_2 either
		assert.Equal(t, []SPCAlert{{Feature: "col_2", Kind: OutOfBounds, Zone: Zone4}}, got)
	})

	t.Run("feature without limits never alerts", func(t *testing.T) {
		got, err := EvaluateSPC(profile, map[string][]Sample{"other": {at(1, 1e9), at(2, -1e9)}})
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("NaN is on the center line", func(t *testing.T) {
		got, err := EvaluateSPC(profile, map[string][]Sample{"col_2": {at(1, math.NaN()), at(2, math.Inf(1))}})
		require.NoError(t, err)
		assert.Equal(t, []SPCAlert{{Feature: "col_2", Kind: OutOfBounds, Zone: Zone4}}, got)
	})

	t.Run("bad rule", func(t *testing.T) {
		p := profile
		p.Rule = "8 16 4 8"
		_, err := EvaluateSPC(p, map[string][]Sample{"col_2": {at(1, 10)}})
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrInvalidProfile))
	})
}
