package driftread

import (
	"time"

	"github.com/scoutergo/server/internal/record"
)

// SpcDriftFeatures answers GET /scouter/drift/spc:
// {"features": {"<feature>": {"created_at": [...], "values": [...]}}}.
type SpcDriftFeatures struct {
	Features map[string]SpcDriftFeature `json:"features"`
}

// SpcDriftFeature is one feature's binned averages, newest bin first.
type SpcDriftFeature struct {
	CreatedAt []record.Time  `json:"created_at"`
	Values    []record.Float `json:"values"`
}

// BinnedPsiFeatureMetrics answers GET /scouter/drift/psi.
type BinnedPsiFeatureMetrics struct {
	Features map[string]BinnedPsiMetric `json:"features"`
}

// BinnedPsiMetric is one feature's PSI per time bin (newest first), the PSI
// of the whole window, and the window's observed bin proportions keyed by
// bin id (encoded as a string-keyed JSON object).
type BinnedPsiMetric struct {
	CreatedAt  []record.Time          `json:"created_at"`
	Psi        []record.Float         `json:"psi"`
	OverallPsi record.Float           `json:"overall_psi"`
	Bins       map[int32]record.Float `json:"bins"`
}

// BinnedMetrics answers GET /scouter/drift/custom.
type BinnedMetrics struct {
	Metrics map[string]BinnedMetric `json:"metrics"`
}

// BinnedMetric is one metric's per-bin statistics, newest bin first.
type BinnedMetric struct {
	Metric    string              `json:"metric"`
	CreatedAt []record.Time       `json:"created_at"`
	Stats     []BinnedMetricStats `json:"stats"`
}

// BinnedMetricStats are one bin's average and the average ∓ the sample
// standard deviation (0 for a single value).
type BinnedMetricStats struct {
	Avg        record.Float `json:"avg"`
	LowerBound record.Float `json:"lower_bound"`
	UpperBound record.Float `json:"upper_bound"`
}

// ObservabilityResponse answers GET /scouter/observability/metrics.
type ObservabilityResponse struct {
	Status string                `json:"status"` // always "success"
	Data   []ObservabilityResult `json:"data"`
}

// ObservabilityResult is one route's binned metrics, newest bin first.
type ObservabilityResult struct {
	RouteName         string             `json:"route_name"`
	CreatedAt         []record.Time      `json:"created_at"`
	P5                []record.Float     `json:"p5"`
	P25               []record.Float     `json:"p25"`
	P50               []record.Float     `json:"p50"`
	P95               []record.Float     `json:"p95"`
	P99               []record.Float     `json:"p99"`
	TotalRequestCount []int64            `json:"total_request_count"`
	TotalErrorCount   []int64            `json:"total_error_count"`
	ErrorLatency      []record.Float     `json:"error_latency"`
	StatusCounts      []map[string]int64 `json:"status_counts"`
}

// Tag is one key/value pair of a tag search.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Point is one bin of a single-valued series (SPC feature averages).
type Point struct {
	Series string
	At     time.Time
	Value  float64
}

// StatPoint is one bin of a custom metric: its average and sample standard
// deviation.
type StatPoint struct {
	Series string
	At     time.Time
	Avg    float64
	Stddev float64
}

// PsiCount is one PSI bin's summed count in one time bin of a feature.
type PsiCount struct {
	Feature string
	At      time.Time
	BinID   int32
	Count   int64
}
