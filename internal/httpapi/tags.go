package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/driftread"
	"github.com/scoutergo/server/internal/record"
)

// TagService serves the tag routes (driftread.Tags).
type TagService interface {
	List(ctx context.Context, entityType, entityID string) ([]record.TagRecord, error)
	Store(ctx context.Context, tags []record.TagRecord) (int64, error)
	EntityIDs(ctx context.Context, entityType string, tags []driftread.Tag, matchAll bool) ([]string, error)
}

var _ TagService = (*driftread.Tags)(nil)

// TagsHandler serves GET/POST /scouter/tags and POST /scouter/tags/entity.
type TagsHandler struct {
	svc TagService
}

var _ Registrar = (*TagsHandler)(nil)

// NewTagsHandler returns the handler.
func NewTagsHandler(svc TagService) *TagsHandler { return &TagsHandler{svc: svc} }

// RegisterRoutes adds the routes to the authenticated group. As upstream,
// they need an authenticated caller but no space permission.
func (h *TagsHandler) RegisterRoutes(_, authed *gin.RouterGroup) {
	authed.GET("/tags", h.list)
	authed.POST("/tags", h.insert)
	authed.POST("/tags/entity", h.entityIDs)
}

// TagsResponse answers GET /scouter/tags.
type TagsResponse struct {
	Tags []record.TagRecord `json:"tags"`
}

// InsertTagsRequest is the body of POST /scouter/tags.
type InsertTagsRequest struct {
	Tags []record.TagRecord `json:"tags"`
}

// UnmarshalJSON requires "tags" and all four fields of every tag, as serde.
func (r *InsertTagsRequest) UnmarshalJSON(b []byte) error {
	var aux struct {
		Tags *[]struct {
			EntityType *string `json:"entity_type"`
			EntityID   *string `json:"entity_id"`
			Key        *string `json:"key"`
			Value      *string `json:"value"`
		} `json:"tags"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if aux.Tags == nil {
		return fmt.Errorf("tags: required field is missing or null")
	}
	out := make([]record.TagRecord, len(*aux.Tags))
	for i, t := range *aux.Tags {
		for _, f := range []struct {
			name string
			v    *string
		}{{"entity_type", t.EntityType}, {"entity_id", t.EntityID}, {"key", t.Key}, {"value", t.Value}} {
			if f.v == nil {
				return fmt.Errorf("tags[%d].%s: required string is missing or null", i, f.name)
			}
		}
		out[i] = record.TagRecord{EntityType: *t.EntityType, EntityID: *t.EntityID, Key: *t.Key, Value: *t.Value}
	}
	r.Tags = out
	return nil
}

// InsertTagsResponse answers POST /scouter/tags.
type InsertTagsResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// EntityIDTagsRequest is the body of POST /scouter/tags/entity.
type EntityIDTagsRequest struct {
	EntityType string          `json:"entity_type"`
	Tags       []driftread.Tag `json:"tags"`
	MatchAll   bool            `json:"match_all"`
}

// UnmarshalJSON requires every field, as serde.
func (r *EntityIDTagsRequest) UnmarshalJSON(b []byte) error {
	var aux struct {
		EntityType *string `json:"entity_type"`
		Tags       *[]struct {
			Key   *string `json:"key"`
			Value *string `json:"value"`
		} `json:"tags"`
		MatchAll *bool `json:"match_all"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	switch {
	case aux.EntityType == nil:
		return fmt.Errorf("entity_type: required string is missing or null")
	case aux.Tags == nil:
		return fmt.Errorf("tags: required field is missing or null")
	case aux.MatchAll == nil:
		return fmt.Errorf("match_all: required boolean is missing or null")
	}
	tags := make([]driftread.Tag, len(*aux.Tags))
	for i, t := range *aux.Tags {
		if t.Key == nil {
			return fmt.Errorf("tags[%d].key: required string is missing or null", i)
		}
		if t.Value == nil {
			return fmt.Errorf("tags[%d].value: required string is missing or null", i)
		}
		tags[i] = driftread.Tag{Key: *t.Key, Value: *t.Value}
	}
	*r = EntityIDTagsRequest{EntityType: *aux.EntityType, Tags: tags, MatchAll: *aux.MatchAll}
	return nil
}

// EntityIDTagsResponse answers POST /scouter/tags/entity.
type EntityIDTagsResponse struct {
	EntityID []string `json:"entity_id"`
}

func (h *TagsHandler) list(c *gin.Context) {
	q := c.Request.URL.Query()
	entityType, entityID := q.Get("entity_type"), q.Get("entity_id")
	for _, p := range []struct{ name, v string }{{"entity_type", entityType}, {"entity_id", entityID}} {
		if p.v == "" {
			WriteError(c, NewError(http.StatusBadRequest,
				"Failed to deserialize query string: "+p.name+": required query parameter is missing"))
			return
		}
	}
	tags, err := h.svc.List(c.Request.Context(), entityType, entityID)
	if err != nil {
		WriteError(c, readError(err, "Failed to query tags"))
		return
	}
	c.JSON(http.StatusOK, TagsResponse{Tags: tags})
}

func (h *TagsHandler) insert(c *gin.Context) {
	var req InsertTagsRequest
	if !BindJSON(c, &req) {
		return
	}
	n, err := h.svc.Store(c.Request.Context(), req.Tags)
	if err != nil {
		WriteError(c, readError(err, "Failed to insert tags"))
		return
	}
	c.JSON(http.StatusOK, InsertTagsResponse{Status: "success", Message: "Inserted " + strconv.FormatInt(n, 10) + " tags"})
}

func (h *TagsHandler) entityIDs(c *gin.Context) {
	var req EntityIDTagsRequest
	if !BindJSON(c, &req) {
		return
	}
	ids, err := h.svc.EntityIDs(c.Request.Context(), req.EntityType, req.Tags, req.MatchAll)
	if err != nil {
		WriteError(c, readError(err, "Failed to get entity IDs by tags"))
		return
	}
	c.JSON(http.StatusOK, EntityIDTagsResponse{EntityID: ids})
}
