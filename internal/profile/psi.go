package profile

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// BinType is a PSI feature's bin kind.
type BinType string

// The PSI bin kinds.
const (
	BinNumeric  BinType = "Numeric"
	BinCategory BinType = "Category"
)

// PsiProfile is the typed view of a PSI profile.
type PsiProfile struct {
	Features            map[string]PsiFeature
	FeaturesToMonitor   []string
	Threshold           PsiThreshold
	CategoricalFeatures []string
}

// PsiFeature is one feature's reference bins.
type PsiFeature struct {
	ID      string
	BinType BinType
	Bins    []Bin
}

// Bin is one reference bin. Lower/Upper are nil for JSON null and may be
// ±Inf (sent as "-inf"/"inf"). Membership is lower < x <= upper.
type Bin struct {
	ID         int32
	Lower      *float64
	Upper      *float64
	Proportion float64
}

// PsiThresholdKind is the variant of the PSI alert threshold.
type PsiThresholdKind string

// The PSI threshold kinds.
const (
	ThresholdChiSquare PsiThresholdKind = "ChiSquare"
	ThresholdNormal    PsiThresholdKind = "Normal"
	ThresholdFixed     PsiThresholdKind = "Fixed"
)

// PsiThreshold is the decoded config.alert_config.threshold.
type PsiThreshold struct {
	Kind  PsiThresholdKind
	Alpha float64 // ChiSquare, Normal
	Value float64 // Fixed ("threshold")
}

func parsePsi(top, cfg object) (*PsiProfile, error) {
	pp := &PsiProfile{}
	feats, err := top.obj("features")
	if err != nil {
		return nil, err
	}
	pp.Features = make(map[string]PsiFeature, len(feats.m))
	for _, name := range feats.sortedKeys() {
		f, err := parsePsiFeature(feats, name)
		if err != nil {
			return nil, err
		}
		pp.Features[name] = f
	}

	ac, err := cfg.obj("alert_config")
	if err != nil {
		return nil, err
	}
	if pp.FeaturesToMonitor, err = ac.optStrings("features_to_monitor"); err != nil {
		return nil, err
	}
	if !ac.has("threshold") {
		return nil, fieldErr("config.alert_config.threshold", "required object is missing or null")
	}
	if pp.Threshold, err = parsePsiThreshold("config.alert_config.threshold", ac.m["threshold"]); err != nil {
		return nil, err
	}
	if pp.CategoricalFeatures, err = cfg.optStrings("categorical_features"); err != nil {
		return nil, err
	}
	return pp, nil
}

func parsePsiFeature(feats object, name string) (PsiFeature, error) {
	fo, err := feats.obj(name)
	if err != nil {
		return PsiFeature{}, err
	}
	f := PsiFeature{ID: name, BinType: BinNumeric}
	if id, ok, err := fo.optStr("id"); err != nil {
		return PsiFeature{}, err
	} else if ok {
		f.ID = id
	}
	if bt, ok, err := fo.optStr("bin_type"); err != nil {
		return PsiFeature{}, err
	} else if ok {
		if bt != string(BinNumeric) && bt != string(BinCategory) {
			return PsiFeature{}, fieldErr(join(fo.path, "bin_type"), fmt.Sprintf("unknown bin type %q (want Numeric or Category)", bt))
		}
		f.BinType = BinType(bt)
	}
	items, err := fo.array("bins")
	if err != nil {
		return PsiFeature{}, err
	}
	if len(items) < 2 {
		return PsiFeature{}, fieldErr(join(fo.path, "bins"), fmt.Sprintf("need at least 2 bins, got %d", len(items)))
	}
	f.Bins = make([]Bin, 0, len(items))
	for i, it := range items {
		b, err := parseBin(fmt.Sprintf("%s.bins[%d]", fo.path, i), it)
		if err != nil {
			return PsiFeature{}, err
		}
		f.Bins = append(f.Bins, b)
	}
	return f, nil
}

func parseBin(path string, raw json.RawMessage) (Bin, error) {
	o, err := toObject(path, raw)
	if err != nil {
		return Bin{}, err
	}
	id, err := o.integer("id", math.MinInt32, math.MaxInt32)
	if err != nil {
		return Bin{}, err
	}
	b := Bin{ID: int32(id)}
	// Upstream requires all four keys; the limits may be null.
	for _, lim := range []struct {
		key string
		dst **float64
	}{{"lower_limit", &b.Lower}, {"upper_limit", &b.Upper}} {
		v, present := o.m[lim.key]
		if !present {
			return Bin{}, fieldErr(join(path, lim.key), "required key is missing (null is allowed)")
		}
		if *lim.dst, err = parseLimit(join(path, lim.key), v); err != nil {
			return Bin{}, err
		}
	}
	if b.Proportion, err = o.num("proportion"); err != nil {
		return Bin{}, err
	}
	return b, nil
}

// parseLimit accepts a number, null, "inf", "-inf" or a numeric string.
func parseLimit(path string, raw json.RawMessage) (*float64, error) {
	switch kindOf(raw) {
	case "null":
		return nil, nil
	case "number":
		v, err := decodeNumber(path, raw)
		if err != nil {
			return nil, err
		}
		return &v, nil
	case "string":
		s, err := decodeString(path, raw)
		if err != nil {
			return nil, err
		}
		var v float64
		switch s {
		case "inf":
			v = math.Inf(1)
		case "-inf":
			v = math.Inf(-1)
		default:
			v, err = strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) {
				return nil, fieldErr(path, fmt.Sprintf("expected number, \"inf\" or \"-inf\", got %q", s))
			}
		}
		return &v, nil
	}
	return nil, fieldErr(path, "expected number, string or null, got "+kindOf(raw))
}

func parsePsiThreshold(path string, raw json.RawMessage) (PsiThreshold, error) {
	variant, payload, err := taggedEnum(path, raw)
	if err != nil {
		return PsiThreshold{}, err
	}
	switch PsiThresholdKind(variant) {
	case ThresholdChiSquare, ThresholdNormal, ThresholdFixed:
	default:
		return PsiThreshold{}, fieldErr(path, fmt.Sprintf("unknown threshold kind %q (want ChiSquare, Normal or Fixed)", variant))
	}
	o, err := toObject(join(path, variant), payload)
	if err != nil {
		return PsiThreshold{}, err
	}
	switch PsiThresholdKind(variant) {
	case ThresholdChiSquare, ThresholdNormal:
		a, err := o.num("alpha")
		if err != nil {
			return PsiThreshold{}, err
		}
		if a < 0 || a >= 1 {
			return PsiThreshold{}, fieldErr(join(o.path, "alpha"), fmt.Sprintf("must be in [0, 1), got %v", a))
		}
		return PsiThreshold{Kind: PsiThresholdKind(variant), Alpha: a}, nil
	case ThresholdFixed:
		t, err := o.num("threshold")
		if err != nil {
			return PsiThreshold{}, err
		}
		if t < 0 {
			return PsiThreshold{}, fieldErr(join(o.path, "threshold"), fmt.Sprintf("must be >= 0, got %v", t))
		}
		return PsiThreshold{Kind: ThresholdFixed, Value: t}, nil
	}
	return PsiThreshold{}, fieldErr(path, "unreachable threshold kind")
}
