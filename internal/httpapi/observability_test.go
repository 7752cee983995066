package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObservabilityRoute(t *testing.T) {
	env := newDrEnv(t)
	id := env.entity(t, "obs-uid")
	at := time.Now().UTC().Add(-2 * time.Minute)
	env.exec(t, `INSERT INTO scouter.observability_metric (created_at, entity_id, request_count, error_count, route_metrics)
		VALUES ($1, $2, 4, 1, $3::jsonb)`, at, id, `[{"route_name": "/predict",
		"metrics": {"p5": 1, "p25": 2, "p50": 3, "p95": 4, "p99": 5},
		"request_count": 4, "error_count": 1, "error_latency": 0.25, "status_codes": {"200": 3, "500": 1}}]`)
	authed := drPerms("")

	t.Run("ok", func(t *testing.T) {
		// max_data_points 1: one bin covering the whole hour.
		code, body := env.do(t, http.MethodGet, "/scouter/observability/metrics?uid=obs-uid&time_interval=1hour&max_data_points=1", "", authed)
		require.Equal(t, http.StatusOK, code, body)
		assert.Contains(t, body, `"status":"success"`)
		assert.Contains(t, body, `"route_name":"/predict"`)
		assert.Contains(t, body, `"p99":[5]`)
		assert.Contains(t, body, `"total_request_count":[4]`)
		assert.Contains(t, body, `"status_counts":[{"200":3,"500":1}]`)
	})

	tests := []struct {
		name     string
		query    string
		perms    *string
		wantCode int
		wantMsg  string
	}{
		{"unauthenticated", "uid=obs-uid&time_interval=1hour&max_data_points=1", nil, http.StatusUnauthorized, "Unauthorized"},
		{"missing uid", "time_interval=1hour&max_data_points=1", authed, http.StatusBadRequest, "uid: required"},
		{"missing max_data_points", "uid=obs-uid&time_interval=1hour", authed, http.StatusBadRequest, "max_data_points: required"},
		{"non-numeric max_data_points", "uid=obs-uid&max_data_points=x", authed, http.StatusBadRequest, "max_data_points: expected a 32-bit integer"},
		{"zero max_data_points", "uid=obs-uid&max_data_points=0", authed, http.StatusBadRequest, "max_data_points: must be > 0"},
		{"custom interval", "uid=obs-uid&time_interval=custom&max_data_points=1", authed, http.StatusBadRequest, "custom is not supported"},
		{"unknown uid", "uid=nope&time_interval=1hour&max_data_points=1", authed, http.StatusNotFound, "Failed to get entity ID from UID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.do(t, http.MethodGet, "/scouter/observability/metrics?"+tt.query, "", tt.perms)
			require.Equal(t, tt.wantCode, code, body)
			assert.Contains(t, drErr(t, body), tt.wantMsg)
		})
	}

	t.Run("unknown interval reads six hours", func(t *testing.T) {
		code, body := env.do(t, http.MethodGet, "/scouter/observability/metrics?uid=obs-uid&time_interval=fortnight&max_data_points=1", "", authed)
		require.Equal(t, http.StatusOK, code, body)
		assert.Contains(t, body, `"total_request_count":[4]`)
	})
}
