package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRegistersBuiltins(t *testing.T) {
	r := New()
	families, err := r.Gatherer().Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		assert.True(t, names[want], "got no %s in the registry", want)
	}
}

func TestObserveHTTP(t *testing.T) {
	r := New()
	r.ObserveHTTP("GET", "/scouter/user/:username", 200, 30*time.Millisecond)
	r.ObserveHTTP("GET", "/scouter/user/:username", 200, 2*time.Second)
	r.ObserveHTTP("POST", "/scouter/profile", 500, time.Millisecond)

	want := `
# HELP http_requests_total Number of HTTP requests to authenticated routes, by method, route template and status.
# TYPE http_requests_total counter
http_requests_total{method="GET",path="/scouter/user/:username",status="200"} 2
http_requests_total{method="POST",path="/scouter/profile",status="500"} 1
`
	require.NoError(t, testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), HTTPRequestsTotal))

	families, err := r.Gatherer().Gather()
	require.NoError(t, err)
	var found bool
	for _, f := range families {
		if f.GetName() != HTTPRequestsDuration {
			continue
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			var bounds []float64
			for _, b := range h.GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
			}
			assert.Equal(t, HTTPDurationBuckets(), bounds)
			if labelValue(m.GetLabel(), "path") == "/scouter/user/:username" {
				found = true
				assert.Equal(t, uint64(2), h.GetSampleCount())
				assert.InDelta(t, 2.03, h.GetSampleSum(), 1e-9)
			}
		}
	}
	assert.True(t, found, "got no duration series for the user route")
}

func labelValue(pairs []*dto.LabelPair, name string) string {
	for _, p := range pairs {
		if p.GetName() == name {
			return p.GetValue()
		}
	}
	return ""
}

func TestRegistererAcceptsOtherCollectors(t *testing.T) {
	r := New()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "scouter_ingest_records_total", Help: "test"})
	require.NoError(t, r.Registerer().Register(c))
	c.Add(3)
	assert.Equal(t, 3.0, testutil.ToFloat64(c))

	dup := prometheus.NewCounter(prometheus.CounterOpts{Name: "scouter_ingest_records_total", Help: "test"})
	assert.Error(t, r.Registerer().Register(dup), "registering a duplicate must fail")

	// Registries are private: another one does not see the collector.
	n, err := testutil.GatherAndCount(New().Gatherer(), "scouter_ingest_records_total")
	require.NoError(t, err)
	assert.Equal(t, 0, n)
}

func TestHandler(t *testing.T) {
	r := New()
	r.ObserveHTTP("GET", "/scouter/drift/spc", 200, time.Millisecond)

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	for _, want := range []string{
		`http_requests_total{method="GET",path="/scouter/drift/spc",status="200"} 1`,
		`http_requests_duration_seconds_bucket{method="GET",path="/scouter/drift/spc",status="200",le="0.005"} 1`,
		"go_goroutines",
		"promhttp_metric_handler_requests_total",
	} {
		assert.Contains(t, string(body), want)
	}
}
