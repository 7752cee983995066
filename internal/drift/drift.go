// Package drift holds the pure drift computations of the Scouter server:
// SPC zone rules, PSI with its thresholds, Custom-metric and GenAI pass-rate
// conditions, and the alert description texts sent to Console, Slack and
// OpsGenie. It does no I/O: activities aggregate the observations in Postgres,
// convert the stored profile into the plain structs defined here and call the
// Evaluate* functions.
//
// Errors that mean "this profile can never be evaluated" (a bad SPC rule, a
// PSI feature with fewer than two bins, a monitored feature missing from the
// profile, an unknown threshold kind) wrap ErrInvalidProfile; errors caused by
// bad observations (negative PSI bin counts) wrap ErrInvalidInput. Both are
// permanent: retrying the same evaluation cannot succeed.
package drift

import (
	"errors"
	"math"
	"strconv"
)

// ErrInvalidProfile marks a profile that cannot be evaluated.
var ErrInvalidProfile = errors.New("invalid drift profile")

// ErrInvalidInput marks observations that cannot be evaluated.
var ErrInvalidInput = errors.New("invalid drift input")

// DispatchType selects the alert text format.
type DispatchType string

// The dispatch types (upstream AlertDispatchType). Anything else formats as
// Console, upstream's default.
const (
	Console  DispatchType = "Console"
	Slack    DispatchType = "Slack"
	OpsGenie DispatchType = "OpsGenie"
)

// FormatFloat formats v like Rust's `{}` Display for f64, which upstream uses
// in every alert text: shortest round-trip digits, never an exponent, 1.0
// prints as "1", infinities as "inf"/"-inf" and NaN as "NaN".
func FormatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
