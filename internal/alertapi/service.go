// Package alertapi serves the drift alert routes: keyset pages of an
// entity's alerts (POST /scouter/alerts) and acknowledging or re-opening
// one alert (PUT /scouter/alerts), drift.md §5.7.
package alertapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/drift"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/record"
)

// Sentinel errors; the HTTP edge maps each to one status.
var (
	// ErrEntityNotFound: no entity has the requested uid.
	ErrEntityNotFound = errors.New("entity not found")
	// ErrEntityLookup: resolving the uid failed for another reason.
	ErrEntityLookup = errors.New("entity lookup failed")
	// ErrAlertNotFound: no alert has the id.
	ErrAlertNotFound = errors.New("alert not found")
	// ErrNotUpdated: the alert's active flag does not read back as set.
	ErrNotUpdated = errors.New("alert status not updated")
)

// EntityResolver maps a profile uid to its entity id; *entity.Resolver
// implements it (an unknown uid wraps entity.ErrUnknownUID).
type EntityResolver interface {
	ID(ctx context.Context, uid string) (int32, error)
}

var _ EntityResolver = (*entity.Resolver)(nil)

// Service reads and updates drift alerts.
type Service struct {
	q        *dbsqlc.Queries
	entities EntityResolver
}

// New returns the service over conn (the pool).
func New(conn dbsqlc.DBTX, entities EntityResolver) (*Service, error) {
	if conn == nil || entities == nil {
		return nil, errors.New("alert service: nil database or entity resolver")
	}
	return &Service{q: dbsqlc.New(conn), entities: entities}, nil
}

// alertRow is the common shape of the four page queries' rows.
type alertRow struct {
	ID         int32
	CreatedAt  time.Time
	EntityName string
	Alert      json.RawMessage
	Active     bool
}

// List returns one keyset page of the entity's alerts, newest first
// (drift.md §5.7): limit+1 rows are read to learn whether more exist.
func (s *Service) List(ctx context.Context, req PageRequest) (*Page, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	entityID, err := s.entities.ID(ctx, req.UID)
	if err != nil {
		if errors.Is(err, entity.ErrUnknownUID) {
			return nil, fmt.Errorf("%w: %w", ErrEntityNotFound, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%w: %w", ErrEntityLookup, err)
	}
	limit := int32(DefaultLimit)
	if req.Limit != nil {
		limit = *req.Limit
	}
	previous := req.Direction != nil && *req.Direction == DirectionPrevious
	rows, err := s.page(ctx, entityID, req, previous, limit+1)
	if err != nil {
		return nil, fmt.Errorf("query alerts of entity %d: %w", entityID, db.MapError(err))
	}
	hasMore := len(rows) > int(limit)
	if hasMore {
		rows = rows[:limit]
	}
	if previous {
		slices.Reverse(rows)
	}
	page := &Page{Items: make([]Alert, len(rows))}
	for i, r := range rows {
		page.Items[i] = Alert{CreatedAt: record.NewTime(r.CreatedAt), EntityName: r.EntityName,
			Alert: decodeAlert(r.Alert), ID: r.ID, Active: r.Active}
	}
	cursorGiven := req.CursorCreatedAt != nil
	var first, last *RecordCursor
	if n := len(page.Items); n > 0 {
		first = cursorOf(page.Items[0])
		last = cursorOf(page.Items[n-1])
	}
	if previous {
		page.HasPrevious, page.HasNext = hasMore, cursorGiven
		if hasMore {
			page.PreviousCursor = first
		}
		page.NextCursor = last
	} else {
		page.HasNext, page.HasPrevious = hasMore, cursorGiven
		if hasMore {
			page.NextCursor = last
		}
		page.PreviousCursor = first
	}
	return page, nil
}

func cursorOf(a Alert) *RecordCursor {
	return &RecordCursor{CreatedAt: a.CreatedAt, ID: int64(a.ID)}
}

// decodeAlert reads a stored alert; one that cannot be read is "None", as
// upstream.
func decodeAlert(raw json.RawMessage) drift.AlertMap {
	var m drift.AlertMap
	if err := json.Unmarshal(raw, &m); err != nil {
		return drift.AlertMap{}
	}
	return m
}

// page runs the query of the direction, with or without a cursor.
func (s *Service) page(ctx context.Context, entityID int32, req PageRequest, previous bool, n int32) ([]alertRow, error) {
	active := req.Active
	var start, end *time.Time
	if req.StartDatetime != nil {
		start = &req.StartDatetime.Time
	}
	if req.EndDatetime != nil {
		end = &req.EndDatetime.Time
	}
	var (
		out []alertRow
		err error
	)
	switch cursor := req.CursorCreatedAt; {
	case previous && cursor != nil:
		var rows []dbsqlc.ListDriftAlertsAscAfterRow
		rows, err = s.q.ListDriftAlertsAscAfter(ctx, dbsqlc.ListDriftAlertsAscAfterParams{EntityID: entityID,
			CursorCreatedAt: cursor.Time, CursorID: req.CursorID, Active: active, StartAt: start, EndAt: end, RowLimit: n})
		out = convert(rows)
	case previous:
		var rows []dbsqlc.ListDriftAlertsAscRow
		rows, err = s.q.ListDriftAlertsAsc(ctx, dbsqlc.ListDriftAlertsAscParams{EntityID: entityID,
			Active: active, StartAt: start, EndAt: end, RowLimit: n})
		out = convert(rows)
	case cursor != nil:
		var rows []dbsqlc.ListDriftAlertsDescBeforeRow
		rows, err = s.q.ListDriftAlertsDescBefore(ctx, dbsqlc.ListDriftAlertsDescBeforeParams{EntityID: entityID,
			CursorCreatedAt: cursor.Time, CursorID: req.CursorID, Active: active, StartAt: start, EndAt: end, RowLimit: n})
		out = convert(rows)
	default:
		var rows []dbsqlc.ListDriftAlertsDescRow
		rows, err = s.q.ListDriftAlertsDesc(ctx, dbsqlc.ListDriftAlertsDescParams{EntityID: entityID,
			Active: active, StartAt: start, EndAt: end, RowLimit: n})
		out = convert(rows)
	}
	return out, err
}

// pageRow is satisfied by the four generated row types, which share the
// same fields.
type pageRow interface {
	dbsqlc.ListDriftAlertsAscRow | dbsqlc.ListDriftAlertsAscAfterRow |
		dbsqlc.ListDriftAlertsDescRow | dbsqlc.ListDriftAlertsDescBeforeRow
}

func convert[R pageRow](rows []R) []alertRow {
	out := make([]alertRow, len(rows))
	for i, r := range rows {
		out[i] = alertRow(r)
	}
	return out
}

// SetActive sets an alert's active flag (false acknowledges it). An
// unknown id wraps ErrAlertNotFound.
func (s *Service) SetActive(ctx context.Context, id int32, active bool) error {
	row, err := s.q.UpdateDriftAlertStatus(ctx, dbsqlc.UpdateDriftAlertStatusParams{ID: id, Active: active})
	if err != nil {
		err = db.MapError(err)
		if errors.Is(err, db.ErrNotFound) {
			return fmt.Errorf("alert %d: %w", id, ErrAlertNotFound)
		}
		return fmt.Errorf("update status of alert %d: %w", id, err)
	}
	if row.Active != active {
		return fmt.Errorf("alert %d: %w", id, ErrNotUpdated)
	}
	return nil
}
