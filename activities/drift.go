package activities

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/drift"
	"github.com/scoutergo/server/internal/profile"
)

// Application error types of the drift-check activities. Both are
// permanent (workflows.NonRetryableErrorTypes lists them): the DriftCheck
// workflow records the run as failed with the error's message and completes.
const (
	// ErrTypeInvalidProfile: the profile cannot be evaluated (unparsable
	// stored JSON or schedule, bad SPC rule, PSI feature with fewer than two
	// bins, monitored feature missing from the profile, bad threshold).
	ErrTypeInvalidProfile = "InvalidProfile"
	// ErrTypeInvalidDriftInput: the window's records cannot be evaluated
	// (for example negative PSI bin counts), or the activity input is bad.
	ErrTypeInvalidDriftInput = "InvalidDriftInput"
)

// Defaults of DriftDeps.
const (
	// DefaultLateness is how long after a tick a check waits before reading
	// the window, so records stamped just before the tick that are still in
	// flight (queues, consumers, batching) are counted in it.
	DefaultLateness = 30 * time.Second
	// DefaultLookback is the window of a profile's first check when neither
	// a previous run nor a next cron tick is known.
	DefaultLookback = 24 * time.Hour
	// DefaultMaxRetries is upstream's default MAX_RETRIES.
	DefaultMaxRetries = 3
	// DefaultReadSlices is the default of DriftDeps.ReadSlices.
	DefaultReadSlices = 4
)

// Run statuses written to drift_profile.status. A check never writes
// 'processing': the row is 'pending' between runs and after a successful
// one, and 'failed' (with status_reason and last_error_at) after a run that
// could not be evaluated.
const (
	ProfileStatusPending = "pending"
	ProfileStatusFailed  = "failed"
)

// maxReasonLen caps the status_reason stored for a failed run.
const maxReasonLen = 2000

