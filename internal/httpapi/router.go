// Package httpapi is the HTTP edge of the server: the gin router with its
// middleware chain (request id, access log, recovery, body limit, auth,
// metrics), the route groups that handlers register on, JSON binding and the
// one function that turns errors into HTTP responses.
package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/logging"
)

// Prefix is the path prefix of every upstream route.
const Prefix = "/scouter"

// DefaultMaxBodyBytes is the body limit used when Deps.MaxBodyBytes is not
// positive; it equals the configuration default.
const DefaultMaxBodyBytes int64 = 32 << 20

// Registrar adds one resource's routes. public is the /scouter group without
// authentication; authed is the /scouter group behind Deps.Auth and the
// request metrics. Paths are relative to /scouter ("/user/:username").
//
// Handler structs implement it next to their handlers, so each issue adds
// one value to Deps.Routes and nothing else in this package changes.
type Registrar interface {
	RegisterRoutes(public, authed *gin.RouterGroup)
}

// RegistrarFunc adapts a function to Registrar.
type RegistrarFunc func(public, authed *gin.RouterGroup)

// RegisterRoutes calls f.
func (f RegistrarFunc) RegisterRoutes(public, authed *gin.RouterGroup) { f(public, authed) }

// RequestObserver records finished requests of the authenticated group.
// *metrics.Registry implements it.
type RequestObserver interface {
	ObserveHTTP(method, route string, status int, d time.Duration)
}

// Deps are the router's dependencies.
type Deps struct {
	// Logger receives the access log and recovered panics. Nil discards.
	Logger *slog.Logger
	// Metrics records requests to the authenticated group. Nil records nothing.
	Metrics RequestObserver
	// Auth guards the authenticated group. It must abort the request when
	// the caller is not authenticated. Nil rejects every request with 401,
	// so no route is ever open by accident.
	Auth gin.HandlerFunc
	// MaxBodyBytes limits request bodies (config.Server.MaxBodyBytes).
	// Zero or negative means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Routes register the handlers, in order.
	Routes []Registrar
}

// NewRouter builds the HTTP handler. Conflicting route registrations are a
// programming error and panic here, at start-up (gin's behaviour).
func NewRouter(deps Deps) http.Handler {
	logger := deps.Logger
	if logger == nil {
		logger = logging.Discard()
	}
	limit := deps.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	auth := deps.Auth
	if auth == nil {
		auth = denyAll
	}

	// The mode is process-wide gin state (stored atomically); release mode
	// only silences gin's debug printing.
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false // upstream answers 404, never a redirect
	r.RedirectFixedPath = false
	r.ForwardedByClientIP = false // no proxy headers are trusted

	// Outermost first: the request id is set before anything logs, the
	// access log sees the status written by recovery, and the body limit
	// applies to every route.
	r.Use(requestID(), accessLog(logger), recovery(logger), bodyLimit(limit))
	r.NoRoute(notFound)
	r.NoMethod(methodNotAllowed)

	r.GET("/healthcheck", healthcheck)
	public := r.Group(Prefix)
	public.GET("/healthcheck", healthcheck)

	// As upstream, auth runs first and metrics only measure requests that
	// passed it.
	authed := r.Group(Prefix, auth)
	if deps.Metrics != nil {
		authed.Use(observe(deps.Metrics))
	}

	for _, reg := range deps.Routes {
		if reg != nil {
			reg.RegisterRoutes(public, authed)
		}
	}
	return r
}

// HealthResponse is the healthcheck body.
type HealthResponse struct {
	Alive bool `json:"alive"`
}

func healthcheck(c *gin.Context) {
	c.JSON(http.StatusOK, HealthResponse{Alive: true})
}

func notFound(c *gin.Context) {
	c.AbortWithStatusJSON(http.StatusNotFound, ErrorResponse{Error: "Not found"})
}

func methodNotAllowed(c *gin.Context) {
	c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ErrorResponse{Error: "Method not allowed"})
}

func denyAll(c *gin.Context) {
	AbortUnauthorized(c, "No access token provided")
}
