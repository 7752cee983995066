package record

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Time is a timestamp in the upstream wire format. It decodes any RFC3339
// value (any offset, 'T'/'t' or ' ' separator, 'Z'/'z') and converts it to
// UTC; it encodes RFC3339 in UTC with a 'Z' suffix and 0, 3, 6 or 9
// fractional digits, whichever is the shortest exact form (chrono's AutoSi).
type Time struct{ time.Time }

// NewTime wraps t (converted to UTC).
func NewTime(t time.Time) Time { return Time{t.UTC()} }

// FormatTime formats t like Time.MarshalJSON, without quotes.
func FormatTime(t time.Time) string { return string(AppendTime(nil, t)) }

// AppendTime appends the wire form of t (without quotes) to b.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	ns := t.Nanosecond()
	switch {
	case ns == 0:
	case ns%1_000_000 == 0:
		b = appendFrac(b, ns/1_000_000, 3)
	case ns%1_000 == 0:
		b = appendFrac(b, ns/1_000, 6)
	default:
		b = appendFrac(b, ns, 9)
	}
	return append(b, 'Z')
}

func appendFrac(b []byte, v, digits int) []byte {
	b = append(b, '.')
	s := strconv.Itoa(v)
	for i := len(s); i < digits; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// ParseTime parses any RFC3339 timestamp and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// RFC3339 allows lower-case 't'/'z'; RFC3339-like producers also use a space.
		if len(s) > 10 && (s[10] == 't' || s[10] == ' ') {
			s = s[:10] + "T" + s[11:]
		}
		if strings.HasSuffix(s, "z") {
			s = s[:len(s)-1] + "Z"
		}
		var err2 error
		if t, err2 = time.Parse(time.RFC3339Nano, s); err2 != nil {
			return time.Time{}, err
		}
	}
	return t.UTC(), nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '"')
	b = AppendTime(b, t.Time)
	return append(b, '"'), nil
}

// MarshalText implements encoding.TextMarshaler (map keys, query strings).
func (t Time) MarshalText() ([]byte, error) { return AppendTime(nil, t.Time), nil }

// UnmarshalJSON implements json.Unmarshaler. Errors are *json.UnmarshalTypeError
// so that encoding/json adds the field path.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Time]()}
	}
	s, ok := unquote(b)
	if !ok {
		return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[Time]()}
	}
	v, err := ParseTime(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s), Type: reflect.TypeFor[Time]()}
	}
	t.Time = v
	return nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Time) UnmarshalText(b []byte) error {
	v, err := ParseTime(string(b))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Float is a float64 that encodes NaN and ±Inf as null, like serde_json
// (encoding/json refuses them).
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// FloatOrNil returns nil for NaN/±Inf and &v otherwise; handy for optional
// float fields that must encode as null.
func FloatOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Floats converts a slice for encoding with NaN/±Inf as null.
func Floats(vs []float64) []Float {
	out := make([]Float, len(vs))
	for i, v := range vs {
		out[i] = Float(v)
	}
	return out
}
