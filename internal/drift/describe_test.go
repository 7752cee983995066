package drift

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormatFloat(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables, so the sum is not constant-folded to 0.3
	tests := []struct {
		v    float64
		want string
	}{
		{1, "1"}, {14, "14"}, {0.1, "0.1"}, {12.02, "12.02"}, {-0.5, "-0.5"},
		{1e-10, "0.0000000001"}, {1e21, "1000000000000000000000"},
		{tenth + fifth, "0.30000000000000004"}, {0.042, "0.042"},
		{math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FormatFloat(tt.v), "FormatFloat(%v)", tt.v)
	}
}

func TestDescribeSPC(t *testing.T) {
	alerts := []SPCAlert{
		{Feature: "col_1", Kind: OutOfBounds, Zone: Zone4},
		{Feature: "col_2", Kind: Consecutive, Zone: Zone1},
		{Feature: "col_2", Kind: Alternating, Zone: Zone3},
		{Feature: "col_2", Kind: Trend, Zone: NotApplicable},
	}
	body := "    col_1: \n" +
		"        Kind: Out of bounds\n" +
		"        Zone: Zone 4\n" +
		"    col_2: \n" +
		"        Kind: Consecutive\n" +
		"        Zone: Zone 1\n" +
		"        Kind: Alternating\n" +
		"        Zone: Zone 3\n" +
		"        Kind: Trend\n" +
		"        Zone: NA\n"
	tests := []struct {
		dt   DispatchType
		want string
	}{
		{Console, "Features that have drifted: \n" + body},
		{OpsGenie, "Drift has been detected for the following features:\n" + body},
		{Slack, "Drift has been detected for the following features:\n" +
			"col_1: \n" +
			"    Out of bounds error in Zone 4\n" +
			"col_2: \n" +
			"    Consecutive error in Zone 1\n" +
			"    Alternating error in Zone 3\n" +
			"    Trend error in NA\n"},
		{"", "Features that have drifted: \n" + body}, // unknown → Console
	}
	for _, tt := range tests {
		t.Run(string(tt.dt), func(t *testing.T) {
			assert.Equal(t, tt.want, DescribeSPC(alerts, tt.dt))
		})
	}
	assert.Equal(t, "", DescribeSPC(nil, Console))
	assert.Equal(t, "All good", AllGood.Text())
}

func TestDescribePSI(t *testing.T) {
	alerts := []PSIAlert{{Feature: "feature_1", Drift: 0.31, Threshold: 0.042}, {Feature: "feature_2", Drift: 1, Threshold: 0.25}}
	d1 := "Drift Value: Feature 'feature_1' has experienced drift, with a current PSI score of 0.31 that exceeds the configured threshold of 0.042.\n"
	d2 := "Drift Value: Feature 'feature_2' has experienced drift, with a current PSI score of 1 that exceeds the configured threshold of 0.25.\n"
	head := "PSI Drift has been detected for the following features:\n"
	console := head + "    feature_1: \n        " + d1 + "    feature_2: \n        " + d2
	assert.Equal(t, console, DescribePSI(alerts, Console))
	assert.Equal(t, console, DescribePSI(alerts, OpsGenie))
	assert.Equal(t, head+"feature_1: \n    "+d1+"feature_2: \n    "+d2, DescribePSI(alerts, Slack))
	assert.Equal(t, "", DescribePSI(nil, Slack))
}

func TestDescribeMetric(t *testing.T) {
	tests := []struct {
		name  string
		alert MetricAlert
		want  string
	}{
		{"below with delta", MetricAlert{"genai_workflow_metric", 0.8, 0.33, ptr(0.01), Below},
			"The observed genai_workflow_metric metric value has dropped below the threshold (initial value - 0.01)\n"},
		{"below", MetricAlert{"accuracy", 0.75, 0.74, nil, Below},
			"The accuracy metric value has dropped below the initial value\n"},
		{"above with delta", MetricAlert{"mse", 12.02, 14, ptr(1), Above},
			"The mse metric value has increased beyond the threshold (initial value + 1)\n"},
		{"above", MetricAlert{"mse", 12.02, 14, nil, Above},
			"The mse metric value has increased beyond the initial value\n"},
		{"outside with delta", MetricAlert{"mse", 12.02, 14, ptr(1.5), Outside},
			"The mse metric value has fallen outside the threshold (initial value ± 1.5)\n"},
		{"outside", MetricAlert{"mse", 12.02, 14, nil, Outside},
			"The metric value has fallen outside the initial value for mse\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want + "Initial Metric Value: " + FormatFloat(tt.alert.BaselineValue) + "\n" +
				"Current Metric Value: " + FormatFloat(tt.alert.ObservedValue) + "\n"
			assert.Equal(t, want, DescribeMetric(tt.alert))
		})
	}
	assert.Equal(t, "The mse metric value has increased beyond the threshold (initial value + 1)\n"+
		"Initial Metric Value: 12.02\nCurrent Metric Value: 14\n",
		DescribeMetric(MetricAlert{"mse", 12.02, 14, ptr(1), Above}))
}

func TestAlertMapJSON(t *testing.T) {
	// the AlertMap examples of drift.md §5.6
	tests := []struct {
		name  string
		m     AlertMap
		json  string
		name2 string
	}{
		{"spc", AlertMap{Spc: &SPCAlert{Feature: "col_1", Kind: OutOfBounds, Zone: Zone4}},
			`{"Spc": {"feature": "col_1", "kind": "OutOfBounds", "zone": "Zone4"}}`, "col_1"},
		{"psi", AlertMap{Psi: &PSIAlert{Feature: "feature_1", Drift: 0.31, Threshold: 0.042}},
			`{"Psi": {"feature": "feature_1", "drift": 0.31, "threshold": 0.042}}`, "feature_1"},
		{"custom", AlertMap{Custom: &MetricAlert{"mse", 12.02, 14, ptr(1), Above}},
			`{"Custom": {"metric_name": "mse", "baseline_value": 12.02, "observed_value": 14.0, "delta": 1.0, "alert_threshold": "Above"}}`, "mse"},
		{"genai", AlertMap{GenAI: &MetricAlert{"genai_workflow_metric", 0.8, 0.33, ptr(0.01), Below}},
			`{"GenAI": {"metric_name": "genai_workflow_metric", "baseline_value": 0.8, "observed_value": 0.33, "delta": 0.01, "alert_threshold": "Below"}}`, "genai_workflow_metric"},
		{"custom without delta", AlertMap{Custom: &MetricAlert{"acc", 0.75, 0.7, nil, Below}},
			`{"Custom": {"metric_name": "acc", "baseline_value": 0.75, "observed_value": 0.7, "delta": null, "alert_threshold": "Below"}}`, "acc"},
		{"none", AlertMap{}, `"None"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.m)
			require.NoError(t, err)
			assert.JSONEq(t, tt.json, string(b))
			var back AlertMap
			require.NoError(t, json.Unmarshal([]byte(tt.json), &back))
			assert.Equal(t, tt.m, back)
			assert.Equal(t, tt.name2, back.EntityName())
		})
	}

	_, err := json.Marshal(AlertMap{Spc: &SPCAlert{}, Psi: &PSIAlert{}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 variants set")

	for _, in := range []string{`{"Spc": {}, "Psi": {}}`, `{}`, `{"Observability": {}}`, `"Other"`, `[1]`, `{"Psi": {"drift": "x"}}`} {
		var m AlertMap
		assert.Error(t, json.Unmarshal([]byte(in), &m), "input %s", in)
	}
}
