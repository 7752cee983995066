package drift

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPSI(t *testing.T) {
	tests := []struct {
		name     string
		expected []float64
		observed []float64
		want     float64
	}{
		{"identical", []float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, []float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, 0},
		{"two bins", []float64{0.5, 0.5}, []float64{0.7, 0.3}, 0.16945957203934547},
		{"three bins", []float64{0.3, 0.4, 0.3}, []float64{0.2, 0.4, 0.4}, 0.06931471803099454},
		// an empty observed bin: epsilon keeps the log finite
		{"empty observed bin", []float64{0.5, 0.5}, []float64{1, 0}, 11.512925465020228},
		{"empty expected and observed bin", []float64{0.5, 0.5, 0}, []float64{0.7, 0.3, 0}, 0.16945957203934547},
		{"no bins", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PSI(tt.expected, tt.observed)
			require.NoError(t, err)
			assert.InDelta(t, tt.want, got, 1e-12)
		})
	}
	_, err := PSI([]float64{0.5, 0.5}, []float64{1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 expected proportions but 1 observed")
}

func TestPSIThresholdReferenceValues(t *testing.T) {
	tests := []struct {
		name  string
		th    PSIThreshold
		m     int64
		bins  int
		want  float64
		delta float64
	}{
		// drift.md §3.2 reference values
		{"chi-square B=10 M=400", PSIThreshold{Kind: ChiSquare, Alpha: 0.05}, 400, 10, 0.0423, 5e-5},
		{"chi-square B=20 M=1000", PSIThreshold{Kind: ChiSquare, Alpha: 0.05}, 1000, 20, 0.0301, 5e-5},
		{"normal B=10 M=400", PSIThreshold{Kind: Normal, Alpha: 0.05}, 400, 10, 0.0400, 1e-4}, // 0.03995, printed to 3 significant digits
		// tighter checks against tabulated quantiles: χ²_0.95(9) = 16.918978,
		// χ²_0.95(1) = 3.841459, χ²_0.99(9) = 21.665994, z_0.95 = 1.644854
		{"chi-square exact", PSIThreshold{Kind: ChiSquare, Alpha: 0.05}, 400, 10, 16.918978 / 400, 1e-8},
		{"chi-square two bins", PSIThreshold{Kind: ChiSquare, Alpha: 0.05}, 100, 2, 3.841459 / 100, 1e-8},
		{"chi-square alpha 0.01", PSIThreshold{Kind: ChiSquare, Alpha: 0.01}, 1000, 10, 21.665994 / 1000, 1e-8},
		{"normal exact", PSIThreshold{Kind: Normal, Alpha: 0.05}, 400, 10, 9.0/400 + 1.644854*math.Sqrt(18)/400, 1e-8},
		{"fixed", PSIThreshold{Kind: Fixed, Value: 0.25}, 400, 10, 0.25, 0},
		{"fixed ignores bins", PSIThreshold{Kind: Fixed, Value: 0.1}, 0, 1, 0.1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.th.Compute(tt.m, tt.bins)
			require.NoError(t, err)
			assert.InDelta(t, tt.want, got, tt.delta)
		})
	}
	for _, kind := range []PSIThresholdKind{ChiSquare, Normal} {
		got, err := PSIThreshold{Kind: kind, Alpha: 0}.Compute(100, 10)
		require.NoError(t, err)
		assert.True(t, math.IsInf(got, 1), "%s with alpha 0: got %v, want +Inf", kind, got)
	}
}