// DriftDB is what the drift-check activities need of the database; a
// *pgxpool.Pool is one.
type DriftDB interface {
	dbsqlc.DBTX
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

var _ DriftDB = (*pgxpool.Pool)(nil)

// DriftDeps are the dependencies of the drift-check activities.
type DriftDeps struct {
	// DB is the Postgres pool (required).
	DB DriftDB
	// Logger receives per-run events; nil discards them.
	Logger *slog.Logger
	// Clock returns the current time (last_error_at, updated_at); nil means
	// time.Now.
	Clock func() time.Time
	// MaxRetries is MAX_RETRIES: LoadProfile hands it to the workflow, which
	// runs the later activities with 1 + MaxRetries attempts. Negative
	// counts as 0.
	MaxRetries int
	// Lateness is how long after its tick a check waits before it reads the
	// window (capped at half the schedule interval); 0 reads at once,
	// negative is an error. NewDriftActivities does not default it: use
	// DefaultLateness.
	Lateness time.Duration
	// ReadSlices is how many time slices of an SPC window are read
	// concurrently, each on its own pool connection; 0 means
	// DefaultReadSlices.
	ReadSlices int
}

// DriftActivities are the activities of the DriftCheck workflow: load the
// profile and the run's window, compute drift over the window and store the
// alerts, and record the run's outcome on the profile.
type DriftActivities struct {
	db         DriftDB
	q          *dbsqlc.Queries
	logger     *slog.Logger
	clock      func() time.Time
	maxRetries int
	lateness   time.Duration
	slices     int
}

// NewDriftActivities checks the dependencies and fills in the defaults.
func NewDriftActivities(d DriftDeps) (*DriftActivities, error) {
	if d.DB == nil {
		return nil, errors.New("drift activities: DB is required")
	}
	if d.Lateness < 0 {
		return nil, fmt.Errorf("drift activities: lateness %s must not be negative", d.Lateness)
	}
	a := &DriftActivities{
		db:         d.DB,
		q:          dbsqlc.New(d.DB),
		logger:     d.Logger,
		clock:      d.Clock,
		maxRetries: max(d.MaxRetries, 0),
		lateness:   d.Lateness,
		slices:     d.ReadSlices,
	}
	if a.slices <= 0 {
		a.slices = DefaultReadSlices
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	return a, nil
}

// ProfileRef names a drift profile: the fields of workflows.ProfileKey
// (this package cannot import workflows).
type ProfileRef struct {
	Space     string `json:"space"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	DriftType string `json:"drift_type"`
}

// String is "<space>/<name>/<version>/<drift_type>".
func (r ProfileRef) String() string {
	return strings.Join([]string{r.Space, r.Name, r.Version, r.DriftType}, "/")
}

func (r ProfileRef) validate() error {
	if r.Space == "" || r.Name == "" || r.Version == "" || r.DriftType == "" {
		return fmt.Errorf("profile %q: space, name, version and drift_type are required", r.String())
	}
	return nil
}

func (r ProfileRef) params() dbsqlc.GetDriftCheckProfileParams {
	return dbsqlc.GetDriftCheckProfileParams{Space: r.Space, Name: r.Name, Version: r.Version, DriftType: r.DriftType}
}

// LoadProfileInput is the input of LoadProfile.
type LoadProfileInput struct {
	Profile ProfileRef `json:"profile"`
	// Tick is the run's scheduled time: the end of its window.
	Tick time.Time `json:"tick"`
	// RunID is the DriftCheck workflow id; LoadProfile hands it back.
	RunID string `json:"run_id"`
}

// LoadProfileResult describes the run's profile and window.
type LoadProfileResult struct {
	// RunID is LoadProfileInput.RunID. The workflow takes the run id it
	// stores with the alerts and names the fan-out by from here, out of its
	// history: a replay runs under a placeholder workflow id and must still
	// issue the same commands.
	RunID     string `json:"run_id"`
	Found     bool   `json:"found"`
	Active    bool   `json:"active"`
	EntityID  int32  `json:"entity_id"`
	UID       string `json:"uid"`
	DriftType string `json:"drift_type"`
	Schedule  string `json:"schedule"`
	// WindowStart and WindowEnd bound the window (WindowStart, WindowEnd].
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// SkipReason, when set, says why there is nothing to check: the profile
	// is gone or inactive, or the tick is not after the previous run.
	SkipReason string `json:"skip_reason,omitempty"`
	// Lateness is how long after WindowEnd to wait before reading the window.
	Lateness time.Duration `json:"lateness"`
	// MaxRetries is the worker's MAX_RETRIES.
	MaxRetries int `json:"max_retries"`
}

// LoadProfile reads the profile row of in.Profile and derives the run's
// window (previous tick, this tick]:
//
//   - the previous tick is drift_profile.previous_run (the registration time
//     before the first check);
//   - without one, the window is one schedule interval long (the time from
//     the tick to the schedule's next tick), or DefaultLookback when the
//     schedule never fires again;
//   - when previous_run is not before the tick (the tick was checked
//     already, or the profile was re-registered after it), nothing is
//     checked (SkipReason).
//
// A missing or inactive profile is not an error: SkipReason says so. An
// unparsable schedule of an active profile is an ErrTypeInvalidProfile
// error.
func (a *DriftActivities) LoadProfile(ctx context.Context, in *LoadProfileInput) (*LoadProfileResult, error) {
	if in == nil {
		return nil, temporal.NewNonRetryableApplicationError("load profile: input is missing", ErrTypeInvalidDriftInput, nil)
	}
	if err := in.Profile.validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError("load profile: "+err.Error(), ErrTypeInvalidDriftInput, err)
	}
	if in.Tick.IsZero() {
		return nil, temporal.NewNonRetryableApplicationError("load profile: tick is missing", ErrTypeInvalidDriftInput, nil)
	}
	tick := in.Tick.UTC()
	res := &LoadProfileResult{RunID: in.RunID, WindowEnd: tick, MaxRetries: a.maxRetries}
	row, err := a.q.GetDriftCheckProfile(ctx, in.Profile.params())
	if err != nil {
		if errors.Is(db.MapError(err), db.ErrNotFound) {
			res.SkipReason = "profile not found"
			return res, nil
		}
		return nil, fmt.Errorf("load profile %s: %w", in.Profile, err)
	}
	res.Found, res.Active = true, row.Active
	res.EntityID, res.UID, res.DriftType, res.Schedule = row.EntityID, row.UID, row.DriftType, row.Schedule
	if !row.Active {
		res.SkipReason = "profile is inactive"
		return res, nil
	}

	sched, err := cron.Parse(row.Schedule)
	if err != nil {
		return nil, invalidProfile(fmt.Errorf("%w: schedule %q: %w", drift.ErrInvalidProfile, row.Schedule, err))
	}
	interval := DefaultLookback
	if next := sched.Next(tick); !next.IsZero() {
		interval = next.Sub(tick)
	}
	res.Lateness = min(a.lateness, interval/2)
	switch {
	case row.PreviousRun == nil:
		res.WindowStart = tick.Add(-interval)
	case row.PreviousRun.Before(tick):
		res.WindowStart = row.PreviousRun.UTC()
	default:
		res.WindowStart = row.PreviousRun.UTC()
		res.SkipReason = fmt.Sprintf("previous run %s is not before the tick %s",
			row.PreviousRun.UTC().Format(time.RFC3339Nano), tick.Format(time.RFC3339Nano))
	}
	return res, nil
}

// ComputeAndStoreInput is the input of ComputeAndStore.
type ComputeAndStoreInput struct {
	EntityID  int32  `json:"entity_id"`
	DriftType string `json:"drift_type"`
	// RunID is the DriftCheck workflow id, stored with each alert.
	RunID       string    `json:"run_id"`
	WindowStart time.Time `json:"window_start"`
	// WindowEnd is the run's tick: the alerts' created_at.
	WindowEnd time.Time `json:"window_end"`
}

// ComputeAndStoreResult reports one evaluation.
type ComputeAndStoreResult struct {
	// Evaluated counts the features or metrics that had enough data.
	Evaluated int `json:"evaluated"`
	// Alerts is the number of alerts this attempt computed, Inserted the
	// number of them that were new, Stored the run's alert rows in total
	// (earlier attempts included).
	Alerts   int   `json:"alerts"`
	Inserted int64 `json:"inserted"`
	Stored   int64 `json:"stored"`
	// SkipReason, when set, says why the profile kind was not evaluated.
	SkipReason string `json:"skip_reason,omitempty"`
}

// ComputeAndStore evaluates the window of the entity's profile and stores
// its alerts (created_at = WindowEnd, run_id = RunID, a deterministic
// alert_key per alert), skipping alerts stored by an earlier attempt of the
// same run. Per drift type (drift.md §3, window bounded above by the tick):
//
//   - SPC: per monitored feature (all features when features_to_monitor is
//     empty) the window's values newest first, truncated to the shortest
//     feature's count; zone rules and trend as drift.EvaluateSPC.
//   - PSI: per monitored feature the window's summed bin counts; features
//     with no more than 10 values per profile bin are skipped; threshold
//     ChiSquare, Normal or Fixed.
//   - Custom: per profile metric the window's average, against its
//     condition.
//   - GenAI: not evaluated yet (no stored evaluations): SkipReason.
//
// A profile that cannot be evaluated is an ErrTypeInvalidProfile error,
// records that cannot be an ErrTypeInvalidDriftInput error; both are
// non-retryable. Database errors are returned as they are (retried). It
// records a heartbeat every HeartbeatInterval while it runs.
func (a *DriftActivities) ComputeAndStore(ctx context.Context, in *ComputeAndStoreInput) (*ComputeAndStoreResult, error) {
	defer heartbeatWhile(ctx, HeartbeatInterval)()
	if err := in.validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError("compute drift: "+err.Error(), ErrTypeInvalidDriftInput, err)
	}
	row, err := a.q.GetDriftProfileByEntityID(ctx, in.EntityID)
	if err != nil {
		if err = db.MapError(err); errors.Is(err, db.ErrNotFound) {
			return &ComputeAndStoreResult{SkipReason: "profile not found"}, nil
		}
		return nil, fmt.Errorf("load profile of entity %d: %w", in.EntityID, err)
	}
	p, err := profile.ParseStored(row.Profile)
	if err != nil {
		return nil, invalidProfile(fmt.Errorf("%w: stored profile %s: %w", drift.ErrInvalidProfile, row.UID, err))
	}
	if !strings.EqualFold(string(p.Type), in.DriftType) {
		return nil, invalidProfile(fmt.Errorf("%w: stored profile %s is %s, the run checks %s",
			drift.ErrInvalidProfile, row.UID, p.Type, in.DriftType))
	}

	w := window{entityID: in.EntityID, start: in.WindowStart.UTC(), end: in.WindowEnd.UTC()}
	res := &ComputeAndStoreResult{}
	var alerts []drift.AlertMap
	switch p.Type {
	case profile.Spc:
		alerts, res.Evaluated, err = a.computeSPC(ctx, w, p.Spc)
	case profile.Psi:
		alerts, res.Evaluated, err = a.computePSI(ctx, w, p.Psi)
	case profile.Custom:
		alerts, res.Evaluated, err = a.computeCustom(ctx, w, p.Custom)
	default:
		res.SkipReason = fmt.Sprintf("%s profiles are not checked yet: GenAI evaluations are not stored", p.Type)
	}
	if err != nil {
		if errors.Is(err, drift.ErrInvalidProfile) {
			return nil, invalidProfile(err)
		}
		if errors.Is(err, drift.ErrInvalidInput) {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidDriftInput, err)
		}
		return nil, err
	}

	res.Alerts = len(alerts)
	if res.Inserted, err = a.storeAlerts(ctx, w, in.RunID, alerts); err != nil {
		return nil, err
	}
	if res.Stored, err = a.q.CountRunAlerts(ctx, dbsqlc.CountRunAlertsParams{EntityID: w.entityID, CreatedAt: w.end}); err != nil {
		return nil, fmt.Errorf("count alerts of run %s: %w", in.RunID, err)
	}
	a.logger.InfoContext(ctx, "drift computed", "run_id", in.RunID, "entity_id", in.EntityID,
		"drift_type", string(p.Type), "window_start", w.start, "window_end", w.end,
		"evaluated", res.Evaluated, "alerts", res.Alerts, "inserted", res.Inserted)
	return res, nil
}

func (in *ComputeAndStoreInput) validate() error {
	switch {
	case in == nil:
		return errors.New("input is missing")
	case in.EntityID <= 0:
		return fmt.Errorf("entity id %d is not positive", in.EntityID)
	case in.RunID == "":
		return errors.New("run id is missing")
	case in.WindowEnd.IsZero() || !in.WindowStart.Before(in.WindowEnd):
		return fmt.Errorf("window (%s, %s] is empty", in.WindowStart.Format(time.RFC3339Nano), in.WindowEnd.Format(time.RFC3339Nano))
	}
	return nil
}

// window is (start, end] of one entity's records.
type window struct {
	entityID   int32
	start, end time.Time
}

func (a *DriftActivities) computeSPC(ctx context.Context, w window, sp *profile.SpcProfile) ([]drift.AlertMap, int, error) {
	series, err := a.readSPC(ctx, w, nonNil(sp.FeaturesToMonitor))
	if err != nil {
		return nil, 0, err
	}
	prof := drift.SPCProfile{
		Features:          make(map[string]drift.SPCLimits, len(sp.Features)),
		Rule:              sp.Rule.Raw,
		FeaturesToMonitor: sp.FeaturesToMonitor,
	}
	for name, f := range sp.Features {
		prof.Features[name] = drift.SPCLimits{
			Center: f.Center, OneUCL: f.OneUCL, OneLCL: f.OneLCL,
			TwoUCL: f.TwoUCL, TwoLCL: f.TwoLCL, ThreeUCL: f.ThreeUCL, ThreeLCL: f.ThreeLCL,
		}
	}
	for _, z := range sp.ZonesToMonitor {
		prof.ZonesToMonitor = append(prof.ZonesToMonitor, drift.Zone(z))
	}
	alerts, err := drift.EvaluateSPCSeries(prof, series)
	if err != nil {
		return nil, 0, err
	}
	out := make([]drift.AlertMap, len(alerts))
	for i := range alerts {
		out[i] = drift.AlertMap{Spc: &alerts[i]}
	}
	return out, len(series), nil
}

// read runs fn in a read-only transaction that plans every statement for
// its actual parameters. pgx prepares and caches statements per connection,
// and after five executions Postgres may switch a prepared statement to a
// generic plan; for the window aggregates that plan guesses a tiny time
// range and walks a million rows through an index (measured: 1.6 s instead
// of 0.2 s). SET LOCAL is plain SQL outside sqlc because it is a session
// setting, not a query, and it ends with the transaction.
func (a *DriftActivities) read(ctx context.Context, fn func(q *dbsqlc.Queries) error) error {
	return pgx.BeginTxFunc(ctx, a.db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
			return fmt.Errorf("set plan_cache_mode: %w", err)
		}
		return fn(dbsqlc.New(tx))
	})
}

// readSPC reads the window's SPC series, newest first per feature. The
// window is cut into a.slices consecutive time slices read concurrently (on
// separate pool connections): Postgres 15 cannot parallelise array_agg
// itself, and a large window is dominated by scanning it.
func (a *DriftActivities) readSPC(ctx context.Context, w window, features []string) (map[string][]float64, error) {
	bounds := w.slices(a.slices)
	parts := make([][]dbsqlc.ListSpcWindowSeriesRow, len(bounds)-1)
	g, gctx := errgroup.WithContext(ctx)
	for i := range parts {
		g.Go(func() error {
			err := a.read(gctx, func(q *dbsqlc.Queries) error {
				var err error
				parts[i], err = q.ListSpcWindowSeries(gctx, dbsqlc.ListSpcWindowSeriesParams{
					EntityID: w.entityID, WindowStart: bounds[i], WindowEnd: bounds[i+1], Features: features,
				})
				return err
			})
			if err != nil {
				return fmt.Errorf("read spc window (%s, %s]: %w",
					bounds[i].Format(time.RFC3339Nano), bounds[i+1].Format(time.RFC3339Nano), err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Order each slice's series newest first, then chain the slices from
	// the newest to the oldest.
	series := make(map[string][]float64)
	for i := len(parts) - 1; i >= 0; i-- {
		for _, r := range parts[i] {
			at, values, err := unpackSeries(r.CreatedAtPacked, r.ValuePacked)
			if err != nil {
				return nil, fmt.Errorf("spc feature %q: %w", r.Feature, err)
			}
			series[r.Feature] = append(series[r.Feature], newestFirst(at, values)...)
		}
	}
	return series, nil
}

// unpackSeries decodes ListSpcWindowSeries' packed columns: big-endian
// int64 timestamps (any fixed epoch will do for ordering) and big-endian
// float64 values, 8 bytes each.
func unpackSeries(at, values []byte) ([]int64, []float64, error) {
	if len(at)%8 != 0 || len(at) != len(values) {
		return nil, nil, fmt.Errorf("packed series: %d timestamp bytes and %d value bytes, want equal multiples of 8", len(at), len(values))
	}
	n := len(at) / 8
	ts, vs := make([]int64, n), make([]float64, n)
	for i := range n {
		ts[i] = int64(binary.BigEndian.Uint64(at[8*i:]))
		vs[i] = math.Float64frombits(binary.BigEndian.Uint64(values[8*i:]))
	}
	return ts, vs, nil
}

// slices cuts the window into n consecutive parts of equal length and
// returns their n+1 bounds (start, ..., end); parts are (b[i], b[i+1]].
func (w window) slices(n int) []time.Time {
	n = max(n, 1)
	step := w.end.Sub(w.start) / time.Duration(n)
	if step < time.Microsecond {
		n, step = 1, w.end.Sub(w.start)
	}
	b := make([]time.Time, n+1)
	for i := range n {
		b[i] = w.start.Add(time.Duration(i) * step).Truncate(time.Microsecond)
	}
	b[0], b[n] = w.start, w.end
	return b
}

// newestFirst orders one SPC feature's values newest first, ties by value
// descending so the order is the same on every attempt. The query returns
// them unordered but usually in insertion order, which is time order: then
// a reversal is enough.
func newestFirst(at []int64, values []float64) []float64 {
	newer := func(i, j int) int { // i before j
		return cmp.Or(cmp.Compare(at[j], at[i]), cmp.Compare(values[j], values[i]))
	}
	ascending, descending := true, true
	for i := 1; i < len(at) && (ascending || descending); i++ {
		switch c := newer(i-1, i); {
		case c > 0:
			descending = false
		case c < 0:
			ascending = false
		}
	}
	out := make([]float64, len(values))
	switch {
	case descending:
		copy(out, values)
	case ascending:
		for i, v := range values {
			out[len(values)-1-i] = v
		}
	default:
		idx := make([]int, len(values))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, newer)
		for i, j := range idx {
			out[i] = values[j]
		}
	}
	return out
}

func (a *DriftActivities) computePSI(ctx context.Context, w window, pp *profile.PsiProfile) ([]drift.AlertMap, int, error) {
	prof := drift.PSIProfile{
		Features:          make(map[string][]drift.PSIBin, len(pp.Features)),
		FeaturesToMonitor: pp.FeaturesToMonitor,
		Threshold: drift.PSIThreshold{
			Kind: drift.PSIThresholdKind(pp.Threshold.Kind), Alpha: pp.Threshold.Alpha, Value: pp.Threshold.Value,
		},
	}
	for name, f := range pp.Features {
		bins := make([]drift.PSIBin, len(f.Bins))
		for i, b := range f.Bins {
			bins[i] = drift.PSIBin{ID: b.ID, Proportion: b.Proportion}
		}
		prof.Features[name] = bins
	}
	if len(pp.FeaturesToMonitor) == 0 {
		return nil, 0, nil // upstream: nothing monitored, no alerts
	}
	var rows []dbsqlc.ListPsiWindowCountsRow
	err := a.read(ctx, func(q *dbsqlc.Queries) error {
		var err error
		rows, err = q.ListPsiWindowCounts(ctx, dbsqlc.ListPsiWindowCountsParams{
			EntityID: w.entityID, WindowStart: w.start, WindowEnd: w.end, Features: pp.FeaturesToMonitor,
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read psi window: %w", err)
	}
	counts := make(map[string]map[int32]int64)
	for _, r := range rows {
		if counts[r.Feature] == nil {
			counts[r.Feature] = make(map[int32]int64)
		}
		counts[r.Feature][r.BinID] = r.BinTotal
	}
	res, err := drift.EvaluatePSI(prof, counts)
	if err != nil {
		return nil, 0, err
	}
	out := make([]drift.AlertMap, len(res.Alerts))
	for i := range res.Alerts {
		out[i] = drift.AlertMap{Psi: &res.Alerts[i]}
	}
	return out, len(res.Features), nil
}

func (a *DriftActivities) computeCustom(ctx context.Context, w window, cp *profile.CustomProfile) ([]drift.AlertMap, int, error) {
	metrics := make([]string, 0, len(cp.Metrics))
	for name := range cp.Metrics {
		metrics = append(metrics, name)
	}
	slices.Sort(metrics)
	var rows []dbsqlc.ListCustomWindowAveragesRow
	err := a.read(ctx, func(q *dbsqlc.Queries) error {
		var err error
		rows, err = q.ListCustomWindowAverages(ctx, dbsqlc.ListCustomWindowAveragesParams{
			EntityID: w.entityID, WindowStart: w.start, WindowEnd: w.end, Metrics: metrics,
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read custom window: %w", err)
	}
	observed := make(map[string]float64, len(rows))
	for _, r := range rows {
		observed[r.Metric] = r.AvgValue
	}
	prof := drift.CustomProfile{Metrics: cp.Metrics}
	if cp.AlertConditions != nil {
		prof.Conditions = make(map[string]drift.Condition, len(cp.AlertConditions))
		for name, c := range cp.AlertConditions {
			prof.Conditions[name] = drift.Condition{
				BaselineValue: c.BaselineValue, AlertThreshold: drift.AlertThreshold(c.AlertThreshold), Delta: c.Delta,
			}
		}
	}
	alerts, err := drift.EvaluateCustom(prof, observed)
	if err != nil {
		return nil, 0, err
	}
	out := make([]drift.AlertMap, len(alerts))
	for i := range alerts {
		out[i] = drift.AlertMap{Custom: &alerts[i]}
	}
	return out, len(observed), nil
}

// AlertKey names an alert within its run, so that storing the run's alerts
// twice stores them once: "spc/<feature>/<kind>/<zone>", "psi/<feature>",
// "custom/<metric>" or "genai/<metric>".
func AlertKey(m drift.AlertMap) string {
	switch {
	case m.Spc != nil:
		return "spc/" + m.Spc.Feature + "/" + string(m.Spc.Kind) + "/" + string(m.Spc.Zone)
	case m.Psi != nil:
		return "psi/" + m.Psi.Feature
	case m.Custom != nil:
		return "custom/" + m.Custom.MetricName
	case m.GenAI != nil:
		return "genai/" + m.GenAI.MetricName
	}
	return "none"
}

// storeAlerts inserts the run's alerts in one statement and returns how
// many were new.
func (a *DriftActivities) storeAlerts(ctx context.Context, w window, runID string, alerts []drift.AlertMap) (int64, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	p := dbsqlc.InsertDriftAlertsParams{
		CreatedAt: w.end, EntityID: w.entityID, RunID: runID,
		EntityNames: make([]string, len(alerts)), Alerts: make([]string, len(alerts)), AlertKeys: make([]string, len(alerts)),
	}
	for i, m := range alerts {
		b, err := json.Marshal(m)
		if err != nil {
			return 0, fmt.Errorf("encode alert %s: %w", AlertKey(m), err)
		}
		p.EntityNames[i], p.Alerts[i], p.AlertKeys[i] = m.EntityName(), string(b), AlertKey(m)
	}
	n, err := a.q.InsertDriftAlerts(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("store %d alerts of run %s: %w", len(alerts), runID, err)
	}
	return n, nil
}

// RecordRunInput is the input of RecordRun.
type RecordRunInput struct {
	Profile ProfileRef `json:"profile"`
	Tick    time.Time  `json:"tick"`
	// Failed marks a run that could not be evaluated; Reason says why.
	Failed bool   `json:"failed"`
	Reason string `json:"reason,omitempty"`
	// RetryWindow keeps previous_run where it is, so that the next tick's
	// window also covers this one (a run that failed for a transient
	// reason). Otherwise previous_run moves to Tick.
	RetryWindow bool `json:"retry_window,omitempty"`
}

// RecordRunResult reports what RecordRun wrote.
type RecordRunResult struct {
	// Updated counts the profile rows written (0: the profile is gone).
	Updated int64      `json:"updated"`
	NextRun *time.Time `json:"next_run,omitempty"`
}

// RecordRun writes a run's outcome on the profile rows of in.Profile:
// previous_run = Tick (unless RetryWindow; never moved backwards), next_run
// = the schedule's first tick after Tick (NULL when the schedule does not
// parse), and status 'pending' with status_reason and last_error_at cleared,
// or 'failed' with Reason and the current time. Writing the same outcome
// twice gives the same row.
func (a *DriftActivities) RecordRun(ctx context.Context, in *RecordRunInput) (*RecordRunResult, error) {
	if in == nil || in.Tick.IsZero() {
		return nil, temporal.NewNonRetryableApplicationError("record run: input or tick is missing", ErrTypeInvalidDriftInput, nil)
	}
	if err := in.Profile.validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError("record run: "+err.Error(), ErrTypeInvalidDriftInput, err)
	}
	tick := in.Tick.UTC()
	row, err := a.q.GetDriftCheckProfile(ctx, in.Profile.params())
	if err != nil {
		if errors.Is(db.MapError(err), db.ErrNotFound) {
			return &RecordRunResult{}, nil
		}
		return nil, fmt.Errorf("record run of %s: %w", in.Profile, err)
	}
	now := a.clock().UTC()
	p := dbsqlc.RecordDriftRunParams{
		Advance: !in.RetryWindow, Tick: tick, Status: ProfileStatusPending, UpdatedAt: now, EntityID: row.EntityID,
	}
	if sched, err := cron.Parse(row.Schedule); err == nil {
		if next := sched.Next(tick); !next.IsZero() {
			p.NextRun = &next
		}
	}
	if in.Failed {
		reason := truncate(in.Reason, maxReasonLen)
		if reason == "" {
			reason = "drift check failed"
		}
		p.Status, p.StatusReason, p.LastErrorAt = ProfileStatusFailed, &reason, &now
	}
	n, err := a.q.RecordDriftRun(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("record run of %s: %w", in.Profile, err)
	}
	a.logger.InfoContext(ctx, "drift run recorded", "space", in.Profile.Space, "name", in.Profile.Name,
		"version", in.Profile.Version, "drift_type", in.Profile.DriftType, "status", p.Status, "tick", tick)
	return &RecordRunResult{Updated: n, NextRun: p.NextRun}, nil
}

func invalidProfile(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidProfile, err)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
