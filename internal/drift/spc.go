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
	rule, err := ParseSPCRule(p.Rule)
	if err != nil {
		return nil, err
	}
	series := selectSPCSeries(p.FeaturesToMonitor, samples)
	var alerts []SPCAlert
	for _, name := range sortedKeys(series) {
		limits, ok := p.Features[name]
		if !ok {
			continue
		}
		codes := make([]int, len(series[name]))
		for i, s := range series[name] {
			codes[i] = limits.ZoneCode(s.Value)
		}
		for _, a := range SPCRuleAlerts(codes, rule, p.ZonesToMonitor) {
			alerts = append(alerts, SPCAlert{Feature: name, Kind: a.Kind, Zone: a.Zone})
		}
	}
	return alerts, nil
}

func selectSPCSeries(monitor []string, samples map[string][]Sample) map[string][]Sample {
	keep := func(string) bool { return true }
	if len(monitor) > 0 {
		keep = func(name string) bool { return slices.Contains(monitor, name) }
	}
	out := make(map[string][]Sample)
	minLen := math.MaxInt
	for name, s := range samples {
		if len(s) == 0 || !keep(name) {
			continue
		}
		sorted := slices.Clone(s)
		slices.SortStableFunc(sorted, func(a, b Sample) int { return b.CreatedAt.Compare(a.CreatedAt) })
		out[name] = sorted
		minLen = min(minLen, len(sorted))
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
	set := make(map[SPCKindZone]bool)
	record := func(t int, kind SPCAlertKind) {
		zone := zoneOf(t)
		if !slices.Contains(zonesToMonitor, zone) {
			return
		}
		if t == 4 {
			kind = OutOfBounds
		}
		set[SPCKindZone{Kind: kind, Zone: zone}] = true
	}
	for i, d := range codes {
		for t := 1; t <= 4; t++ {
			if d != t && d != -t {
				continue
			}
			if c := rule.Consecutive[t-1]; c > 0 && i+1 >= c && consecutiveHit(codes[i+1-c:i+1], c, t) {
				record(t, Consecutive)
			}
			if a := rule.Alternating[t-1]; a > 0 && i+1 >= a && alternatingHit(codes[i+1-a:i+1], a, t) {
				record(t, Alternating)
			}
		}
	}
	for i := 0; i+7 <= len(codes); i++ {
		up, down := 0, 0
		for j := i + 1; j < i+7; j++ {
			switch {
			case codes[j] > codes[j-1]:
				up++
			case codes[j] < codes[j-1]:
				down++
			}
		}
		if up >= 6 || down >= 6 {
			set[SPCKindZone{Kind: Trend, Zone: NotApplicable}] = true
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

func consecutiveHit(w []int, c, t int) bool {
	pos, neg := 0, 0
	for _, x := range w {
		if x >= t {
			pos++
		}
		if x <= -t {
			neg++
		}
	}
	return pos >= c || neg >= c
}

// alternatingHit mirrors upstream's scan exactly, including that a repeated
// or too-small code resets the remembered previous code to 0.
func alternatingHit(w []int, a, t int) bool {
	last, count := 0, 0
	for _, x := range w {
		switch {
		case x == 0:
			last, count = 0, 0
		case x != last && (x >= t || x <= -t):
			count++
			if count >= a {
				return true
			}
			last = x
		default:
			last, count = 0, 0
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
