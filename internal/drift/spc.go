package drift

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Zone is an SPC alert zone (JSON values of upstream AlertZone).
type Zone string

// The SPC zones. Zone k means the point lies at or beyond k sigma (zone 4:
// beyond 3 sigma); NotApplicable is used by trend alerts.
const (
	Zone1         Zone = "Zone1"
	Zone2         Zone = "Zone2"
	Zone3         Zone = "Zone3"
	Zone4         Zone = "Zone4"
	NotApplicable Zone = "NotApplicable"
)

// zoneOf maps 1..4 to the zone constant.
func zoneOf(k int) Zone {
	switch k {
	case 1:
		return Zone1
	case 2:
		return Zone2
	case 3:
		return Zone3
	case 4:
		return Zone4
	}
	return NotApplicable
}

func (z Zone) rank() int {
	switch z {
	case Zone1:
		return 1
	case Zone2:
		return 2
	case Zone3:
		return 3
	case Zone4:
		return 4
	}
	return 5
}

// Text is the zone as written in alert descriptions ("Zone 1", "NA").
func (z Zone) Text() string {
	switch z {
	case Zone1:
		return "Zone 1"
	case Zone2:
		return "Zone 2"
	case Zone3:
		return "Zone 3"
	case Zone4:
		return "Zone 4"
	}
	return "NA"
}

// SPCAlertKind is the kind of an SPC alert (JSON values of upstream SpcAlertType).
type SPCAlertKind string

// The SPC alert kinds. AllGood exists on the wire but is never produced.
const (
	OutOfBounds SPCAlertKind = "OutOfBounds"
	Consecutive SPCAlertKind = "Consecutive"
	Alternating SPCAlertKind = "Alternating"
	AllGood     SPCAlertKind = "AllGood"
	Trend       SPCAlertKind = "Trend"
)

func (k SPCAlertKind) rank() int {
	switch k {
	case OutOfBounds:
		return 1
	case Consecutive:
		return 2
	case Alternating:
		return 3
	case AllGood:
		return 4
	}
	return 5
}

// Text is the kind as written in alert descriptions ("Out of bounds", ...).
func (k SPCAlertKind) Text() string {
	switch k {
	case OutOfBounds:
		return "Out of bounds"
	case AllGood:
		return "All good"
	}
	return string(k)
}

// DefaultSPCRule is upstream's default rule string.
const DefaultSPCRule = "8 16 4 8 2 4 1 1"

// SPCRule holds, per zone 1..4, the number of points that trigger a
// consecutive alert and an alternating alert; 0 disables a check.
type SPCRule struct {
	Consecutive [4]int
	Alternating [4]int
}

// ParseSPCRule parses a rule string: exactly eight non-negative integers
// separated by single spaces, as pairs (consecutive, alternating) for zones 1
// to 4. Errors wrap ErrInvalidProfile.
func ParseSPCRule(s string) (SPCRule, error) {
	parts := strings.Split(s, " ")
	if len(parts) != 8 {
		return SPCRule{}, fmt.Errorf("%w: spc rule %q: want 8 integers separated by single spaces, got %d parts",
			ErrInvalidProfile, s, len(parts))
	}
	var r SPCRule
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return SPCRule{}, fmt.Errorf("%w: spc rule %q: part %d (%q) is not an integer", ErrInvalidProfile, s, i+1, p)
		}
		if n < 0 {
			return SPCRule{}, fmt.Errorf("%w: spc rule %q: part %d (%d) must not be negative", ErrInvalidProfile, s, i+1, n)
		}
		if i%2 == 0 {
			r.Consecutive[i/2] = int(n)
		} else {
			r.Alternating[i/2] = int(n)
		}
	}
	return r, nil
}

// SPCLimits are one feature's control limits from the profile.
type SPCLimits struct {
	Center   float64
	OneUCL   float64
	OneLCL   float64
	TwoUCL   float64
	TwoLCL   float64
	ThreeUCL float64
	ThreeLCL float64
}

