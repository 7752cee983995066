package drift

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// PSIEpsilon is added to both proportions of every bin before the PSI sum.
const PSIEpsilon = 1e-10

// PSI computes Σ ((p+ε) − (q+ε)) · ln((p+ε)/(q+ε)) over paired expected (p,
// profile) and observed (q) bin proportions.
func PSI(expected, observed []float64) (float64, error) {
	if len(expected) != len(observed) {
		return 0, fmt.Errorf("psi: %d expected proportions but %d observed", len(expected), len(observed))
	}
	sum := 0.0
	for i, p := range expected {
		pa, qa := p+PSIEpsilon, observed[i]+PSIEpsilon
		sum += (pa - qa) * math.Log(pa/qa)
	}
	return sum, nil
}

// PSIThresholdKind is the variant of a PSI alert threshold.
type PSIThresholdKind string

// The PSI threshold kinds (keys of upstream's PsiThreshold enum).
const (
	ChiSquare PSIThresholdKind = "ChiSquare"
	Normal    PSIThresholdKind = "Normal"
	Fixed     PSIThresholdKind = "Fixed"
)

// PSIThreshold is config.alert_config.threshold.
type PSIThreshold struct {
	Kind  PSIThresholdKind
	Alpha float64 // ChiSquare, Normal: significance level in [0, 1)
	Value float64 // Fixed: the threshold itself (≥ 0)
}

// Validate checks the threshold's parameters; errors wrap ErrInvalidProfile.
func (t PSIThreshold) Validate() error {
	switch t.Kind {
	case ChiSquare, Normal:
		if !(t.Alpha >= 0 && t.Alpha < 1) {
			return fmt.Errorf("%w: psi threshold %s: alpha %s not in [0, 1)", ErrInvalidProfile, t.Kind, FormatFloat(t.Alpha))
		}
	case Fixed:
		if !(t.Value >= 0) || math.IsInf(t.Value, 1) {
			return fmt.Errorf("%w: psi threshold Fixed: %s is not a finite number >= 0", ErrInvalidProfile, FormatFloat(t.Value))
		}
	default:
		return fmt.Errorf("%w: unknown psi threshold kind %q", ErrInvalidProfile, t.Kind)
	}
	return nil
}

// Compute returns the threshold for a feature with `bins` profile bins and
// `sampleSize` observed values (Yurdakul 2018, one-sample case):
//
//	ChiSquare: χ²_{1−α}(B−1) / M
//	Normal:    (B−1)/M + z_{1−α}·√(2(B−1)) / M
//	Fixed:     the configured value
//
// α = 0 gives +Inf (never alerts). Fewer than two bins or a non-positive
// sample size wrap ErrInvalidProfile / ErrInvalidInput.
func (t PSIThreshold) Compute(sampleSize int64, bins int) (float64, error) {
	if err := t.Validate(); err != nil {
		return 0, err
	}
	if t.Kind == Fixed {
		return t.Value, nil
	}
	if bins < 2 {
		return 0, fmt.Errorf("%w: psi threshold needs at least 2 bins, got %d", ErrInvalidProfile, bins)
	}
	if sampleSize <= 0 {
		return 0, fmt.Errorf("%w: psi threshold needs a positive sample size, got %d", ErrInvalidInput, sampleSize)
	}
	if t.Alpha == 0 {
		return math.Inf(1), nil
	}
	m, df := float64(sampleSize), float64(bins-1)
	if t.Kind == ChiSquare {
		return distuv.ChiSquared{K: df}.Quantile(1-t.Alpha) / m, nil
	}
	z := distuv.UnitNormal.Quantile(1 - t.Alpha)
	return df/m + z*math.Sqrt(2*df)/m, nil
}

// PSIBin is one reference bin of a profile feature.
type PSIBin struct {
	ID         int32   // bin id (numeric bins 1..B) or category code
	Proportion float64 // expected share p of the bin
}

// PSIProfile is what PSI evaluation needs from a profile.
type PSIProfile struct {
	Features          map[string][]PSIBin // features.<name>.bins
	FeaturesToMonitor []string            // config.alert_config.features_to_monitor
	Threshold         PSIThreshold        // config.alert_config.threshold
}

