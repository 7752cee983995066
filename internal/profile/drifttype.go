package profile

import (
	"encoding/json"
	"fmt"
	"strings"
)

// DriftType names one of the four profile kinds. Its JSON form is the exact
// upstream variant name ("Spc", "Psi", "Custom", "GenAI"); query strings and
// stored values are parsed case-insensitively (see ParseDriftType).
type DriftType string

// The drift types. The string value is the wire and database form.
const (
	Spc    DriftType = "Spc"
	Psi    DriftType = "Psi"
	Custom DriftType = "Custom"
	GenAI  DriftType = "GenAI"
)

// DriftTypes lists every drift type in a fixed order.
func DriftTypes() []DriftType { return []DriftType{Spc, Psi, Custom, GenAI} }

// ParseDriftType parses s case-insensitively ("spc", "PSI", "GenAI", ...).
// Use it for query strings and database values, where upstream is lenient.
func ParseDriftType(s string) (DriftType, error) {
	for _, d := range DriftTypes() {
		if strings.EqualFold(s, string(d)) {
			return d, nil
		}
	}
	return "", fieldErr("drift_type", fmt.Sprintf("unknown drift type %q (want Spc, Psi, Custom or GenAI)", s))
}

// Valid reports whether d is one of the four exact variant names.
func (d DriftType) Valid() bool {
	switch d {
	case Spc, Psi, Custom, GenAI:
		return true
	}
	return false
}

// Lower is the lower-case path form ("spc", "psi", "custom", "genai") used in
// routes and log identifiers.
func (d DriftType) Lower() string { return strings.ToLower(string(d)) }

// String returns the wire form.
func (d DriftType) String() string { return string(d) }

// MarshalJSON writes the exact variant name and refuses anything else.
func (d DriftType) MarshalJSON() ([]byte, error) {
	if !d.Valid() {
		return nil, fieldErr("drift_type", fmt.Sprintf("cannot marshal unknown drift type %q", string(d)))
	}
	return json.Marshal(string(d))
}

// UnmarshalJSON accepts only the exact variant names, as serde does.
func (d *DriftType) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fieldErr("drift_type", "expected a string")
	}
	v := DriftType(s)
	if !v.Valid() {
		return fieldErr("drift_type", fmt.Sprintf("unknown drift type %q (want Spc, Psi, Custom or GenAI)", s))
	}
	*d = v
	return nil
}

// UnmarshalText parses case-insensitively; form/query binders use it.
func (d *DriftType) UnmarshalText(b []byte) error {
	v, err := ParseDriftType(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalParam lets gin's query/form binding use the lenient parser.
func (d *DriftType) UnmarshalParam(s string) error { return d.UnmarshalText([]byte(s)) }

// TimeInterval is the DriftRequest window selector.
type TimeInterval string

// The time intervals; FourHours is the upstream default.
const (
	FifteenMinutes  TimeInterval = "FifteenMinutes"
	ThirtyMinutes   TimeInterval = "ThirtyMinutes"
	OneHour         TimeInterval = "OneHour"
	FourHours       TimeInterval = "FourHours"
	SixHours        TimeInterval = "SixHours"
	TwelveHours     TimeInterval = "TwelveHours"
	TwentyFourHours TimeInterval = "TwentyFourHours"
	SevenDays       TimeInterval = "SevenDays"
	CustomInterval  TimeInterval = "Custom"
)

// Minutes is the window length; Custom is 0 (the caller uses the explicit
// range) and an unknown value is -1.
func (t TimeInterval) Minutes() int {
	switch t {
	case FifteenMinutes:
		return 15
	case ThirtyMinutes:
		return 30
	case OneHour:
		return 60
	case FourHours:
		return 240
	case SixHours:
		return 360
	case TwelveHours:
		return 720
	case TwentyFourHours:
		return 1440
	case SevenDays:
		return 10080
	case CustomInterval:
		return 0
	}
	return -1
}

// Valid reports whether t is a known variant name.
func (t TimeInterval) Valid() bool { return t.Minutes() >= 0 }

// ParseTimeInterval accepts the exact variant name; an empty string gives the
// default FourHours.
func ParseTimeInterval(s string) (TimeInterval, error) {
	if s == "" {
		return FourHours, nil
	}
	t := TimeInterval(s)
	if !t.Valid() {
		return "", fieldErr("time_interval", fmt.Sprintf("unknown time interval %q", s))
	}
	return t, nil
}

// UnmarshalJSON accepts only the exact variant names.
func (t *TimeInterval) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fieldErr("time_interval", "expected a string")
	}
	if s == "" {
		return fieldErr("time_interval", "empty")
	}
	v, err := ParseTimeInterval(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// UnmarshalText is used by query binders.
func (t *TimeInterval) UnmarshalText(b []byte) error {
	v, err := ParseTimeInterval(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// UnmarshalParam lets gin's query binding use UnmarshalText.
func (t *TimeInterval) UnmarshalParam(s string) error { return t.UnmarshalText([]byte(s)) }
