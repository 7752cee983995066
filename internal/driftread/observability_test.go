package driftread

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/record"
)

func TestObservabilityRequestFromQuery(t *testing.T) {
	tests := []struct {
		query       string
		wantMinutes int
		wantErr     string
	}{
		{query: "uid=u&time_interval=15minute&max_data_points=10", wantMinutes: 15},
		{query: "uid=u&time_interval=30minute&max_data_points=10", wantMinutes: 30},
		{query: "uid=u&time_interval=1hour&max_data_points=10", wantMinutes: 60},
		{query: "uid=u&time_interval=4hour&max_data_points=10", wantMinutes: 240},
		{query: "uid=u&time_interval=6hour&max_data_points=10", wantMinutes: 360},
		{query: "uid=u&time_interval=12hour&max_data_points=10", wantMinutes: 720},
		{query: "uid=u&time_interval=24hour&max_data_points=10", wantMinutes: 1440},
		{query: "uid=u&time_interval=7day&max_data_points=10", wantMinutes: 10080},
		{query: "uid=u&time_interval=2day&max_data_points=10", wantMinutes: 360},
		{query: "uid=u&time_interval=FifteenMinutes&max_data_points=10", wantMinutes: 360},
		{query: "uid=u&max_data_points=10", wantMinutes: 360},
		{query: "uid=u&time_interval=custom&max_data_points=10", wantErr: "custom"},
		{query: "time_interval=1hour&max_data_points=10", wantErr: "uid"},
		{query: "uid=u&time_interval=1hour", wantErr: "max_data_points"},
		{query: "uid=u&max_data_points=ten", wantErr: "max_data_points"},
		{query: "uid=u&max_data_points=0", wantErr: "must be > 0"},
		{query: "uid=u&max_data_points=99999999999", wantErr: "32-bit"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			req, err := ObservabilityRequestFromQuery(q)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			got, err := req.Minutes()
			require.NoError(t, err)
			assert.Equal(t, tt.wantMinutes, got)
		})
	}
}

func route(name string, p5, p99 float64, requests, errors int64, errLatency float64, codes map[uint64]int64) record.RouteMetrics {
	return record.RouteMetrics{
		RouteName:    name,
		Metrics:      record.LatencyMetrics{P5: p5, P25: p5 + 1, P50: p5 + 2, P95: p99 - 1, P99: p99},
		RequestCount: requests, ErrorCount: errors, ErrorLatency: errLatency, StatusCodes: codes,
	}
}

func TestObservability(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, now)
	id := f.entity(t, "obs-1", "Spc")
	f.observability(t, id, ts(t, "2025-03-01T11:40:00Z"), []record.RouteMetrics{
		route("/predict", 1, 10, 10, 1, 0.5, map[uint64]int64{200: 9, 500: 1}),
		route("/health", 0.1, 0.2, 3, 0, 0, map[uint64]int64{200: 3}),
	})
	f.observability(t, id, ts(t, "2025-03-01T11:50:00Z"), []record.RouteMetrics{
		route("/predict", 3, 20, 20, 0, 1.5, map[uint64]int64{200: 20}),
	})
	f.observability(t, id, ts(t, "2025-03-01T11:10:00Z"), []record.RouteMetrics{
		route("/predict", 5, 50, 5, 5, 2, map[uint64]int64{404: 5}),
	})
	f.observability(t, id, ts(t, "2025-03-01T10:59:59Z"), []record.RouteMetrics{ // before the window
		route("/predict", 999, 999, 999, 999, 999, map[uint64]int64{200: 999}),
	})
	f.observability(t, id, ts(t, "2025-03-01T11:45:00Z"), nil) // an empty snapshot

	// One hour in 2 points: 30-minute bins.
	got, err := f.svc.Observability(t.Context(), ObservabilityRequest{UID: "obs-1", TimeInterval: "1hour", MaxDataPoints: 2})
	require.NoError(t, err)
	raw, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, `{"status": "success", "data": [
	  {"route_name": "/health",
	   "created_at": ["2025-03-01T11:30:00Z"],
	   "p5": [0.1], "p25": [1.1], "p50": [2.1], "p95": [-0.8], "p99": [0.2],
	   "total_request_count": [3], "total_error_count": [0], "error_latency": [0],
	   "status_counts": [{"200": 3}]},
	  {"route_name": "/predict",
	   "created_at": ["2025-03-01T11:30:00Z", "2025-03-01T11:00:00Z"],
	   "p5": [2, 5], "p25": [3, 6], "p50": [4, 7], "p95": [14, 49], "p99": [15, 50],
	   "total_request_count": [30, 5], "total_error_count": [1, 5], "error_latency": [1, 2],
	   "status_counts": [{"200": 29, "500": 1}, {"404": 5}]}
	]}`, string(raw))
}

func TestObservabilityDefaultsAndErrors(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, now)
	id := f.entity(t, "obs-2", "Spc")
	f.observability(t, id, now.Add(-5*time.Hour), []record.RouteMetrics{route("/a", 1, 2, 1, 0, 0, nil)})
	f.observability(t, id, now.Add(-7*time.Hour), []record.RouteMetrics{route("/a", 1, 2, 100, 0, 0, nil)})

	// An unknown interval reads six hours.
	got, err := f.svc.Observability(t.Context(), ObservabilityRequest{UID: "obs-2", TimeInterval: "2day", MaxDataPoints: 1})
	require.NoError(t, err)
	require.Len(t, got.Data, 1)
	assert.Equal(t, []int64{1}, got.Data[0].TotalRequestCount)
	assert.Equal(t, []map[string]int64{{}}, got.Data[0].StatusCounts)

	empty, err := f.svc.Observability(t.Context(), ObservabilityRequest{UID: "obs-2", TimeInterval: "15minute", MaxDataPoints: 1})
	require.NoError(t, err)
	raw, err := json.Marshal(empty)
	require.NoError(t, err)
	assert.JSONEq(t, `{"status":"success","data":[]}`, string(raw))

	_, err = f.svc.Observability(t.Context(), ObservabilityRequest{UID: "nope", TimeInterval: "1hour", MaxDataPoints: 1})
	require.ErrorIs(t, err, ErrEntityNotFound)
	_, err = f.svc.Observability(t.Context(), ObservabilityRequest{UID: "obs-2", TimeInterval: "custom", MaxDataPoints: 1})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = f.svc.Observability(t.Context(), ObservabilityRequest{UID: "obs-2", TimeInterval: "1hour"})
	require.ErrorIs(t, err, ErrInvalid)
}
