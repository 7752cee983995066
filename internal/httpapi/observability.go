package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/driftread"
)

// ObservabilityReader serves the binned observability read
// (driftread.Service).
type ObservabilityReader interface {
	Observability(ctx context.Context, req driftread.ObservabilityRequest) (*driftread.ObservabilityResponse, error)
}

var _ ObservabilityReader = (*driftread.Service)(nil)

// ObservabilityHandler serves GET /scouter/observability/metrics.
type ObservabilityHandler struct {
	svc ObservabilityReader
}

var _ Registrar = (*ObservabilityHandler)(nil)

// NewObservabilityHandler returns the handler.
func NewObservabilityHandler(svc ObservabilityReader) *ObservabilityHandler {
	return &ObservabilityHandler{svc: svc}
}

// RegisterRoutes adds the route to the authenticated group.
func (h *ObservabilityHandler) RegisterRoutes(_, authed *gin.RouterGroup) {
	authed.GET("/observability/metrics", h.metrics)
}

func (h *ObservabilityHandler) metrics(c *gin.Context) {
	req, err := driftread.ObservabilityRequestFromQuery(c.Request.URL.Query())
	if err != nil {
		WriteError(c, readError(err, "Failed to query observability metrics"))
		return
	}
	out, err := h.svc.Observability(c.Request.Context(), req)
	if err != nil {
		WriteError(c, readError(err, "Failed to query observability metrics"))
		return
	}
	c.JSON(http.StatusOK, out)
}
