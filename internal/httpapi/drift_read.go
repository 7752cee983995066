package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/driftread"
	"github.com/scoutergo/server/internal/profile"
)

// DriftReader serves the binned drift reads (driftread.Service).
type DriftReader interface {
	Spc(ctx context.Context, req profile.DriftRequest) (*driftread.SpcDriftFeatures, error)
	Psi(ctx context.Context, req profile.DriftRequest) (*driftread.BinnedPsiFeatureMetrics, error)
	Custom(ctx context.Context, req profile.DriftRequest) (*driftread.BinnedMetrics, error)
}

var _ DriftReader = (*driftread.Service)(nil)

// DriftReadHandler serves GET /scouter/drift/{spc,psi,custom}.
type DriftReadHandler struct {
	svc DriftReader
}

var _ Registrar = (*DriftReadHandler)(nil)

// NewDriftReadHandler returns the handler.
func NewDriftReadHandler(svc DriftReader) *DriftReadHandler { return &DriftReadHandler{svc: svc} }

// RegisterRoutes adds the routes to the authenticated group.
func (h *DriftReadHandler) RegisterRoutes(_, authed *gin.RouterGroup) {
	authed.GET("/drift/spc", h.spc)
	authed.GET("/drift/psi", h.psi)
	authed.GET("/drift/custom", h.custom)
}

func (h *DriftReadHandler) spc(c *gin.Context) {
	serveDriftRead(c, h.svc.Spc)
}

func (h *DriftReadHandler) psi(c *gin.Context) {
	serveDriftRead(c, h.svc.Psi)
}

func (h *DriftReadHandler) custom(c *gin.Context) {
	serveDriftRead(c, h.svc.Custom)
}

// serveDriftRead binds the DriftRequest query, calls read and writes the
// answer or the mapped error.
func serveDriftRead[T any](c *gin.Context, read func(context.Context, profile.DriftRequest) (T, error)) {
	req, err := profile.DriftRequestFromQuery(c.Request.URL.Query())
	if err != nil {
		WriteError(c, Wrap(http.StatusBadRequest, "Failed to deserialize query string: "+err.Error(), err))
		return
	}
	out, err := read(c.Request.Context(), req)
	if err != nil {
		WriteError(c, readError(err, "Failed to query records"))
		return
	}
	c.JSON(http.StatusOK, out)
}

// readError is the one mapping of driftread errors to responses for the
// drift, observability and tag routes. failMsg is the route's upstream
// prefix for storage failures; their details go to the log only.
//
// Deliberate difference from upstream: an unknown uid (and, for PSI, a uid
// without a stored PSI profile) is 404, not 500: it is the caller's mistake,
// not a server fault. The message keeps upstream's prefix.
func readError(err error, failMsg string) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, driftread.ErrPermissionDenied):
		return Wrap(http.StatusForbidden, "Permission denied", err)
	case errors.Is(err, driftread.ErrInvalid), errors.Is(err, profile.ErrInvalid):
		return Wrap(http.StatusBadRequest, "Failed to deserialize query string: "+invalidDetail(err), err)
	case errors.Is(err, driftread.ErrEntityNotFound):
		return Wrap(http.StatusNotFound, "Failed to get entity ID from UID: "+err.Error(), err)
	case errors.Is(err, driftread.ErrEntityLookup):
		return Wrap(http.StatusInternalServerError, "Failed to get entity ID from UID: lookup failed", err)
	case errors.Is(err, driftread.ErrNoProfile):
		return Wrap(http.StatusNotFound, "Failed to query records: No Profile found", err)
	case errors.Is(err, driftread.ErrNoTagWriter):
		return Wrap(http.StatusServiceUnavailable, failMsg+": "+driftread.ErrNoTagWriter.Error(), err)
	}
	return Wrap(http.StatusInternalServerError, failMsg+": internal error", err)
}

// invalidDetail strips the "invalid request: " sentinel prefix.
func invalidDetail(err error) string {
	msg := err.Error()
	prefix := driftread.ErrInvalid.Error() + ": "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}
