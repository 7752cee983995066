package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/profile"
	"github.com/scoutergo/server/internal/profileapi"
)

// Profiles is what the profile routes need from the profile service;
// *profileapi.Service implements it.
type Profiles interface {
	Register(ctx context.Context, caller auth.Identity, req profile.ProfileRequest) (*profile.RegisteredProfileResponse, error)
	Update(ctx context.Context, caller auth.Identity, req profile.ProfileRequest) error
	Get(ctx context.Context, caller auth.Identity, req profile.GetProfileRequest) (*profile.Profile, error)
	SetStatus(ctx context.Context, caller auth.Identity, req profile.ProfileStatusRequest) error
	List(ctx context.Context, caller auth.Identity, req profile.ListProfilesRequest) ([]profile.ListedProfile, error)
}

var _ Profiles = (*profileapi.Service)(nil)

// ProfileMessageResponse is the body of PUT /scouter/profile and PUT
// /scouter/profile/status.
type ProfileMessageResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// ProfileUpdatedMessage answers PUT /scouter/profile.
const ProfileUpdatedMessage = "Drift profile updated successfully"

// ProfileHandler serves the profile routes (authenticated group).
type ProfileHandler struct {
	profiles Profiles
}

var _ Registrar = (*ProfileHandler)(nil)

// NewProfileHandler returns the profile routes over p.
func NewProfileHandler(p Profiles) *ProfileHandler { return &ProfileHandler{profiles: p} }

// RegisterRoutes implements Registrar.
func (h *ProfileHandler) RegisterRoutes(_, authed *gin.RouterGroup) {
	authed.POST("/profile", h.register)
	authed.PUT("/profile", h.update)
	authed.GET("/profile", h.get)
	authed.PUT("/profile/status", h.setStatus)
	authed.POST("/profiles", h.list)
}

func (h *ProfileHandler) register(c *gin.Context) {
	var req profile.ProfileRequest
	caller, ok := bindCaller(c, &req)
	if !ok {
		return
	}
	resp, err := h.profiles.Register(c.Request.Context(), caller, req)
	if err != nil {
		WriteError(c, profileError(err))
		return
	}
	c.JSON(http.StatusOK, resp)
}

func (h *ProfileHandler) update(c *gin.Context) {
	var req profile.ProfileRequest
	caller, ok := bindCaller(c, &req)
	if !ok {
		return
	}
	if err := h.profiles.Update(c.Request.Context(), caller, req); err != nil {
		WriteError(c, profileError(err))
		return
	}
	c.JSON(http.StatusOK, ProfileMessageResponse{Status: "success", Message: ProfileUpdatedMessage})
}

func (h *ProfileHandler) get(c *gin.Context) {
	req, err := profile.GetProfileRequestFromQuery(c.Request.URL.Query())
	if err != nil {
		WriteError(c, Wrap(http.StatusBadRequest, "Failed to deserialize query string: "+err.Error(), err))
		return
	}
	caller, ok := requireCaller(c)
	if !ok {
		return
	}
	p, err := h.profiles.Get(c.Request.Context(), caller, req)
	if err != nil {
		WriteError(c, profileError(err))
		return
	}
	// Postgres prints jsonb with spaces; send it compact.
	var buf bytes.Buffer
	if err := json.Compact(&buf, p.Tagged()); err != nil {
		WriteError(c, fmt.Errorf("compact profile: %w", err))
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", buf.Bytes())
}

func (h *ProfileHandler) setStatus(c *gin.Context) {
	var req profile.ProfileStatusRequest
	caller, ok := bindCaller(c, &req)
	if !ok {
		return
	}
	if err := h.profiles.SetStatus(c.Request.Context(), caller, req); err != nil {
		WriteError(c, profileError(err))
		return
	}
	c.JSON(http.StatusOK, ProfileMessageResponse{
		Status: "success",
		Message: fmt.Sprintf("Monitor profile status updated to %t for %s %s %s",
			req.Active, req.Name, req.Space, req.Version),
	})
}

func (h *ProfileHandler) list(c *gin.Context) {
	var req profile.ListProfilesRequest
	caller, ok := bindCaller(c, &req)
	if !ok {
		return
	}
	profiles, err := h.profiles.List(c.Request.Context(), caller, req)
	if err != nil {
		WriteError(c, profileError(err))
		return
	}
	c.JSON(http.StatusOK, profiles)
}

// profileStepMessages are upstream's 500 message prefixes per failed
// storage step; the cause follows after ": ".
var profileStepMessages = map[profileapi.Step]string{
	profileapi.StepEntityByUID:    "Failed to get entity ID from UID",
	profileapi.StepEntityByKey:    "Failed to get entity ID from space, name, version, drift_type",
	profileapi.StepQueryProfile:   "Failed to query profile",
	profileapi.StepInsertProfile:  "Failed to insert monitor profile",
	profileapi.StepUpdateProfile:  "Failed to update drift profile",
	profileapi.StepUpdateStatus:   "Failed to update drift profile status",
	profileapi.StepStoredProfiles: "Failed to query profile",
}

// profileError is the one mapping of the profile service's errors to
// responses ({"error": msg}). Errors it does not know pass through to
// WriteError (500, or 499/503 for a context error).
func profileError(err error) error {
	var (
		ie  *profileapi.InputError
		uid *profileapi.UnknownUIDError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, profileapi.ErrPermissionDenied):
		return Wrap(http.StatusForbidden, "Permission denied", err)
	case errors.Is(err, profileapi.ErrVersionRequired):
		return Wrap(http.StatusBadRequest, "Version request is required", err)
	case errors.As(err, &ie) && errors.Is(err, profileapi.ErrInvalidVersion):
		return Wrap(http.StatusBadRequest, "Invalid version request: "+ie.Error(), err)
	case errors.As(err, &ie):
		return Wrap(http.StatusBadRequest, "Invalid drift profile: "+ie.Error(), err)
	case errors.As(err, &uid):
		return Wrap(http.StatusNotFound, "Failed to get entity ID from UID: "+uid.Error(), err)
	case errors.Is(err, profileapi.ErrNotFound):
		return Wrap(http.StatusNotFound, "Drift profile not found", err)
	case errors.Is(err, profileapi.ErrNoProfiles):
		return Wrap(http.StatusNotFound, "No drift profiles found", err)
	}
	var se *profileapi.StepError
	if errors.As(err, &se) {
		if msg, ok := profileStepMessages[se.Step]; ok {
			return Wrap(http.StatusInternalServerError, msg+": "+se.Err.Error(), err)
		}
	}
	return err
}