// ZoneCode classifies a sample mean against the limits: +k / -k for zone k
// above / below the center, 0 on the center line, exactly on a 3-sigma limit,
// or for NaN (upstream's order of comparisons).
func (l SPCLimits) ZoneCode(v float64) int {
	switch {
	case v > l.ThreeUCL:
		return 4
	case v < l.ThreeLCL:
		return -4
	case v < l.ThreeUCL && v >= l.TwoUCL:
		return 3
	case v < l.TwoUCL && v >= l.OneUCL:
		return 2
	case v < l.OneUCL && v > l.Center:
		return 1
	case v > l.ThreeLCL && v <= l.TwoLCL:
		return -3
	case v > l.TwoLCL && v <= l.OneLCL:
		return -2
	case v > l.OneLCL && v < l.Center:
		return -1
	}
	return 0
}

// SPCProfile is what SPC evaluation needs from a profile.
type SPCProfile struct {
	Features          map[string]SPCLimits // features.<name>
	Rule              string               // config.alert_config.rule.rule
	ZonesToMonitor    []Zone               // config.alert_config.rule.zones_to_monitor
	FeaturesToMonitor []string             // config.alert_config.features_to_monitor (empty = all)
}

// Sample is one stored SPC value (already a sample mean) with its time.
type Sample struct {
	CreatedAt time.Time
	Value     float64
}

// SPCAlert is one (feature, kind, zone) alert; its JSON is the payload of
// AlertMap's "Spc" variant.
type SPCAlert struct {
	Feature string       `json:"feature"`
	Kind    SPCAlertKind `json:"kind"`
	Zone    Zone         `json:"zone"`
}

// EvaluateSPC applies the zone and trend rules to the samples of each feature
// (feature name → spc_drift rows with created_at after the previous run, any
// order) and returns the alerts sorted by feature, zone and kind.
//
// As upstream: only features listed in FeaturesToMonitor are used when it is
// non-empty; features without samples are ignored; every feature's samples
// are sorted newest first and truncated to the smallest per-feature count
// (the newest N of each); a feature missing from the profile's limits gets
// zone code 0 everywhere and so never alerts. NaN values get code 0, ±Inf are
// beyond the 3-sigma limits. A bad rule string wraps ErrInvalidProfile.
func EvaluateSPC(p SPCProfile, samples map[string][]Sample) ([]SPCAlert, error) {
	values := make(map[string][]float64, len(samples))
	for name, s := range samples {
		sorted := slices.Clone(s)
		slices.SortStableFunc(sorted, func(a, b Sample) int { return b.CreatedAt.Compare(a.CreatedAt) })
		v := make([]float64, len(sorted))
		for i := range sorted {
			v[i] = sorted[i].Value
		}
		values[name] = v
	}
	return EvaluateSPCSeries(p, values)
}

// EvaluateSPCSeries is EvaluateSPC for series already ordered newest first
// (feature name → sample means, newest first), as a caller that reads them
// ordered from the database has them: the same filtering, truncation and
// rules, without the timestamps.
func EvaluateSPCSeries(p SPCProfile, newestFirst map[string][]float64) ([]SPCAlert, error) {
	rule, err := ParseSPCRule(p.Rule)
	if err != nil {
		return nil, err
	}
	series := selectSPCSeries(p.FeaturesToMonitor, newestFirst)
	var alerts []SPCAlert
	var codes []int
	for _, name := range sortedKeys(series) {
		limits, ok := p.Features[name]
		if !ok {
			continue
		}
		codes = slices.Grow(codes[:0], len(series[name]))[:len(series[name])]
		for i, v := range series[name] {
			codes[i] = limits.ZoneCode(v)
		}
		for _, a := range SPCRuleAlerts(codes, rule, p.ZonesToMonitor) {
			alerts = append(alerts, SPCAlert{Feature: name, Kind: a.Kind, Zone: a.Zone})
		}
	}
	return alerts, nil
}

