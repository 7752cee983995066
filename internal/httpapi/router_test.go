package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/metrics"
)

func TestHealthcheck(t *testing.T) {
	h := NewRouter(Deps{}) // nil Auth must not affect the public health routes
	for _, path := range []string{"/scouter/healthcheck", "/healthcheck"} {
		t.Run(path, func(t *testing.T) {
			rec := do(t, h, http.MethodGet, path, nil, nil)
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, `{"alive":true}`, rec.Body.String())
			assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
		})
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	h := NewRouter(Deps{Routes: []Registrar{RegistrarFunc(func(_, authed *gin.RouterGroup) {
		authed.GET("/thing/:id", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) })
	})}})
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantBody           string
		wantAllow          string
	}{
		{"unknown path", http.MethodGet, "/nope", 404, `{"error":"Not found"}`, ""},
		{"unknown path under prefix", http.MethodPost, "/scouter/nope", 404, `{"error":"Not found"}`, ""},
		{"trailing slash is not redirected", http.MethodGet, "/scouter/healthcheck/", 404, `{"error":"Not found"}`, ""},
		{"wrong method on public route", http.MethodPost, "/scouter/healthcheck", 405, `{"error":"Method not allowed"}`, "GET"},
		// As upstream the auth layer only runs for matched routes: no 401 here.
		{"wrong method on authed route", http.MethodDelete, "/scouter/thing/1", 405, `{"error":"Method not allowed"}`, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, tt.method, tt.path, nil, nil)
			assert.Equal(t, tt.wantStatus, rec.Code)
			assert.Equal(t, tt.wantBody, rec.Body.String())
			assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.wantAllow, rec.Header().Get("Allow"))
		})
	}
}

func TestNilAuthRejectsEverything(t *testing.T) {
	called := false
	h := NewRouter(Deps{Routes: []Registrar{RegistrarFunc(func(_, authed *gin.RouterGroup) {
		authed.GET("/secret", func(c *gin.Context) { called = true; c.Status(http.StatusOK) })
	})}})
	for _, headers := range []map[string]string{nil, authOK()} {
		rec := do(t, h, http.MethodGet, "/scouter/secret", nil, headers)
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Equal(t, `{"error":"Unauthorized","message":"No access token provided"}`, rec.Body.String())
	}
	assert.False(t, called, "handler behind a nil Auth ran")
}

func TestRegistrarGroups(t *testing.T) {
	h := NewRouter(Deps{Auth: allowAuth, Routes: []Registrar{
		RegistrarFunc(func(public, authed *gin.RouterGroup) {
			public.GET("/auth/login", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"token": "t"}) })
			authed.GET("/user", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"users": []string{}}) })
		}),
		nil, // ignored
	}})
	tests := []struct {
		name       string
		path       string
		headers    map[string]string
		wantStatus int
	}{
		{"public without token", "/scouter/auth/login", nil, 200},
		{"authed without token", "/scouter/user", nil, 401},
		{"authed with token", "/scouter/user", authOK(), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, http.MethodGet, tt.path, nil, tt.headers)
			assert.Equal(t, tt.wantStatus, rec.Code, "body %s", rec.Body.String())
		})
	}
}

