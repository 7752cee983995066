// Package driftread serves the read side of monitoring data: the binned
// drift routes (SPC averages, PSI per time bin, custom-metric statistics),
// the binned observability metrics, and entity tags.
//
// Binning happens in Postgres with date_bin aligned to the Unix epoch. The
// bin width is the window's whole minutes divided by max_data_points (see
// binMicros). Series come back newest bin first.
package driftread

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/drift"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/profile"
	"github.com/scoutergo/server/internal/record"
)

// EntityResolver maps a profile uid to its entity id; an unknown uid gives
// an error matching entity.ErrUnknownUID (or db.ErrNotFound).
// *entity.Resolver (cached) implements it.
type EntityResolver interface {
	ID(ctx context.Context, uid string) (int32, error)
}

var _ EntityResolver = (*entity.Resolver)(nil)

// Deps are the Service's dependencies.
type Deps struct {
	// DB is the connection pool the reads run on.
	DB dbsqlc.DBTX
	// Entities resolves request uids.
	Entities EntityResolver
	// Store reads binned drift rows; nil means NewPGStore(DB). (The archive
	// reader of a later issue comes in as a second Store, and planWindow
	// decides which spans each one reads.)
	Store Store
	// Now is the clock for preset windows; nil means time.Now.
	Now func() time.Time
}

// Service answers the binned drift and observability reads.
type Service struct {
	q        *dbsqlc.Queries
	entities EntityResolver
	store    Store
	now      func() time.Time
}

