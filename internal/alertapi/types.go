package alertapi

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/scoutergo/server/internal/drift"
	"github.com/scoutergo/server/internal/record"
)

// DefaultLimit is the page size when the request has none.
const DefaultLimit = 50

// MaxLimit caps the page size. Upstream has no cap; an unbounded limit
// would let one request read a whole table into memory.
const MaxLimit = 1000

// DirectionPrevious asks for the page before the cursor; any other
// direction (or none) means "next".
const DirectionPrevious = "previous"

// PageRequest is DriftAlertPaginationRequest, the body of POST
// /scouter/alerts. Only uid is required.
type PageRequest struct {
	UID             string       `json:"uid"`
	Active          *bool        `json:"active"`
	Limit           *int32       `json:"limit"`
	CursorCreatedAt *record.Time `json:"cursor_created_at"`
	CursorID        *int32       `json:"cursor_id"`
	Direction       *string      `json:"direction"`
	StartDatetime   *record.Time `json:"start_datetime"`
	EndDatetime     *record.Time `json:"end_datetime"`
}

// UnmarshalJSON requires uid, as serde does.
func (r *PageRequest) UnmarshalJSON(b []byte) error {
	type plain PageRequest
	var aux struct {
		plain
		UID *string `json:"uid"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if aux.UID == nil {
		return errors.New("uid: required string is missing or null")
	}
	*r = PageRequest(aux.plain)
	r.UID = *aux.UID
	return nil
}

// Validate checks the limit.
func (r *PageRequest) Validate() error {
	if r.Limit != nil && (*r.Limit < 1 || *r.Limit > MaxLimit) {
		return fmt.Errorf("limit: must be between 1 and %d, got %d", MaxLimit, *r.Limit)
	}
	return nil
}

// Alert is one drift alert as the routes return it.
type Alert struct {
	CreatedAt  record.Time    `json:"created_at"`
	EntityName string         `json:"entity_name"`
	Alert      drift.AlertMap `json:"alert"`
	ID         int32          `json:"id"`
	Active     bool           `json:"active"`
}

// RecordCursor is a keyset position (created_at, id).
type RecordCursor struct {
	CreatedAt record.Time `json:"created_at"`
	ID        int64       `json:"id"`
}

// Page is DriftAlertPaginationResponse.
type Page struct {
	Items          []Alert       `json:"items"`
	HasNext        bool          `json:"has_next"`
	NextCursor     *RecordCursor `json:"next_cursor"`
	HasPrevious    bool          `json:"has_previous"`
	PreviousCursor *RecordCursor `json:"previous_cursor"`
}

// StatusRequest is UpdateAlertStatus, the body of PUT /scouter/alerts. All
// three fields are required; space is not used (as upstream).
type StatusRequest struct {
	ID     int32  `json:"id"`
	Active bool   `json:"active"`
	Space  string `json:"space"`
}

// UnmarshalJSON requires every field, as serde does.
func (r *StatusRequest) UnmarshalJSON(b []byte) error {
	var aux struct {
		ID     *int32  `json:"id"`
		Active *bool   `json:"active"`
		Space  *string `json:"space"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	switch {
	case aux.ID == nil:
		return errors.New("id: required integer is missing or null")
	case aux.Active == nil:
		return errors.New("active: required boolean is missing or null")
	case aux.Space == nil:
		return errors.New("space: required string is missing or null")
	}
	*r = StatusRequest{ID: *aux.ID, Active: *aux.Active, Space: *aux.Space}
	return nil
}

// StatusResponse answers PUT /scouter/alerts.
type StatusResponse struct {
	Updated bool `json:"updated"`
}
