package profile

import (
	"encoding/json"
	"fmt"
	"math"
)

// AlertThreshold says on which side of the baseline a Custom/GenAI value alerts.
type AlertThreshold string

// The alert thresholds.
const (
	Below   AlertThreshold = "Below"
	Above   AlertThreshold = "Above"
	Outside AlertThreshold = "Outside"
)

// AlertCondition is the shared Custom/GenAI alert condition.
type AlertCondition struct {
	BaselineValue  float64
	AlertThreshold AlertThreshold
	Delta          *float64 // nil when absent or null
}

// CustomProfile is the typed view of a Custom metric profile.
type CustomProfile struct {
	SampleSize      int                       // config.sample_size (default 25)
	Metrics         map[string]float64        // metric name -> baseline
	AlertConditions map[string]AlertCondition // nil when absent or null
}

func parseCustom(top, cfg object) (*CustomProfile, error) {
	cp := &CustomProfile{SampleSize: 25}
	if cfg.has("sample_size") {
		n, err := cfg.integer("sample_size", 0, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		cp.SampleSize = int(n)
	}
	metrics, err := top.obj("metrics")
	if err != nil {
		return nil, err
	}
	cp.Metrics = make(map[string]float64, len(metrics.m))
	for _, name := range metrics.sortedKeys() {
		v, err := metrics.num(name)
		if err != nil {
			return nil, err
		}
		cp.Metrics[name] = v
	}
	ac, err := cfg.obj("alert_config")
	if err != nil {
		return nil, err
	}
	conds, ok, err := ac.optObj("alert_conditions")
	if err != nil || !ok {
		return cp, err
	}
	cp.AlertConditions = make(map[string]AlertCondition, len(conds.m))
	for _, name := range conds.sortedKeys() {
		c, err := parseAlertCondition(join(conds.path, name), conds.m[name])
		if err != nil {
			return nil, err
		}
		cp.AlertConditions[name] = c
	}
	return cp, nil
}

func parseAlertCondition(path string, raw json.RawMessage) (AlertCondition, error) {
	o, err := toObject(path, raw)
	if err != nil {
		return AlertCondition{}, err
	}
	var c AlertCondition
	if c.BaselineValue, err = o.num("baseline_value"); err != nil {
		return AlertCondition{}, err
	}
	t, err := o.str("alert_threshold")
	if err != nil {
		return AlertCondition{}, err
	}
	switch AlertThreshold(t) {
	case Below, Above, Outside:
		c.AlertThreshold = AlertThreshold(t)
	default:
		return AlertCondition{}, fieldErr(join(path, "alert_threshold"), fmt.Sprintf("unknown threshold %q (want Below, Above or Outside)", t))
	}
	if c.Delta, err = o.optNum("delta"); err != nil {
		return AlertCondition{}, err
	}
	return c, nil
}
