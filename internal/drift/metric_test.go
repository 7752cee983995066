package drift

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr(v float64) *float64 { return &v }

func TestShouldAlert(t *testing.T) {
	// drift.md §1.4, baseline 10, delta 1 where present; all comparisons strict
	tests := []struct {
		name  string
		cond  Condition
		value float64
		want  bool
	}{
		{"above+d at bound", Condition{10, Above, ptr(1)}, 11, false},
		{"above+d beyond", Condition{10, Above, ptr(1)}, 11.0001, true},
		{"above+d below", Condition{10, Above, ptr(1)}, 0, false},
		{"above at baseline", Condition{10, Above, nil}, 10, false},
		{"above beyond", Condition{10, Above, nil}, 10.0001, true},
		{"below+d at bound", Condition{10, Below, ptr(1)}, 9, false},
		{"below+d beyond", Condition{10, Below, ptr(1)}, 8.9999, true},
		{"below+d above", Condition{10, Below, ptr(1)}, 100, false},
		{"below at baseline", Condition{10, Below, nil}, 10, false},
		{"below beyond", Condition{10, Below, nil}, 9.9999, true},
		{"outside+d lower bound", Condition{10, Outside, ptr(1)}, 9, false},
		{"outside+d upper bound", Condition{10, Outside, ptr(1)}, 11, false},
		{"outside+d inside", Condition{10, Outside, ptr(1)}, 10.5, false},
		{"outside+d low", Condition{10, Outside, ptr(1)}, 8.9, true},
		{"outside+d high", Condition{10, Outside, ptr(1)}, 11.1, true},
		{"outside at baseline", Condition{10, Outside, nil}, 10, false},
		{"outside above", Condition{10, Outside, nil}, 10.0001, true},
		{"outside below", Condition{10, Outside, nil}, 9.9999, true},
		{"delta zero", Condition{10, Above, ptr(0)}, 10.5, true},
		{"unknown threshold", Condition{10, "Sideways", nil}, 1e9, false},
		{"infinite value", Condition{10, Above, ptr(1)}, math.Inf(1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cond.ShouldAlert(tt.value))
		})
	}
}

func TestEvaluateCustom(t *testing.T) {
	// the Custom profile example of drift.md §2.3
	profile := CustomProfile{
		Metrics: map[string]float64{"mse": 12.02, "accuracy": 0.75},
		Conditions: map[string]Condition{
			"mse":      {BaselineValue: 12.02, AlertThreshold: Above, Delta: ptr(1)},
			"accuracy": {BaselineValue: 0.75, AlertThreshold: Below},
		},
	}

	t.Run("both alert, sorted by name", func(t *testing.T) {
		got, err := EvaluateCustom(profile, map[string]float64{"mse": 14, "accuracy": 0.74})
		require.NoError(t, err)
		assert.Equal(t, []MetricAlert{
			{MetricName: "accuracy", BaselineValue: 0.75, ObservedValue: 0.74, AlertThreshold: Below},
			{MetricName: "mse", BaselineValue: 12.02, ObservedValue: 14, Delta: ptr(1), AlertThreshold: Above},
		}, got)
	})
	t.Run("within bounds", func(t *testing.T) {
		got, err := EvaluateCustom(profile, map[string]float64{"mse": 13.02, "accuracy": 0.75})
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("ignored metrics", func(t *testing.T) {
		p := profile
		p.Metrics = map[string]float64{"mse": 12.02, "accuracy": 0.75, "f1": 0.5}
		got, err := EvaluateCustom(p, map[string]float64{
			"f1":       0,          // in the profile, no condition
			"other":    1e9,        // not in the profile
			"accuracy": math.NaN(), // cannot be compared
		})
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("no conditions", func(t *testing.T) {
		p := profile
		p.Conditions = nil
		got, err := EvaluateCustom(p, map[string]float64{"mse": 1e9})
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("no data", func(t *testing.T) {
		got, err := EvaluateCustom(profile, nil)
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("bad condition", func(t *testing.T) {
		p := profile
		p.Conditions = map[string]Condition{"mse": {BaselineValue: 1, AlertThreshold: "above"}}
		_, err := EvaluateCustom(p, map[string]float64{"mse": 2})
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrInvalidProfile)
		assert.Contains(t, err.Error(), `metric "mse": invalid drift profile: unknown alert threshold "above"`)
	})
	t.Run("returned delta is a copy", func(t *testing.T) {
		d := 1.0
		p := CustomProfile{Metrics: map[string]float64{"m": 0}, Conditions: map[string]Condition{"m": {0, Above, &d}}}
		got, err := EvaluateCustom(p, map[string]float64{"m": 5})
		require.NoError(t, err)
		require.Len(t, got, 1)
		d = 100
		assert.Equal(t, 1.0, *got[0].Delta)
	})
}

func TestEvaluateGenAI(t *testing.T) {
	// the GenAI profile example of drift.md §2.4: baseline 0.8, Below, delta 0.01
	cond := &Condition{BaselineValue: 0.8, AlertThreshold: Below, Delta: ptr(0.01)}
	tests := []struct {
		name string
		cond *Condition
		rate float64
		want *MetricAlert
	}{
		{"alert", cond, 0.33, &MetricAlert{MetricName: "genai_workflow_metric", BaselineValue: 0.8, ObservedValue: 0.33, Delta: ptr(0.01), AlertThreshold: Below}},
		{"at the bound", cond, 0.79, nil},
		{"above baseline", cond, 1, nil},
		{"zero pass rate", cond, 0, &MetricAlert{MetricName: GenAIMetricName, BaselineValue: 0.8, ObservedValue: 0, Delta: ptr(0.01), AlertThreshold: Below}},
		{"no condition", nil, 0, nil},
		{"NaN rate", cond, math.NaN(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EvaluateGenAI(tt.cond, tt.rate)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := EvaluateGenAI(&Condition{BaselineValue: math.Inf(1), AlertThreshold: Below}, 0.5)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidProfile)
	_, err = EvaluateGenAI(&Condition{BaselineValue: 1, AlertThreshold: Below, Delta: ptr(math.NaN())}, 0.5)
	assert.ErrorIs(t, err, ErrInvalidProfile)
}
