package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/metrics"
)

var _ RequestObserver = (*metrics.Registry)(nil)

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log records.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "log line %q", l)
		out = append(out, m)
	}
	return out
}

func newLogger(buf *logBuffer) *slog.Logger {
	return logging.New(buf, logging.Options{Level: slog.LevelDebug, JSON: true})
}

// allowAuth accepts "Authorization: Bearer ok" and rejects anything else.
func allowAuth(c *gin.Context) {
	if c.GetHeader("Authorization") != "Bearer ok" {
		AbortUnauthorized(c, "Invalid token")
		return
	}
	c.Next()
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func authOK() map[string]string { return map[string]string{"Authorization": "Bearer ok"} }