// counterValue returns the value of the http_requests_total series with
// the given labels, or -1 when absent.
func counterValue(t *testing.T, g prometheus.Gatherer, method, path, status string) float64 {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != metrics.HTTPRequestsTotal {
			continue
		}
		for _, m := range f.GetMetric() {
			l := labels(m)
			if l["method"] == method && l["path"] == path && l["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, p := range m.GetLabel() {
		out[p.GetName()] = p.GetValue()
	}
	return out
}

func seriesPaths(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	var out []string
	for _, f := range families {
		if f.GetName() == metrics.HTTPRequestsTotal || f.GetName() == metrics.HTTPRequestsDuration {
			for _, m := range f.GetMetric() {
				out = append(out, labels(m)["path"])
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	reg := metrics.New()
	h := NewRouter(Deps{Auth: allowAuth, Metrics: reg, Logger: newLogger(&logBuffer{}), Routes: []Registrar{
		RegistrarFunc(func(_, authed *gin.RouterGroup) {
			authed.GET("/thing/:id", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) })
			authed.GET("/missing/:id", func(c *gin.Context) { WriteError(c, NewError(http.StatusNotFound, "Thing not found")) })
			authed.GET("/boom", func(c *gin.Context) { panic("boom") })
		}),
	}})

	for _, r := range []struct {
		path    string
		headers map[string]string
	}{
		{"/scouter/thing/1", authOK()},
		{"/scouter/thing/2", authOK()},
		{"/scouter/missing/3", authOK()},
		{"/scouter/boom", authOK()},
		{"/scouter/thing/4", nil}, // 401: auth runs before metrics, as upstream
		{"/scouter/healthcheck", nil},
		{"/healthcheck", nil},
		{"/scouter/unknown", authOK()},
	} {
		do(t, h, http.MethodGet, r.path, nil, r.headers)
	}

	assert.Equal(t, 2.0, counterValue(t, reg.Gatherer(), "GET", "/scouter/thing/:id", "200"))
	assert.Equal(t, 1.0, counterValue(t, reg.Gatherer(), "GET", "/scouter/missing/:id", "404"))
	assert.Equal(t, 1.0, counterValue(t, reg.Gatherer(), "GET", "/scouter/boom", "500"))
	assert.Equal(t, -1.0, counterValue(t, reg.Gatherer(), "GET", "/scouter/thing/:id", "401"))
	for _, p := range seriesPaths(t, reg.Gatherer()) {
		assert.NotContains(t, []string{"/scouter/healthcheck", "/healthcheck", "", "/scouter/thing/1", "/scouter/unknown"}, p)
	}
}

func TestRecovery(t *testing.T) {
	logs := &logBuffer{}
	h := NewRouter(Deps{Auth: allowAuth, Logger: newLogger(logs), Routes: []Registrar{
		RegistrarFunc(func(public, _ *gin.RouterGroup) {
			public.GET("/panic", func(c *gin.Context) { panic("kaboom") })
			public.GET("/panic-after-write", func(c *gin.Context) {
				c.String(http.StatusAccepted, "partial")
				panic(errors.New("late kaboom"))
			})
		}),
	}})

	rec := do(t, h, http.MethodGet, "/scouter/panic", nil, nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, `{"error":"Internal server error"}`, rec.Body.String())
	assert.NotEmpty(t, rec.Header().Get(RequestIDHeader))

	rec = do(t, h, http.MethodGet, "/scouter/panic-after-write", nil, nil)
	assert.Equal(t, http.StatusAccepted, rec.Code, "status already sent must stay")
	assert.Equal(t, "partial", rec.Body.String())

	rec = do(t, h, http.MethodGet, "/scouter/healthcheck", nil, nil)
	assert.Equal(t, http.StatusOK, rec.Code, "the router must keep serving after a panic")

	var panics, accessErrors int
	for _, l := range logs.lines(t) {
		switch l["msg"] {
		case "panic recovered":
			panics++
			assert.Equal(t, "ERROR", l["level"])
			assert.Contains(t, l["stack"], "runtime/debug.Stack")
			assert.NotEmpty(t, l["request_id"])
		case "http request":
			if l["status"] == 500.0 {
				accessErrors++
				assert.Equal(t, "ERROR", l["level"])
			}
		}
	}
	assert.Equal(t, 2, panics)
	assert.Equal(t, 1, accessErrors)
}

func TestAbortHandlerPanicIsReraised(t *testing.T) {
	h := NewRouter(Deps{Routes: []Registrar{RegistrarFunc(func(public, _ *gin.RouterGroup) {
		public.GET("/abort", func(c *gin.Context) { panic(http.ErrAbortHandler) })
	})}})
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		do(t, h, http.MethodGet, "/scouter/abort", nil, nil)
	})
}

