package profile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultSpcRule is the upstream default SPC rule string.
const DefaultSpcRule = "8 16 4 8 2 4 1 1"

// AlertZone is an SPC zone name as it appears in zones_to_monitor and alerts.
type AlertZone string

// The SPC zones.
const (
	Zone1         AlertZone = "Zone1"
	Zone2         AlertZone = "Zone2"
	Zone3         AlertZone = "Zone3"
	Zone4         AlertZone = "Zone4"
	NotApplicable AlertZone = "NotApplicable"
)

func (z AlertZone) valid() bool {
	switch z {
	case Zone1, Zone2, Zone3, Zone4, NotApplicable:
		return true
	}
	return false
}

// SpcProfile is the typed view of an SPC profile.
type SpcProfile struct {
	SampleSize        int // config.sample_size (default 25)
	Features          map[string]SpcFeature
	Rule              SpcRule
	ZonesToMonitor    []AlertZone // default: Zone1..Zone4
	FeaturesToMonitor []string    // may be empty (= every feature)
}

// SpcFeature holds one feature's control limits.
type SpcFeature struct {
	ID                 string
	Center             float64
	OneUCL, OneLCL     float64
	TwoUCL, TwoLCL     float64
	ThreeUCL, ThreeLCL float64
}

// SpcRule is a parsed SPC rule string: for zone k (1..4), Counts[2(k-1)] is
// the consecutive-points count and Counts[2(k-1)+1] the alternating count; 0
// disables that check.
type SpcRule struct {
	Raw    string
	Counts [8]int
}

// Zone returns the (consecutive, alternating) counts for zone 1..4.
func (r SpcRule) Zone(zone int) (consecutive, alternating int) {
	if zone < 1 || zone > 4 {
		return 0, 0
	}
	return r.Counts[2*(zone-1)], r.Counts[2*(zone-1)+1]
}

// ParseRule validates an SPC rule string: exactly eight non-negative decimal
// integers separated by single spaces (upstream splits on ' ' and parses each
// part as i32, so double spaces, tabs or leading/trailing blanks are errors).
// Negative counts, which upstream would cast to huge unsigned values, are
// rejected.
func ParseRule(s string) (SpcRule, error) {
	parts := strings.Split(s, " ")
	if len(parts) != 8 {
		return SpcRule{}, fmt.Errorf("rule %q: want 8 integers separated by single spaces, got %d parts", s, len(parts))
	}
	r := SpcRule{Raw: s}
	for i, part := range parts {
		n, err := strconv.ParseInt(part, 10, 32)
		if err != nil {
			return SpcRule{}, fmt.Errorf("rule %q: part %d (%q) is not an integer", s, i+1, part)
		}
		if n < 0 {
			return SpcRule{}, fmt.Errorf("rule %q: part %d (%d) must not be negative", s, i+1, n)
		}
		r.Counts[i] = int(n)
	}
	return r, nil
}

func parseSpc(top, cfg object) (*SpcProfile, error) {
	sp := &SpcProfile{SampleSize: 25}
	if cfg.has("sample_size") {
		n, err := cfg.integer("sample_size", 0, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		sp.SampleSize = int(n)
	}

	feats, err := top.obj("features")
	if err != nil {
		return nil, err
	}
	sp.Features = make(map[string]SpcFeature, len(feats.m))
	for _, name := range feats.sortedKeys() {
		fo, err := feats.obj(name)
		if err != nil {
			return nil, err
		}
		f := SpcFeature{ID: name}
		if id, ok, err := fo.optStr("id"); err != nil {
			return nil, err
		} else if ok {
			f.ID = id
		}
		for _, lim := range []struct {
			key string
			dst *float64
		}{
			{"center", &f.Center},
			{"one_ucl", &f.OneUCL}, {"one_lcl", &f.OneLCL},
			{"two_ucl", &f.TwoUCL}, {"two_lcl", &f.TwoLCL},
			{"three_ucl", &f.ThreeUCL}, {"three_lcl", &f.ThreeLCL},
		} {
			if *lim.dst, err = fo.num(lim.key); err != nil {
				return nil, err
			}
		}
		sp.Features[name] = f
	}

	ac, err := cfg.obj("alert_config")
	if err != nil {
		return nil, err
	}
	rule, err := ac.obj("rule")
	if err != nil {
		return nil, err
	}
	rs, err := rule.str("rule")
	if err != nil {
		return nil, err
	}
	if sp.Rule, err = ParseRule(rs); err != nil {
		return nil, fieldErr("config.alert_config.rule.rule", err.Error())
	}
	zones, err := rule.optStrings("zones_to_monitor")
	if err != nil {
		return nil, err
	}
	if !rule.has("zones_to_monitor") {
		sp.ZonesToMonitor = []AlertZone{Zone1, Zone2, Zone3, Zone4}
	}
	for i, z := range zones {
		if !AlertZone(z).valid() {
			return nil, fieldErr(fmt.Sprintf("config.alert_config.rule.zones_to_monitor[%d]", i), fmt.Sprintf("unknown zone %q", z))
		}
		sp.ZonesToMonitor = append(sp.ZonesToMonitor, AlertZone(z))
	}
	if sp.FeaturesToMonitor, err = ac.optStrings("features_to_monitor"); err != nil {
		return nil, err
	}
	return sp, nil
}