// selectSPCSeries keeps the monitored, non-empty series and truncates each
// to the shortest one's length (keeping its newest values).
func selectSPCSeries(monitor []string, newestFirst map[string][]float64) map[string][]float64 {
	keep := func(string) bool { return true }
	if len(monitor) > 0 {
		keep = func(name string) bool { return slices.Contains(monitor, name) }
	}
	out := make(map[string][]float64)
	minLen := math.MaxInt
	for name, s := range newestFirst {
		if len(s) == 0 || !keep(name) {
			continue
		}
		out[name] = s
		minLen = min(minLen, len(s))
	}
	for name, s := range out {
		out[name] = s[:minLen]
	}
	return out
}

// SPCKindZone is one alert of a single feature.
type SPCKindZone struct {
	Kind SPCAlertKind
	Zone Zone
}

// SPCRuleAlerts runs upstream's alert algorithm over one feature's zone codes
// (newest first, as the DB returns them; the order matters for the zone
// rules) and returns the distinct alerts sorted by zone, then kind.
//
// For each index i and zone t whose code at i is ±t: a consecutive alert if
// the c points ending at i are all at or beyond zone t on one side, an
// alternating alert if the a points ending at i contain a run of a
// successive, different, non-zero codes of magnitude ≥ t. Zones not in
// zonesToMonitor are dropped and zone 4 always reports OutOfBounds. Trend: any
// 7 successive codes strictly increasing or strictly decreasing, whatever the
// monitored zones.
func SPCRuleAlerts(codes []int, rule SPCRule, zonesToMonitor []Zone) []SPCKindZone {
	var monitored [5]bool
	for t := 1; t <= 4; t++ {
		monitored[t] = slices.Contains(zonesToMonitor, zoneOf(t))
	}
	// One pass with run lengths ending at the current index, per zone t:
	// points at or beyond zone t above (pos) or below (neg) the center, and
	// points at or beyond zone t each different from the one before (alt).
	// The c points ending at i are all at or beyond zone t on one side
	// exactly when pos or neg is at least c; upstream's alternating scan of
	// the a points ending at i reaches a exactly when alt is at least a (its
	// count restarts on a point inside zone t, a zero, or a repeated code).
	// The test file keeps upstream's windowed scans and checks both agree.
	var pos, neg, alt [5]int
	var found [5][2]bool // zone t: consecutive, alternating alert
	for i, d := range codes {
		for t := 1; t <= 4; t++ {
			pos[t] = runLength(d >= t, pos[t])
			neg[t] = runLength(d <= -t, neg[t])
			switch {
			case d < t && d > -t:
				alt[t] = 0
			case i > 0 && alt[t] > 0 && d != codes[i-1]:
				alt[t]++
			default:
				alt[t] = 1
			}
		}
		t := max(d, -d)
		if t < 1 || t > 4 || !monitored[t] {
			continue
		}
		if c := rule.Consecutive[t-1]; c > 0 && (pos[t] >= c || neg[t] >= c) {
			found[t][0] = true
		}
		if a := rule.Alternating[t-1]; a > 0 && alt[t] >= a {
			found[t][1] = true
		}
	}
	set := make(map[SPCKindZone]bool)
	for t := 1; t <= 4; t++ {
		for k, kind := range []SPCAlertKind{Consecutive, Alternating} {
			if !found[t][k] {
				continue
			}
			if t == 4 {
				kind = OutOfBounds
			}
			set[SPCKindZone{Kind: kind, Zone: zoneOf(t)}] = true
		}
	}
	// Trend: 7 successive codes strictly increasing or decreasing, that is
	// 6 increases (decreases) in a row.
	up, down := 0, 0
	for i := 1; i < len(codes); i++ {
		up = runLength(codes[i] > codes[i-1], up)
		down = runLength(codes[i] < codes[i-1], down)
		if up >= 6 || down >= 6 {
			set[SPCKindZone{Kind: Trend, Zone: NotApplicable}] = true
			break
		}
	}
	out := make([]SPCKindZone, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y SPCKindZone) int {
		return cmp.Or(cmp.Compare(x.Zone.rank(), y.Zone.rank()), cmp.Compare(x.Kind.rank(), y.Kind.rank()))
	})
	return out
}

// runLength extends a run by one when ok, else ends it.
func runLength(ok bool, n int) int {
	if ok {
		return n + 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
