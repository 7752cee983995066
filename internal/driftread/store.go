package driftread

import (
	"context"
	"fmt"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// Store reads binned drift rows of one entity over one window span. The
// aggregation happens in the store (date_bin in Postgres); rows come back
// grouped by series, newest bin first. PGStore implements it; the archive
// reader of a later issue will implement it too, and Service merges the rows
// of all spans.
type Store interface {
	SpcPoints(ctx context.Context, entityID int32, s Span) ([]Point, error)
	PsiCounts(ctx context.Context, entityID int32, features []string, s Span) ([]PsiCount, error)
	CustomStats(ctx context.Context, entityID int32, s Span) ([]StatPoint, error)
}

// minPsiTotal is upstream's minimum sample per (feature, time bin): time
// bins whose total count is not above it are left out of the PSI read.
const minPsiTotal = 100

// PGStore is the Postgres Store.
type PGStore struct {
	q *dbsqlc.Queries
}

var _ Store = (*PGStore)(nil)

// NewPGStore returns a Store over conn (a pool, connection or transaction).
func NewPGStore(conn dbsqlc.DBTX) *PGStore { return &PGStore{q: dbsqlc.New(conn)} }

// SpcPoints returns per feature and bin the average value.
func (p *PGStore) SpcPoints(ctx context.Context, entityID int32, s Span) ([]Point, error) {
	rows, err := p.q.ListBinnedSpcValues(ctx, dbsqlc.ListBinnedSpcValuesParams{
		BinUs: s.BinMicros, EntityID: entityID, StartAt: s.Start, EndAt: s.End,
	})
	if err != nil {
		return nil, fmt.Errorf("list binned spc values: %w", db.MapError(err))
	}
	out := make([]Point, len(rows))
	for i, r := range rows {
		out[i] = Point{Series: r.Feature, At: r.BinStart.UTC(), Value: r.Value}
	}
	return out, nil
}

// PsiCounts returns per feature, time bin and PSI bin the summed count, for
// time bins with more than minPsiTotal counts.
func (p *PGStore) PsiCounts(ctx context.Context, entityID int32, features []string, s Span) ([]PsiCount, error) {
	rows, err := p.q.ListBinnedPsiCounts(ctx, dbsqlc.ListBinnedPsiCountsParams{
		MinTotal: minPsiTotal, BinUs: s.BinMicros, EntityID: entityID,
		Features: features, StartAt: s.Start, EndAt: s.End,
	})
	if err != nil {
		return nil, fmt.Errorf("list binned psi counts: %w", db.MapError(err))
	}
	out := make([]PsiCount, len(rows))
	for i, r := range rows {
		out[i] = PsiCount{Feature: r.Feature, At: r.BinStart.UTC(), BinID: r.BinID, Count: r.BinTotal}
	}
	return out, nil
}

// CustomStats returns per metric and bin the average and sample stddev.
func (p *PGStore) CustomStats(ctx context.Context, entityID int32, s Span) ([]StatPoint, error) {
	rows, err := p.q.ListBinnedCustomStats(ctx, dbsqlc.ListBinnedCustomStatsParams{
		BinUs: s.BinMicros, EntityID: entityID, StartAt: s.Start, EndAt: s.End,
	})
	if err != nil {
		return nil, fmt.Errorf("list binned custom stats: %w", db.MapError(err))
	}
	out := make([]StatPoint, len(rows))
	for i, r := range rows {
		out[i] = StatPoint{Series: r.Metric, At: r.BinStart.UTC(), Avg: r.Avg, Stddev: r.Stddev}
	}
	return out, nil
}
