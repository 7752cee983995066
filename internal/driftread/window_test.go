package driftread

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/profile"
)

func TestBinMicros(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		points int32
		want   time.Duration
	}{
		{"FifteenMinutes/100", 15 * time.Minute, 100, 9 * time.Second},
		{"ThirtyMinutes/100", 30 * time.Minute, 100, 18 * time.Second},
		{"OneHour/100", time.Hour, 100, 36 * time.Second},
		{"FourHours/100", 4 * time.Hour, 100, 144 * time.Second},
		{"SixHours/100", 6 * time.Hour, 100, 216 * time.Second},
		{"TwelveHours/100", 12 * time.Hour, 100, 432 * time.Second},
		{"TwentyFourHours/100", 24 * time.Hour, 100, 864 * time.Second},
		{"SevenDays/100", 7 * 24 * time.Hour, 100, 6048 * time.Second},
		{"15 days/100 (upstream archive test: 216 minutes)", 15 * 24 * time.Hour, 100, 216 * time.Minute},
		{"one point is the whole window", 4 * time.Hour, 1, 4 * time.Hour},
		// 240 min / 7 = 34.285714... min = 2057.142857142... s: rounded to µs.
		{"rounded to microseconds", 4 * time.Hour, 7, 2057142857 * time.Microsecond},
		// 2/3 µs rounds up to 1 µs.
		{"round half up", 2 * time.Minute, 180_000_000, time.Microsecond},
		{"whole minutes only, as upstream", 10*time.Minute + 30*time.Second, 10, time.Minute},
		{"sub-minute window uses its exact length", 30 * time.Second, 3, 10 * time.Second},
		{"never below one microsecond", 15 * time.Minute, 2147483647, time.Microsecond},
		{"non-positive points read as one", time.Hour, 0, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := time.Duration(binMicros(tt.window, tt.points)) * time.Microsecond
			assert.Equal(t, tt.want, got, "got %v, want %v", got, tt.want)
		})
	}
}

func TestPlanWindow(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	start := time.Date(2025, 2, 20, 0, 0, 0, 0, time.UTC)
	end := time.Date(2025, 2, 21, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		query   string
		want    Span
		wantErr string
	}{
		{
			name:  "preset window is open ended",
			query: "uid=u&space=s&time_interval=OneHour&max_data_points=60",
			want:  Span{Start: now.Add(-time.Hour), BinMicros: 60_000_000},
		},
		{
			name:  "FourHours is the default",
			query: "uid=u&space=s&max_data_points=1",
			want:  Span{Start: now.Add(-4 * time.Hour), BinMicros: (4 * time.Hour).Microseconds()},
		},
		{
			name:  "custom range wins over the interval",
			query: "uid=u&space=s&time_interval=FourHours&max_data_points=24&start_custom_datetime=2025-02-20T00:00:00Z&end_custom_datetime=2025-02-21T00:00:00Z",
			want:  Span{Start: start, End: &end, BinMicros: time.Hour.Microseconds()},
		},
		{
			name:  "custom range with offsets is read in UTC",
			query: "uid=u&space=s&time_interval=Custom&max_data_points=24&start_custom_datetime=2025-02-20T01:00:00%2B01:00&end_custom_datetime=2025-02-21T00:00:00Z",
			want:  Span{Start: start, End: &end, BinMicros: time.Hour.Microseconds()},
		},
		{
			name:  "one bound alone is ignored",
			query: "uid=u&space=s&time_interval=OneHour&max_data_points=1&start_custom_datetime=2025-02-20T00:00:00Z",
			want:  Span{Start: now.Add(-time.Hour), BinMicros: time.Hour.Microseconds()},
		},
		{
			name:    "Custom without bounds",
			query:   "uid=u&space=s&time_interval=Custom&max_data_points=1",
			wantErr: "time_interval",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			req, err := profile.DriftRequestFromQuery(q)
			if tt.wantErr != "" {
				// The query parser refuses it; planWindow must too for
				// requests built another way.
				require.Error(t, err)
				_, err = planWindow(req, now)
				require.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			spans, err := planWindow(req, now)
			require.NoError(t, err)
			require.Len(t, spans, 1)
			assert.Equal(t, tt.want, spans[0])
		})
	}
}
