package drift

import (
	"fmt"
	"math"
)

// AlertThreshold is the direction of a Custom/GenAI alert condition.
type AlertThreshold string

// The alert thresholds (upstream AlertThreshold; Below is the default).
const (
	Below   AlertThreshold = "Below"
	Above   AlertThreshold = "Above"
	Outside AlertThreshold = "Outside"
)

// Condition is an upstream AlertCondition: a baseline, a direction and an
// optional delta.
type Condition struct {
	BaselineValue  float64
	AlertThreshold AlertThreshold
	Delta          *float64 // nil when absent or null
}

// Validate rejects unknown thresholds and non-finite numbers; errors wrap
// ErrInvalidProfile.
func (c Condition) Validate() error {
	switch c.AlertThreshold {
	case Below, Above, Outside:
	default:
		return fmt.Errorf("%w: unknown alert threshold %q", ErrInvalidProfile, c.AlertThreshold)
	}
	if !finite(c.BaselineValue) {
		return fmt.Errorf("%w: baseline value %s is not finite", ErrInvalidProfile, FormatFloat(c.BaselineValue))
	}
	if c.Delta != nil && !finite(*c.Delta) {
		return fmt.Errorf("%w: delta %s is not finite", ErrInvalidProfile, FormatFloat(*c.Delta))
	}
	return nil
}

// ShouldAlert applies the condition to an observed value (strict
// comparisons): Above: v > baseline (+ delta); Below: v < baseline (− delta);
// Outside: outside [baseline − delta, baseline + delta], or v != baseline
// without a delta. An unknown threshold never alerts.
func (c Condition) ShouldAlert(v float64) bool {
	b := c.BaselineValue
	switch c.AlertThreshold {
	case Above:
		if c.Delta != nil {
			return v > b+*c.Delta
		}
		return v > b
	case Below:
		if c.Delta != nil {
			return v < b-*c.Delta
		}
		return v < b
	case Outside:
		if c.Delta != nil {
			return v < b-*c.Delta || v > b+*c.Delta
		}
		return v != b
	}
	return false
}

// MetricAlert is upstream's ComparisonMetricAlert, the payload of AlertMap's
// "Custom" and "GenAI" variants.
type MetricAlert struct {
	MetricName     string         `json:"metric_name"`
	BaselineValue  float64        `json:"baseline_value"`
	ObservedValue  float64        `json:"observed_value"`
	Delta          *float64       `json:"delta"`
	AlertThreshold AlertThreshold `json:"alert_threshold"`
}

// CustomProfile is what Custom-metric evaluation needs from a profile.
type CustomProfile struct {
	Metrics    map[string]float64   // metrics: name → baseline (defines the metric list)
	Conditions map[string]Condition // config.alert_config.alert_conditions; nil = no alerts
}

// EvaluateCustom compares each observed metric average (metric → AVG(value)
// of the custom_drift rows after the previous run) with its condition and
// returns one alert per alerting metric, sorted by metric name. Metrics not in
// the profile's metric list or without a condition are ignored, and so are
// NaN averages (they cannot be compared). Each alert is dispatched on its own
// (DescribeMetric). A bad condition wraps ErrInvalidProfile.
func EvaluateCustom(p CustomProfile, observed map[string]float64) ([]MetricAlert, error) {
	if p.Conditions == nil {
		return nil, nil
	}
	var alerts []MetricAlert
	for _, name := range sortedKeys(observed) {
		if _, ok := p.Metrics[name]; !ok {
			continue
		}
		cond, ok := p.Conditions[name]
		if !ok {
			continue
		}
		if err := cond.Validate(); err != nil {
			return nil, fmt.Errorf("metric %q: %w", name, err)
		}
		v := observed[name]
		if math.IsNaN(v) || !cond.ShouldAlert(v) {
			continue
		}
		alerts = append(alerts, newMetricAlert(name, cond, v))
	}
	return alerts, nil
}

// GenAIMetricName is the metric name of GenAI workflow pass-rate alerts.
const GenAIMetricName = "genai_workflow_metric"

// EvaluateGenAI compares the average workflow pass rate (AVG(pass_rate) of
// the genai_eval_workflow rows after the previous run; the caller skips the
// call when there are none) with the profile's single condition. A nil
// condition or a NaN rate gives no alert.
func EvaluateGenAI(cond *Condition, avgPassRate float64) (*MetricAlert, error) {
	if cond == nil || math.IsNaN(avgPassRate) {
		return nil, nil
	}
	if err := cond.Validate(); err != nil {
		return nil, fmt.Errorf("genai alert condition: %w", err)
	}
	if !cond.ShouldAlert(avgPassRate) {
		return nil, nil
	}
	a := newMetricAlert(GenAIMetricName, *cond, avgPassRate)
	return &a, nil
}

func newMetricAlert(name string, c Condition, v float64) MetricAlert {
	var delta *float64
	if c.Delta != nil {
		d := *c.Delta
		delta = &d
	}
	return MetricAlert{MetricName: name, BaselineValue: c.BaselineValue, ObservedValue: v, Delta: delta, AlertThreshold: c.AlertThreshold}
}