func TestPSIThresholdErrors(t *testing.T) {
	tests := []struct {
		name string
		th   PSIThreshold
		m    int64
		bins int
		want string
		is   error
	}{
		{"alpha 1", PSIThreshold{Kind: ChiSquare, Alpha: 1}, 100, 10, "alpha 1 not in [0, 1)", ErrInvalidProfile},
		{"negative alpha", PSIThreshold{Kind: Normal, Alpha: -0.1}, 100, 10, "alpha -0.1 not in [0, 1)", ErrInvalidProfile},
		{"NaN alpha", PSIThreshold{Kind: ChiSquare, Alpha: math.NaN()}, 100, 10, "alpha NaN", ErrInvalidProfile},
		{"negative fixed", PSIThreshold{Kind: Fixed, Value: -1}, 100, 10, "-1 is not a finite number >= 0", ErrInvalidProfile},
		{"unknown kind", PSIThreshold{Kind: "Gamma", Alpha: 0.05}, 100, 10, `unknown psi threshold kind "Gamma"`, ErrInvalidProfile},
		{"one bin", PSIThreshold{Kind: ChiSquare, Alpha: 0.05}, 100, 1, "at least 2 bins, got 1", ErrInvalidProfile},
		{"no samples", PSIThreshold{Kind: Normal, Alpha: 0.05}, 0, 10, "positive sample size, got 0", ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.th.Compute(tt.m, tt.bins)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func twoBins() []PSIBin { return []PSIBin{{ID: 1, Proportion: 0.5}, {ID: 2, Proportion: 0.5}} }

func TestEvaluatePSI(t *testing.T) {
	chi := PSIThreshold{Kind: ChiSquare, Alpha: 0.05}
	profile := PSIProfile{
		Features:          map[string][]PSIBin{"feature_1": twoBins(), "feature_2": twoBins(), "feature_3": twoBins()},
		FeaturesToMonitor: []string{"feature_2", "feature_1"},
		Threshold:         chi,
	}

	t.Run("worked example", func(t *testing.T) {
		res, err := EvaluatePSI(profile, map[string]map[int32]int64{
			"feature_1": {1: 70, 2: 30}, // PSI 0.1695 > 3.8415/100
			"feature_2": {1: 52, 2: 48}, // PSI 0.0016 < 0.0384
			"feature_3": {1: 100, 2: 0}, // not monitored
		})
		require.NoError(t, err)
		require.Len(t, res.Features, 2)
		f1, f2 := res.Features[0], res.Features[1]
		assert.Equal(t, "feature_1", f1.Feature)
		assert.InDelta(t, 0.16945957203934547, f1.PSI, 1e-12)
		assert.InDelta(t, 0.03841459, f1.Threshold, 1e-8)
		assert.Equal(t, int64(100), f1.SampleSize)
		assert.Equal(t, 2, f1.Bins)
		assert.True(t, f1.Alert)
		assert.Equal(t, "feature_2", f2.Feature)
		assert.InDelta(t, 0.0016008541531502176, f2.PSI, 1e-12)
		assert.False(t, f2.Alert)
		require.Len(t, res.Alerts, 1)
		assert.Equal(t, PSIAlert{Feature: "feature_1", Drift: f1.PSI, Threshold: f1.Threshold}, res.Alerts[0])
	})

	t.Run("minimum sample size is strictly more than 10 per bin", func(t *testing.T) {
		res, err := EvaluatePSI(profile, map[string]map[int32]int64{"feature_1": {1: 20, 2: 0}})
		require.NoError(t, err)
		assert.Empty(t, res.Features)
		res, err = EvaluatePSI(profile, map[string]map[int32]int64{"feature_1": {1: 21, 2: 0}})
		require.NoError(t, err)
		require.Len(t, res.Features, 1)
		assert.True(t, res.Features[0].Alert)
	})

	t.Run("observed bins unknown to the profile count in the total only", func(t *testing.T) {
		res, err := EvaluatePSI(profile, map[string]map[int32]int64{"feature_1": {1: 50, 2: 50, 99: 100}})
		require.NoError(t, err)
		require.Len(t, res.Features, 1)
		assert.InDelta(t, 0.34657359017997263, res.Features[0].PSI, 1e-12) // q = 0.25, 0.25
		assert.Equal(t, int64(200), res.Features[0].SampleSize)
	})

	t.Run("profile bin without observations gets q = 0", func(t *testing.T) {
		res, err := EvaluatePSI(profile, map[string]map[int32]int64{"feature_1": {1: 100}})
		require.NoError(t, err)
		require.Len(t, res.Features, 1)
		assert.InDelta(t, 11.512925465020228, res.Features[0].PSI, 1e-9)
	})

	t.Run("alert is strict", func(t *testing.T) {
		p := profile
		p.Threshold = PSIThreshold{Kind: Fixed, Value: 0}
		res, err := EvaluatePSI(p, map[string]map[int32]int64{"feature_1": {1: 50, 2: 50}})
		require.NoError(t, err)
		require.Len(t, res.Features, 1)
		assert.Equal(t, 0.0, res.Features[0].PSI)
		assert.False(t, res.Features[0].Alert)
		assert.Empty(t, res.Alerts)
	})

	t.Run("no data, zero counts, empty monitor list", func(t *testing.T) {
		res, err := EvaluatePSI(profile, nil)
		require.NoError(t, err)
		assert.Empty(t, res.Features)
		res, err = EvaluatePSI(profile, map[string]map[int32]int64{"feature_1": {1: 0, 2: 0}})
		require.NoError(t, err)
		assert.Empty(t, res.Features)
		p := profile
		p.FeaturesToMonitor = nil
		res, err = EvaluatePSI(p, map[string]map[int32]int64{"feature_1": {1: 1000}})
		require.NoError(t, err)
		assert.Empty(t, res.Features)
		assert.Empty(t, res.Alerts)
	})

	t.Run("a monitored feature without data does not stop the others", func(t *testing.T) {
		res, err := EvaluatePSI(profile, map[string]map[int32]int64{"feature_2": {1: 1000}})
		require.NoError(t, err)
		require.Len(t, res.Alerts, 1)
		assert.Equal(t, "feature_2", res.Alerts[0].Feature)
	})

	bad := []struct {
		name    string
		profile PSIProfile
		counts  map[string]map[int32]int64
		want    string
		is      error
	}{
		{"missing feature", PSIProfile{Features: map[string][]PSIBin{"a": twoBins()}, FeaturesToMonitor: []string{"a", "b"}, Threshold: chi},
			nil, `monitored feature "b" is not in the profile`, ErrInvalidProfile},
		{"one bin", PSIProfile{Features: map[string][]PSIBin{"a": {{ID: 1, Proportion: 1}}}, FeaturesToMonitor: []string{"a"}, Threshold: chi},
			nil, `feature "a" has 1 bins, need at least 2`, ErrInvalidProfile},
		{"no bins", PSIProfile{Features: map[string][]PSIBin{"a": nil}, FeaturesToMonitor: []string{"a"}, Threshold: chi},
			nil, "has 0 bins", ErrInvalidProfile},
		{"bad proportion", PSIProfile{Features: map[string][]PSIBin{"a": {{ID: 1, Proportion: 0.5}, {ID: 2, Proportion: math.NaN()}}}, FeaturesToMonitor: []string{"a"}, Threshold: chi},
			nil, `feature "a" bin 2: proportion NaN`, ErrInvalidProfile},
		{"bad threshold", PSIProfile{Features: map[string][]PSIBin{"a": twoBins()}, FeaturesToMonitor: []string{"a"}, Threshold: PSIThreshold{Kind: "", Alpha: 0.05}},
			nil, "unknown psi threshold kind", ErrInvalidProfile},
		{"negative count", PSIProfile{Features: map[string][]PSIBin{"a": twoBins()}, FeaturesToMonitor: []string{"a"}, Threshold: chi},
			map[string]map[int32]int64{"a": {1: 100, 2: -3}}, `feature "a" bin 2: negative count -3`, ErrInvalidInput},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EvaluatePSI(tt.profile, tt.counts)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