// PSIMinSamplesPerBin: a feature is evaluated only when its observed total is
// strictly greater than this many values per profile bin.
const PSIMinSamplesPerBin = 10

// PSIFeature is the evaluation of one monitored feature.
type PSIFeature struct {
	Feature    string
	PSI        float64
	Threshold  float64
	SampleSize int64
	Bins       int
	Alert      bool
}

// PSIAlert is one drifting feature; its JSON is the payload of AlertMap's
// "Psi" variant.
type PSIAlert struct {
	Feature   string  `json:"feature"`
	Drift     float64 `json:"drift"`
	Threshold float64 `json:"threshold"`
}

// PSIResult holds the evaluated features and the alerts, both by feature name.
type PSIResult struct {
	Features []PSIFeature
	Alerts   []PSIAlert
}

// EvaluatePSI computes PSI for every monitored feature from the observed bin
// counts (feature → bin id → summed bin_count of the psi_drift rows after the
// previous run) and compares it with the threshold (alert when PSI >
// threshold).
//
// Rules, as upstream with its panics turned into errors:
//   - an empty FeaturesToMonitor means no alerts at all;
//   - a monitored feature missing from the profile, a monitored feature with
//     fewer than two bins, a bad proportion or threshold: ErrInvalidProfile;
//   - a negative count: ErrInvalidInput;
//   - a feature is skipped unless its observed total (all bins, including ids
//     the profile does not have) is > PSIMinSamplesPerBin × its bin count
//     (upstream compared against any profile feature's bin count; with equal
//     bin counts, the usual case, this is the same);
//   - observed proportions are count/total; profile bins without observations
//     get 0; observed bins not in the profile are ignored.
func EvaluatePSI(p PSIProfile, counts map[string]map[int32]int64) (PSIResult, error) {
	var res PSIResult
	if len(p.FeaturesToMonitor) == 0 {
		return res, nil
	}
	if err := p.Threshold.Validate(); err != nil {
		return res, err
	}
	monitored := slices.Clone(p.FeaturesToMonitor)
	slices.Sort(monitored)
	monitored = slices.Compact(monitored)
	for _, name := range monitored {
		bins, ok := p.Features[name]
		if !ok {
			return PSIResult{}, fmt.Errorf("%w: monitored feature %q is not in the profile", ErrInvalidProfile, name)
		}
		if len(bins) < 2 {
			return PSIResult{}, fmt.Errorf("%w: feature %q has %d bins, need at least 2", ErrInvalidProfile, name, len(bins))
		}
		for _, b := range bins {
			if !finite(b.Proportion) || b.Proportion < 0 {
				return PSIResult{}, fmt.Errorf("%w: feature %q bin %d: proportion %s is not a finite number >= 0",
					ErrInvalidProfile, name, b.ID, FormatFloat(b.Proportion))
			}
		}
		var total int64
		for id, c := range counts[name] {
			if c < 0 {
				return PSIResult{}, fmt.Errorf("%w: feature %q bin %d: negative count %d", ErrInvalidInput, name, id, c)
			}
			total += c
		}
		if total <= int64(PSIMinSamplesPerBin*len(bins)) {
			continue
		}
		expected := make([]float64, len(bins))
		observed := make([]float64, len(bins))
		for i, b := range bins {
			expected[i] = b.Proportion
			observed[i] = float64(counts[name][b.ID]) / float64(total)
		}
		psi, err := PSI(expected, observed)
		if err != nil {
			return PSIResult{}, err
		}
		threshold, err := p.Threshold.Compute(total, len(bins))
		if err != nil {
			return PSIResult{}, fmt.Errorf("feature %q: %w", name, err)
		}
		f := PSIFeature{Feature: name, PSI: psi, Threshold: threshold, SampleSize: total, Bins: len(bins), Alert: psi > threshold}
		res.Features = append(res.Features, f)
		if f.Alert {
			res.Alerts = append(res.Alerts, PSIAlert{Feature: name, Drift: psi, Threshold: threshold})
		}
	}
	return res, nil
}
