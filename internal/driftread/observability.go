package driftread

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/record"
)

// ObservabilityRequest is the query of GET /scouter/observability/metrics.
type ObservabilityRequest struct {
	UID           string
	TimeInterval  string // "15minute", ..., "7day"; anything unknown reads as "6hour"
	MaxDataPoints int32
}

// observabilityMinutes maps the time_interval strings to window minutes.
var observabilityMinutes = map[string]int{
	"15minute": 15,
	"30minute": 30,
	"1hour":    60,
	"4hour":    240,
	"6hour":    360,
	"12hour":   720,
	"24hour":   1440,
	"7day":     10080,
}

// defaultObservabilityMinutes is the window of an unknown time_interval
// ("6hour", as upstream).
const defaultObservabilityMinutes = 360

// Minutes is the window length. "custom" is refused: the route takes no
// custom range (upstream divided a zero-length window and failed with 500).
func (r ObservabilityRequest) Minutes() (int, error) {
	if r.TimeInterval == "custom" {
		return 0, fmt.Errorf("%w: time_interval: custom is not supported by this route (it takes no start and end)", ErrInvalid)
	}
	if m, ok := observabilityMinutes[r.TimeInterval]; ok {
		return m, nil
	}
	return defaultObservabilityMinutes, nil
}

// ObservabilityRequestFromQuery parses the query string: uid and
// max_data_points (> 0) are required; time_interval is optional.
func ObservabilityRequestFromQuery(q url.Values) (ObservabilityRequest, error) {
	r := ObservabilityRequest{UID: q.Get("uid"), TimeInterval: q.Get("time_interval")}
	if r.UID == "" {
		return r, fmt.Errorf("%w: uid: required query parameter is missing", ErrInvalid)
	}
	mdp := q.Get("max_data_points")
	if mdp == "" {
		return r, fmt.Errorf("%w: max_data_points: required query parameter is missing", ErrInvalid)
	}
	n, err := strconv.ParseInt(mdp, 10, 32)
	if err != nil {
		return r, fmt.Errorf("%w: max_data_points: expected a 32-bit integer, got %q", ErrInvalid, mdp)
	}
	if n <= 0 {
		return r, fmt.Errorf("%w: max_data_points: must be > 0, got %d", ErrInvalid, n)
	}
	r.MaxDataPoints = int32(n)
	if _, err := r.Minutes(); err != nil {
		return r, err
	}
	return r, nil
}

// Observability returns the binned observability metrics of req.UID over
// the last time_interval, one result per route (ordered by route name).
// As upstream, any authenticated caller may read them (no space check).
func (s *Service) Observability(ctx context.Context, req ObservabilityRequest) (*ObservabilityResponse, error) {
	minutes, err := req.Minutes()
	if err != nil {
		return nil, err
	}
	if req.MaxDataPoints <= 0 {
		return nil, fmt.Errorf("%w: max_data_points: must be > 0, got %d", ErrInvalid, req.MaxDataPoints)
	}
	id, err := s.entityID(ctx, req.UID)
	if err != nil {
		return nil, err
	}
	window := time.Duration(minutes) * time.Minute
	rows, err := s.q.ListBinnedObservabilityMetrics(ctx, dbsqlc.ListBinnedObservabilityMetricsParams{
		BinUs:    binMicros(window, req.MaxDataPoints),
		EntityID: id,
		StartAt:  s.now().Add(-window),
	})
	if err != nil {
		return nil, fmt.Errorf("list binned observability metrics: %w", db.MapError(err))
	}
	out := &ObservabilityResponse{Status: "success", Data: []ObservabilityResult{}}
	var cur *ObservabilityResult
	for _, r := range rows {
		if cur == nil || cur.RouteName != r.RouteName {
			out.Data = append(out.Data, ObservabilityResult{RouteName: r.RouteName})
			cur = &out.Data[len(out.Data)-1]
		}
		codes := map[string]int64{}
		if err := json.Unmarshal(r.StatusCounts, &codes); err != nil {
			return nil, fmt.Errorf("decode status counts of route %s: %w", r.RouteName, err)
		}
		cur.CreatedAt = append(cur.CreatedAt, record.NewTime(r.BinStart))
		cur.P5 = append(cur.P5, record.Float(r.P5))
		cur.P25 = append(cur.P25, record.Float(r.P25))
		cur.P50 = append(cur.P50, record.Float(r.P50))
		cur.P95 = append(cur.P95, record.Float(r.P95))
		cur.P99 = append(cur.P99, record.Float(r.P99))
		cur.TotalRequestCount = append(cur.TotalRequestCount, r.TotalRequestCount)
		cur.TotalErrorCount = append(cur.TotalErrorCount, r.TotalErrorCount)
		cur.ErrorLatency = append(cur.ErrorLatency, record.Float(r.ErrorLatency))
		cur.StatusCounts = append(cur.StatusCounts, codes)
	}
	return out, nil
}
