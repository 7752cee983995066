package record

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormatTime(t *testing.T) {
	base := time.Date(2026, 3, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		ns   int
		want string
	}{
		{0, "2026-03-26T10:00:00Z"},
		{123_000_000, "2026-03-26T10:00:00.123Z"},
		{100_000_000, "2026-03-26T10:00:00.100Z"},
		{1_000_000, "2026-03-26T10:00:00.001Z"},
		{123_456_000, "2026-03-26T10:00:00.123456Z"},
		{1_000, "2026-03-26T10:00:00.000001Z"},
		{123_456_789, "2026-03-26T10:00:00.123456789Z"},
		{1, "2026-03-26T10:00:00.000000001Z"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			tm := base.Add(time.Duration(tc.ns))
			assert.Equal(t, tc.want, FormatTime(tm))
			b, err := json.Marshal(NewTime(tm))
			require.NoError(t, err)
			assert.Equal(t, `"`+tc.want+`"`, string(b))

			var back Time
			require.NoError(t, json.Unmarshal(b, &back))
			assert.True(t, back.Equal(tm), "got %v, want %v", back, tm)
		})
	}
	// Non-UTC times are written in UTC.
	loc := time.FixedZone("x", 2*3600)
	assert.Equal(t, "2026-03-26T08:00:00Z", FormatTime(time.Date(2026, 3, 26, 10, 0, 0, 0, loc)))
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 3, 26, 10, 0, 0, 500_000_000, time.UTC)
	for _, in := range []string{
		"2026-03-26T10:00:00.5Z",
		"2026-03-26T10:00:00.500000Z",
		"2026-03-26T12:00:00.5+02:00",
		"2026-03-26T09:30:00.5-00:30",
		"2026-03-26t10:00:00.5z",
		"2026-03-26 10:00:00.5Z",
	} {
		got, err := ParseTime(in)
		require.NoError(t, err, in)
		assert.True(t, got.Equal(want), "%s: got %v", in, got)
		assert.Equal(t, time.UTC, got.Location())
	}
	for _, in := range []string{"", "2026-03-26", "2026-03-26T10:00:00", "2026-03-26T25:00:00Z", "yesterday", "2026-03-26T10:00:00+0200"} {
		_, err := ParseTime(in)
		assert.Error(t, err, in)
	}
	var tm Time
	require.NoError(t, json.Unmarshal([]byte("null"), &tm))
	assert.True(t, tm.IsZero())
	require.NoError(t, tm.UnmarshalText([]byte("2026-03-26T10:00:00.5Z")))
	assert.True(t, tm.Equal(want))
	text, err := tm.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "2026-03-26T10:00:00.500Z", string(text))
}

func TestFloat(t *testing.T) {
	b, err := json.Marshal(struct {
		A Float    `json:"a"`
		B Float    `json:"b"`
		C Float    `json:"c"`
		D []Float  `json:"d"`
		E *float64 `json:"e"`
		F *float64 `json:"f"`
	}{
		A: Float(math.NaN()), B: Float(math.Inf(-1)), C: 1.5,
		D: Floats([]float64{1, math.Inf(1), 0.25}), E: FloatOrNil(math.NaN()), F: FloatOrNil(2),
	})
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":null,"b":null,"c":1.5,"d":[1,null,0.25],"e":null,"f":2}`, string(b))
}
