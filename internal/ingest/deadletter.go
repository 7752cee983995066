package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// Page size bounds of DeadLetters.List.
const (
	DefaultDeadLetterLimit = 100
	MaxDeadLetterLimit     = 1000
)

// DeadLetter is one stored dead letter: a message (RecordIndex nil) or one
// record of a message (its index in "records") that was not stored, with
// the bytes to replay it. Per-record payloads are one-record MessageRecords
// ({"records":[<the record>]}).
type DeadLetter struct {
	ID          int64
	CreatedAt   time.Time
	Transport   string
	Source      string
	Reason      string
	RecordIndex *int32
	Payload     []byte
}

// DeadLetters reads the dead_letter table.
type DeadLetters struct {
	q *dbsqlc.Queries
}

// NewDeadLetters returns a reader over conn (a pool).
func NewDeadLetters(conn dbsqlc.DBTX) (*DeadLetters, error) {
	if conn == nil {
		return nil, errors.New("dead letters: nil database")
	}
	return &DeadLetters{q: dbsqlc.New(conn)}, nil
}

// List returns up to limit dead letters, newest (highest id) first, with an
// id below beforeID when it is not nil. limit must be in
// 1..MaxDeadLetterLimit.
func (d *DeadLetters) List(ctx context.Context, beforeID *int64, limit int) ([]DeadLetter, error) {
	if limit < 1 || limit > MaxDeadLetterLimit {
		return nil, fmt.Errorf("list dead letters: limit %d out of range 1..%d", limit, MaxDeadLetterLimit)
	}
	rows, err := d.q.ListDeadLetters(ctx, dbsqlc.ListDeadLettersParams{BeforeID: beforeID, RowLimit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := make([]DeadLetter, len(rows))
	for i, r := range rows {
		out[i] = DeadLetter{ID: r.ID, CreatedAt: r.CreatedAt.UTC(), Transport: r.Transport, Source: r.Source,
			Reason: r.Reason, RecordIndex: r.RecordIndex, Payload: r.Payload}
	}
	return out, nil
}
