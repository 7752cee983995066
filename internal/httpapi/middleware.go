package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestIDFrom returns the request id stored in ctx by the router, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts 1 to 128 characters of [A-Za-z0-9._-], so a client
// id can go into logs and headers unchanged.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// requestID honours a sane incoming X-Request-ID, generates one otherwise,
// echoes it in the response and stores it in the request context.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Header(RequestIDHeader, id)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
		c.Next()
	}
}

const maxLoggedPathLen = 256

// accessLog writes one line per request. It never logs headers or bodies;
// the raw path is logged only for unmatched routes (truncated), the route
// template otherwise.
func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := accessLevel(status)
		ctx := c.Request.Context()
		if !logger.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", RequestIDFrom(ctx)),
		}
		if c.FullPath() == "" {
			p := c.Request.URL.Path
			if len(p) > maxLoggedPathLen {
				p = p[:maxLoggedPathLen] + "..."
			}
			attrs = append(attrs, slog.String("path", p))
		}
		if e := c.Errors.Last(); e != nil {
			attrs = append(attrs, slog.Any("err", e.Err))
		}
		logger.LogAttrs(ctx, level, "http request", attrs...)
	}
}

// accessLevel is the level of a request's log line: debug for a success
// (as upstream: a producer's thousands of messages a second are not worth a
// line each at info), info for a client error, error for a server error.
func accessLevel(status int) slog.Level {
	switch {
	case status >= http.StatusInternalServerError:
		return slog.LevelError
	case status >= http.StatusBadRequest:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// recovery turns a panic into 500 {"error":"Internal server error"} and an
// error log with the stack. http.ErrAbortHandler is re-raised: it is
// net/http's way to drop the connection and the server recovers it quietly.
func recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec)
			}
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "panic recovered",
				slog.String("err", fmt.Sprint(rec)),
				slog.String("method", c.Request.Method),
				slog.String("route", c.FullPath()),
				slog.String("request_id", RequestIDFrom(c.Request.Context())),
				slog.String("stack", string(debug.Stack())),
			)
			if c.Writer.Written() {
				// Too late for a JSON body; the status is already out.
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorResponse{Error: "Internal server error"})
		}()
		c.Next()
	}
}

// bodyLimit caps request bodies at limit bytes: a declared Content-Length
// over the limit is refused at once, and every body is wrapped in
// http.MaxBytesReader so a chunked body fails when it is read (BindJSON and
// WriteError then answer 413).
func bodyLimit(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, ErrorResponse{Error: tooLargeMessage(limit)})
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// observe records method, route template, status and duration of requests
// that reached it. A panicking handler is counted as 500 before the panic
// travels on to recovery.
func observe(m RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		panicked := true
		defer func() {
			status := c.Writer.Status()
			if panicked && !c.Writer.Written() {
				status = http.StatusInternalServerError
			}
			m.ObserveHTTP(c.Request.Method, c.FullPath(), status, time.Since(start))
		}()
		c.Next()
		panicked = false
	}
}
