package drift

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceRuleAlerts is the straightforward form of SPCRuleAlerts (every
// index, every zone, every check, duplicates collapsed at the end), kept to
// prove that SPCRuleAlerts' shortcuts change no result.
func referenceRuleAlerts(codes []int, rule SPCRule, zonesToMonitor []Zone) []SPCKindZone {
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

func TestSPCRuleAlertsMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	zoneSets := [][]Zone{allZones, {Zone1}, {Zone2, Zone4}, {Zone3}, nil}
	seen := map[SPCKindZone]int{}
	for n := range 20000 {
		codes := make([]int, r.IntN(60))
		spread := 1 + r.IntN(4) // small spreads make runs and trends likely
		for i := range codes {
			codes[i] = r.IntN(2*spread+1) - spread
		}
		if n%4 == 0 && len(codes) >= 8 { // a ramp of 6 to 8 codes, up or down
			ramp, at, dir := 6+r.IntN(3), r.IntN(len(codes)-7), 1-2*r.IntN(2)
			for k := range ramp {
				codes[at+k] = dir * (k - 4)
			}
		}
		var rule SPCRule
		for z := range 4 {
			rule.Consecutive[z], rule.Alternating[z] = r.IntN(9), r.IntN(9)
		}
		zones := zoneSets[n%len(zoneSets)]
		want := referenceRuleAlerts(codes, rule, zones)
		require.Equal(t, want, SPCRuleAlerts(codes, rule, zones), "codes %v rule %+v zones %v", codes, rule, zones)
		for _, a := range want {
			seen[a]++
		}
	}
	// The random cases raise every kind of alert many times over.
	for _, a := range []SPCKindZone{
		{Consecutive, Zone1}, {Alternating, Zone1}, {Consecutive, Zone2}, {Alternating, Zone2},
		{Consecutive, Zone3}, {Alternating, Zone3}, {OutOfBounds, Zone4}, {Trend, NotApplicable},
	} {
		assert.Greater(t, seen[a], 50, "%v raised %d times", a, seen[a])
	}
}

func TestEvaluateSPCSeriesMatchesEvaluateSPC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	t0 := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	limits := SPCLimits{Center: 0, OneUCL: 1, OneLCL: -1, TwoUCL: 2, TwoLCL: -2, ThreeUCL: 3, ThreeLCL: -3}
	p := SPCProfile{
		Features:       map[string]SPCLimits{"a": limits, "b": limits, "c": limits},
		Rule:           DefaultSPCRule,
		ZonesToMonitor: allZones,
	}
	for range 300 {
		samples := map[string][]Sample{}
		series := map[string][]float64{}
		for _, name := range []string{"a", "b", "c"} {
			n := r.IntN(40)
			s := make([]Sample, n)
			for i := range s {
				s[i] = Sample{CreatedAt: t0.Add(-time.Duration(i) * time.Second), Value: r.NormFloat64() * 1.5}
			}
			values := make([]float64, n)
			for i := range s {
				values[i] = s[i].Value
			}
			series[name] = values
			r.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
			samples[name] = s
		}
		want, err := EvaluateSPC(p, samples)
		require.NoError(t, err)
		got, err := EvaluateSPCSeries(p, series)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}

	_, err := EvaluateSPCSeries(SPCProfile{Rule: "1 2 3"}, nil)
	assert.ErrorIs(t, err, ErrInvalidProfile)
}

// consecutiveHit and alternatingHit are upstream's checks of one window,
// as referenceRuleAlerts applies them.
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
