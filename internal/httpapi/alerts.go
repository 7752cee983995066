package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/alertapi"
)

// AlertService serves the alert routes; *alertapi.Service implements it.
type AlertService interface {
	List(ctx context.Context, req alertapi.PageRequest) (*alertapi.Page, error)
	SetActive(ctx context.Context, id int32, active bool) error
}

var _ AlertService = (*alertapi.Service)(nil)

// AlertsHandler serves POST and PUT /scouter/alerts.
type AlertsHandler struct {
	svc AlertService
}

var _ Registrar = (*AlertsHandler)(nil)

// NewAlertsHandler returns the handler.
func NewAlertsHandler(svc AlertService) *AlertsHandler { return &AlertsHandler{svc: svc} }

// RegisterRoutes adds the routes to the authenticated group. As upstream,
// they need an authenticated caller but no space permission.
func (h *AlertsHandler) RegisterRoutes(_, authed *gin.RouterGroup) {
	authed.POST("/alerts", h.list)
	authed.PUT("/alerts", h.setStatus)
}

func (h *AlertsHandler) list(c *gin.Context) {
	var req alertapi.PageRequest
	if !BindJSON(c, &req) {
		return
	}
	page, err := h.svc.List(c.Request.Context(), req)
	if err != nil {
		WriteError(c, alertError(err, "Failed to query alerts"))
		return
	}
	c.JSON(http.StatusOK, page)
}

func (h *AlertsHandler) setStatus(c *gin.Context) {
	var req alertapi.StatusRequest
	if !BindJSON(c, &req) {
		return
	}
	if err := h.svc.SetActive(c.Request.Context(), req.ID, req.Active); err != nil {
		WriteError(c, alertError(err, "Failed to update drift alert status"))
		return
	}
	c.JSON(http.StatusOK, alertapi.StatusResponse{Updated: true})
}

// alertError maps the alert service's errors. Deviations from upstream,
// which answers 500 for both: an unknown uid is 404 (as the drift read
// routes) and an unknown alert id is 404.
func alertError(err error, failMsg string) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, alertapi.ErrEntityNotFound):
		return Wrap(http.StatusNotFound, "Failed to get entity ID from UID: "+err.Error(), err)
	case errors.Is(err, alertapi.ErrEntityLookup):
		return Wrap(http.StatusInternalServerError, "Failed to get entity ID from UID: lookup failed", err)
	case errors.Is(err, alertapi.ErrAlertNotFound):
		return Wrap(http.StatusNotFound, failMsg+": "+err.Error(), err)
	case errors.Is(err, alertapi.ErrNotUpdated):
		return Wrap(http.StatusBadRequest, failMsg, err)
	}
	return Wrap(http.StatusInternalServerError, failMsg+": internal error", err)
}