func TestRequestID(t *testing.T) {
	var seen string
	h := NewRouter(Deps{Routes: []Registrar{RegistrarFunc(func(public, _ *gin.RouterGroup) {
		public.GET("/rid", func(c *gin.Context) { seen = RequestIDFrom(c.Request.Context()); c.Status(http.StatusNoContent) })
	})}})
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct {
		name     string
		incoming string
		want     string // "" = generated
	}{
		{"none", "", ""},
		{"sane is honoured", "abc-123_X.y", "abc-123_X.y"},
		{"128 chars is honoured", strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{"129 chars is replaced", strings.Repeat("a", 129), ""},
		{"space is replaced", "a b", ""},
		{"slash is replaced", "a/b", ""},
		{"non-ascii is replaced", "é", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = ""
			var headers map[string]string
			if tt.incoming != "" {
				headers = map[string]string{RequestIDHeader: tt.incoming}
			}
			rec := do(t, h, http.MethodGet, "/scouter/rid", nil, headers)
			got := rec.Header().Get(RequestIDHeader)
			if tt.want != "" {
				assert.Equal(t, tt.want, got)
			} else {
				assert.Regexp(t, uuidRe, got)
			}
			assert.Equal(t, got, seen, "handler context id differs from the response header")
		})
	}
	// Generated ids differ.
	a := do(t, h, http.MethodGet, "/scouter/rid", nil, nil).Header().Get(RequestIDHeader)
	b := do(t, h, http.MethodGet, "/scouter/rid", nil, nil).Header().Get(RequestIDHeader)
	assert.NotEqual(t, a, b)
	// 404s carry one too.
	assert.NotEmpty(t, do(t, h, http.MethodGet, "/nope", nil, nil).Header().Get(RequestIDHeader))
}

func TestAccessLog(t *testing.T) {
	logs := &logBuffer{}
	h := NewRouter(Deps{Auth: allowAuth, Logger: newLogger(logs), Routes: []Registrar{
		RegistrarFunc(func(public, authed *gin.RouterGroup) {
			public.POST("/auth/login", func(c *gin.Context) {
				var v map[string]any
				if !BindJSON(c, &v) {
					return
				}
				c.JSON(http.StatusOK, gin.H{"token": "t"})
			})
			authed.GET("/user/:username", func(c *gin.Context) {
				WriteError(c, fmt.Errorf("load user: %w", errors.New("db down")))
			})
		}),
	}})

	do(t, h, http.MethodPost, "/scouter/auth/login", strings.NewReader(`{"secret_field":"body-secret-value"}`),
		map[string]string{"Password": "pw-secret-value", "Authorization": "Bearer token-secret-value", RequestIDHeader: "req-1"})
	do(t, h, http.MethodGet, "/scouter/user/alice", nil, authOK())
	do(t, h, http.MethodGet, "/no/such/"+strings.Repeat("x", 400), nil, nil)

	out := logs.String()
	for _, secret := range []string{"pw-secret-value", "token-secret-value", "body-secret-value", "Bearer ok"} {
		assert.NotContains(t, out, secret)
	}
	lines := logs.lines(t)
	require.Len(t, lines, 3)

	login := lines[0]
	assert.Equal(t, "http request", login["msg"])
	assert.Equal(t, "DEBUG", login["level"], "a success logs at debug")
	assert.Equal(t, "POST", login["method"])
	assert.Equal(t, "/scouter/auth/login", login["route"])
	assert.Equal(t, 200.0, login["status"])
	assert.Equal(t, "req-1", login["request_id"])
	assert.IsType(t, 0.0, login["duration_ms"])
	assert.NotContains(t, login, "path")

	user := lines[1]
	assert.Equal(t, "/scouter/user/:username", user["route"])
	assert.Equal(t, 500.0, user["status"])
	assert.Equal(t, "ERROR", user["level"])
	assert.Equal(t, "load user: db down", user["err"])
	assert.NotContains(t, user, "path", "matched routes log the template only")

	unknown := lines[2]
	assert.Equal(t, "", unknown["route"])
	assert.Equal(t, 404.0, unknown["status"])
	assert.Equal(t, "INFO", unknown["level"], "a client error logs at info")
	p, _ := unknown["path"].(string)
	assert.True(t, strings.HasPrefix(p, "/no/such/x"), "got path %q", p)
	assert.LessOrEqual(t, len(p), maxLoggedPathLen+3)
}

