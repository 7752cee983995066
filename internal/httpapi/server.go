package httpapi

import (
	"net/http"
	"time"
)

// Listener timeouts. There is deliberately no WriteTimeout: dataset SQL
// queries and Arrow responses may legitimately stream for long, and
// handlers bound their own work through the request context.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second // whole request, body included (bodies are up to MaxBodyBytes)
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 1 << 20
)

// NewHTTPServer returns a plain http.Server for h with sensible timeouts.
// The caller owns ListenAndServe/Serve and Shutdown; set ErrorLog to route
// net/http's own messages to slog:
//
//	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// MetricsPath is where the metrics listener serves Prometheus.
const MetricsPath = "/metrics"

// NewMetricsHandler serves metrics (usually metrics.Registry.Handler()) at
// GET /metrics and 404 everywhere else, without auth, as upstream.
func NewMetricsHandler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, metrics)
	return mux
}

// NewMetricsServer is the metrics listener (upstream: HTTP port + 1).
func NewMetricsServer(addr string, metrics http.Handler) *http.Server {
	return NewHTTPServer(addr, NewMetricsHandler(metrics))
}
