// Package metrics owns the process's private Prometheus registry: the Go and
// process collectors, the HTTP request metrics that upstream Scouter exposes,
// and the /metrics handler. Other packages (gRPC, ingest, worker) add their
// collectors through Registerer.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names and labels of the HTTP request metrics, as upstream.
const (
	HTTPRequestsTotal    = "http_requests_total"
	HTTPRequestsDuration = "http_requests_duration_seconds"
)

// HTTPDurationBuckets returns upstream's request-duration buckets, in seconds.
func HTTPDurationBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// Registry is a private Prometheus registry with the server's built-in
// collectors. It is safe for concurrent use.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns a registry holding the Go and process collectors and the HTTP
// request metrics.
func New() *Registry {
	labels := []string{"method", "path", "status"}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HTTPRequestsTotal,
			Help: "Number of HTTP requests to authenticated routes, by method, route template and status.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    HTTPRequestsDuration,
			Help:    "Duration of HTTP requests to authenticated routes in seconds, by method, route template and status.",
			Buckets: HTTPDurationBuckets(),
		}, labels),
	}
	// A fresh registry with these distinct collectors cannot conflict, so a
	// failure here is a programming error (covered by the package tests).
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.requests,
		r.duration,
	)
	return r
}

// Registerer is where other packages register their collectors.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer reads the registry (for tests and custom exporters).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the registry in the Prometheus exposition format. Mount it
// at /metrics on the metrics listener.
func (r *Registry) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(r.reg, promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      r.reg,
	}))
}

// ObserveHTTP records one finished request. route must be the matched route
// template (such as /scouter/user/:username), never the raw path, so label
// cardinality stays bounded.
func (r *Registry) ObserveHTTP(method, route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	r.requests.WithLabelValues(method, route, s).Inc()
	r.duration.WithLabelValues(method, route, s).Observe(d.Seconds())
}