// At the default info level a success writes no line and a failure does.
func TestAccessLogAtInfo(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := NewRouter(Deps{Auth: allowAuth, Logger: logger, Routes: []Registrar{
		RegistrarFunc(func(public, _ *gin.RouterGroup) {
			public.GET("/ok", func(c *gin.Context) { c.Status(http.StatusOK) })
		}),
	}})
	do(t, h, http.MethodGet, "/scouter/ok", nil, nil)
	assert.Empty(t, logs.String())
	do(t, h, http.MethodGet, "/scouter/missing", nil, nil)
	assert.Contains(t, logs.String(), `"status":404`)
}

func TestBodyLimit(t *testing.T) {
	const limit = 64
	h := NewRouter(Deps{MaxBodyBytes: limit, Routes: []Registrar{RegistrarFunc(func(public, _ *gin.RouterGroup) {
		public.POST("/json", func(c *gin.Context) {
			var v map[string]any
			if !BindJSON(c, &v) {
				return
			}
			c.JSON(http.StatusOK, v)
		})
		public.POST("/raw", func(c *gin.Context) {
			b, err := io.ReadAll(c.Request.Body)
			if err != nil {
				WriteError(c, fmt.Errorf("read arrow body: %w", err))
				return
			}
			c.JSON(http.StatusOK, gin.H{"n": len(b)})
		})
	})}})
	big := `{"k":"` + strings.Repeat("v", 100) + `"}`
	small := `{"k":"v"}`
	// hide the length so the request goes out chunked (ContentLength -1)
	unsized := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }
	tests := []struct {
		name       string
		path       string
		body       io.Reader
		wantStatus int
	}{
		{"declared length over limit", "/scouter/json", strings.NewReader(big), 413},
		{"chunked over limit via BindJSON", "/scouter/json", unsized(big), 413},
		{"chunked over limit via raw read", "/scouter/raw", unsized(big), 413},
		{"under limit", "/scouter/json", strings.NewReader(small), 200},
		{"chunked under limit", "/scouter/raw", unsized(small), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, http.MethodPost, tt.path, tt.body, map[string]string{"Content-Type": "application/json"})
			assert.Equal(t, tt.wantStatus, rec.Code, "body %s", rec.Body.String())
			if tt.wantStatus == 413 {
				assert.Equal(t, `{"error":"Request body too large (limit 64 bytes)"}`, rec.Body.String())
			}
		})
	}
}

func TestMetricsServer(t *testing.T) {
	reg := metrics.New()
	reg.ObserveHTTP("GET", "/scouter/thing/:id", 200, time.Millisecond)
	srv := NewMetricsServer("127.0.0.1:0", reg.Handler())
	assert.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
	assert.NotZero(t, srv.ReadTimeout)
	assert.NotZero(t, srv.IdleTimeout)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})

	client := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		resp, err := client.Get(base + path)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, body := get("/metrics")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `http_requests_total{method="GET",path="/scouter/thing/:id",status="200"} 1`)
	assert.Contains(t, body, "go_goroutines")
	status, _ = get("/scouter/healthcheck")
	assert.Equal(t, http.StatusNotFound, status, "the metrics listener serves /metrics only")
}

func TestNewHTTPServer(t *testing.T) {
	h := http.NotFoundHandler()
	srv := NewHTTPServer(":8000", h)
	assert.Equal(t, ":8000", srv.Addr)
	assert.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
	assert.Equal(t, ReadTimeout, srv.ReadTimeout)
	assert.Equal(t, IdleTimeout, srv.IdleTimeout)
	assert.NotNil(t, srv.Handler)
}

func TestRouterOverRealListener(t *testing.T) {
	srv := httptest.NewServer(NewRouter(Deps{}))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/scouter/healthcheck")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, `{"alive":true}`, string(b))
}