// New returns a Service. DB and Entities are required.
func New(d Deps) (*Service, error) {
	if d.DB == nil {
		return nil, errors.New("driftread: DB is required")
	}
	if d.Entities == nil {
		return nil, errors.New("driftread: Entities is required")
	}
	s := &Service{q: dbsqlc.New(d.DB), entities: d.Entities, store: d.Store, now: d.Now}
	if s.store == nil {
		s.store = NewPGStore(d.DB)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Spc returns the binned SPC feature averages of req.UID. Every feature
// stored for the entity is returned, whether or not the profile names it.
func (s *Service) Spc(ctx context.Context, req profile.DriftRequest) (*SpcDriftFeatures, error) {
	id, spans, err := s.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	var pts []Point
	for _, sp := range spans {
		p, err := s.store.SpcPoints(ctx, id, sp)
		if err != nil {
			return nil, err
		}
		pts = append(pts, p...)
	}
	sortNewestFirst(pts, func(p Point) (string, time.Time) { return p.Series, p.At })
	out := &SpcDriftFeatures{Features: map[string]SpcDriftFeature{}}
	for _, p := range pts {
		f := out.Features[p.Series]
		f.CreatedAt = append(f.CreatedAt, record.NewTime(p.At))
		f.Values = append(f.Values, record.Float(p.Value))
		out.Features[p.Series] = f
	}
	return out, nil
}

// Custom returns per custom metric and bin the average with the bounds
// average ∓ sample standard deviation.
func (s *Service) Custom(ctx context.Context, req profile.DriftRequest) (*BinnedMetrics, error) {
	id, spans, err := s.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	var pts []StatPoint
	for _, sp := range spans {
		p, err := s.store.CustomStats(ctx, id, sp)
		if err != nil {
			return nil, err
		}
		pts = append(pts, p...)
	}
	sortNewestFirst(pts, func(p StatPoint) (string, time.Time) { return p.Series, p.At })
	out := &BinnedMetrics{Metrics: map[string]BinnedMetric{}}
	for _, p := range pts {
		m := out.Metrics[p.Series]
		m.Metric = p.Series
		m.CreatedAt = append(m.CreatedAt, record.NewTime(p.At))
		m.Stats = append(m.Stats, BinnedMetricStats{
			Avg:        record.Float(p.Avg),
			LowerBound: record.Float(p.Avg - p.Stddev),
			UpperBound: record.Float(p.Avg + p.Stddev),
		})
		out.Metrics[p.Series] = m
	}
	return out, nil
}

// Psi returns per feature of the stored PSI profile the PSI of every time
// bin (time bins with more than 100 counts), the window's observed bin
// proportions and their PSI. Features the profile does not know are left
// out; a profile bin without observations counts as proportion 0 and an
// observed bin the profile does not know is ignored by the PSI sums.
//
// Unlike upstream, whose "overall" proportions were those of one arbitrary
// time bin (a jsonb_object_agg over duplicate keys), bins and overall_psi
// describe the whole window: counts summed over its kept time bins.
func (s *Service) Psi(ctx context.Context, req profile.DriftRequest) (*BinnedPsiFeatureMetrics, error) {
	id, spans, err := s.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	prof, err := s.psiProfile(ctx, id, req.UID)
	if err != nil {
		return nil, err
	}
	features := make([]string, 0, len(prof.Features))
	for name := range prof.Features {
		features = append(features, name)
	}
	slices.Sort(features)

	var counts []PsiCount
	for _, sp := range spans {
		c, err := s.store.PsiCounts(ctx, id, features, sp)
		if err != nil {
			return nil, err
		}
		counts = append(counts, c...)
	}
	out := &BinnedPsiFeatureMetrics{Features: map[string]BinnedPsiMetric{}}
	for feature, bins := range groupPsi(counts) {
		ref, ok := prof.Features[feature]
		if !ok {
			continue
		}
		m, err := psiMetric(ref, bins)
		if err != nil {
			return nil, fmt.Errorf("psi of feature %s: %w", feature, err)
		}
		out.Features[feature] = m
	}
	return out, nil
}

// psiTimeBin is one time bin of one feature: counts per PSI bin and total.
type psiTimeBin struct {
	at     time.Time
	counts map[int32]int64
	total  int64
}

// groupPsi groups counts by feature and time bin (newest first). Rows of
// the same feature and time bin from several spans are added up.
func groupPsi(counts []PsiCount) map[string][]*psiTimeBin {
	type key struct {
		feature string
		at      int64
	}
	byKey := map[key]*psiTimeBin{}
	out := map[string][]*psiTimeBin{}
	for _, c := range counts {
		k := key{c.Feature, c.At.UnixMicro()}
		tb, ok := byKey[k]
		if !ok {
			tb = &psiTimeBin{at: c.At, counts: map[int32]int64{}}
			byKey[k] = tb
			out[c.Feature] = append(out[c.Feature], tb)
		}
		tb.counts[c.BinID] += c.Count
		tb.total += c.Count
	}
	for _, tbs := range out {
		slices.SortFunc(tbs, func(a, b *psiTimeBin) int { return b.at.Compare(a.at) })
	}
	return out
}

// psiMetric computes one feature's PSI per time bin and over the window.
func psiMetric(ref profile.PsiFeature, tbs []*psiTimeBin) (BinnedPsiMetric, error) {
	expected := make([]float64, len(ref.Bins))
	for i, b := range ref.Bins {
		expected[i] = b.Proportion
	}
	m := BinnedPsiMetric{Bins: map[int32]record.Float{}}
	windowCounts := map[int32]int64{}
	var windowTotal int64
	for _, tb := range tbs {
		v, err := drift.PSI(expected, observedProportions(ref, tb.counts, tb.total))
		if err != nil {
			return m, err
		}
		m.CreatedAt = append(m.CreatedAt, record.NewTime(tb.at))
		m.Psi = append(m.Psi, record.Float(v))
		for id, n := range tb.counts {
			windowCounts[id] += n
		}
		windowTotal += tb.total
	}
	overall, err := drift.PSI(expected, observedProportions(ref, windowCounts, windowTotal))
	if err != nil {
		return m, err
	}
	m.OverallPsi = record.Float(overall)
	for id, n := range windowCounts {
		m.Bins[id] = record.Float(proportion(n, windowTotal))
	}
	return m, nil
}

// observedProportions lists the observed share of each of ref's bins, in
// ref's order (0 for a bin without observations).
func observedProportions(ref profile.PsiFeature, counts map[int32]int64, total int64) []float64 {
	q := make([]float64, len(ref.Bins))
	for i, b := range ref.Bins {
		q[i] = proportion(counts[b.ID], total)
	}
	return q
}

func proportion(n, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// psiProfile loads and decodes the entity's stored PSI profile.
func (s *Service) psiProfile(ctx context.Context, entityID int32, uid string) (*profile.PsiProfile, error) {
	raw, err := s.q.GetLatestProfileJSON(ctx, entityID)
	if err != nil {
		err = db.MapError(err)
		if errors.Is(err, db.ErrNotFound) {
			return nil, fmt.Errorf("%w: uid %s has no stored profile", ErrNoProfile, uid)
		}
		return nil, fmt.Errorf("load profile of %s: %w", uid, err)
	}
	p, err := profile.ParseStored(raw)
	if err != nil {
		return nil, fmt.Errorf("decode stored profile of %s: %w", uid, err)
	}
	if p.Psi == nil {
		return nil, fmt.Errorf("%w: uid %s is a %s profile, not Psi", ErrNoProfile, uid, p.Type)
	}
	return p.Psi, nil
}

// prepare checks the caller's read permission on req.Space, validates the
// request, plans the window and resolves the entity, in that order.
func (s *Service) prepare(ctx context.Context, req profile.DriftRequest) (int32, []Span, error) {
	if err := CheckRead(ctx, req.Space); err != nil {
		return 0, nil, err
	}
	spans, err := planWindow(req, s.now())
	if err != nil {
		return 0, nil, err
	}
	id, err := s.entityID(ctx, req.UID)
	if err != nil {
		return 0, nil, err
	}
	return id, spans, nil
}

func (s *Service) entityID(ctx context.Context, uid string) (int32, error) {
	id, err := s.entities.ID(ctx, uid)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, entity.ErrUnknownUID), errors.Is(err, db.ErrNotFound):
		return 0, fmt.Errorf("%w: no entity with uid %q", ErrEntityNotFound, uid)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return 0, err
	}
	return 0, fmt.Errorf("%w: uid %q: %w", ErrEntityLookup, uid, err)
}

// CheckRead returns ErrPermissionDenied unless the caller in ctx may read
// space (read:<space>, read:all or group admin).
func CheckRead(ctx context.Context, space string) error {
	id, ok := auth.IdentityFrom(ctx)
	if !ok || !id.CanRead(space) {
		return fmt.Errorf("%w: read %s", ErrPermissionDenied, space)
	}
	return nil
}

// sortNewestFirst orders points by series, then bin start descending. It
// keeps the order of rows from one span and merges rows from several.
func sortNewestFirst[T any](pts []T, key func(T) (string, time.Time)) {
	slices.SortStableFunc(pts, func(a, b T) int {
		as, at := key(a)
		bs, bt := key(b)
		if c := cmp.Compare(as, bs); c != 0 {
			return c
		}
		return bt.Compare(at)
	})
}
