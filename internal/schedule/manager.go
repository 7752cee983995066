// Package schedule keeps one Temporal Schedule per drift profile in line with
// the drift_profile table, which stays the source of truth.
//
// Each profile key (space, name, version, drift type) has the schedule
// "drift:<space>/<name>/<version>/<drift_type>" (workflows.DriftScheduleID).
// Its calendar spec is the profile's cron string translated exactly by
// internal/cron, in UTC. Each tick starts a DriftCheck workflow with
// DriftCheckInput{Profile: key} and the workflow id
// "drift:<space>/<name>/<version>/<drift_type>-<tick time>" (Temporal appends
// the time). The schedule and every run it starts carry the Keyword search
// attributes ScouterSpace, ScouterName, ScouterVersion and ScouterDriftType,
// so the UI and `temporal schedule list` / `temporal workflow list` can filter
// by them.
//
// Policies: overlap SKIP (a tick that finds the previous run still going is
// skipped and counted, never queued) and a catch-up window of one minute:
// when the Temporal server could not act on a tick for longer than that
// (server outage), the missed ticks are dropped rather than replayed one
// after the other: the next run's window starts at the last evaluated tick
// (drift_profile.previous_run), so no data is skipped. A worker outage cannot build a backlog either: the
// first tick's run waits on the task queue and, with SKIP, every later tick
// is skipped until it ends. Each run has an execution timeout (one hour by
// default), so a run that can never finish does not block its schedule for
// ever.
//
// An inactive profile keeps its schedule, paused, with a note saying why:
// the UI still lists it with its history, and re-activating just un-pauses
// it. A schedule whose key has no drift_profile row any more is deleted.
//
// Three paths converge on the same state: the server's Syncer after every
// committed profile change (best effort, failures only logged), the
// ReconcileSchedules workflow at worker start-up, and the same workflow on
// the "reconcile-schedules" schedule every five minutes, which repairs
// whatever the first two missed (Temporal down, a crash between the database
// commit and the Temporal call).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/workflows"
)

// IDPrefix starts the id of every drift schedule; Reconcile owns the
// schedules with this prefix that its task queue created (MemoTaskQueue),
// and those without that memo entry (made by hand, or by a version before
// it).
const IDPrefix = "drift:"

// Defaults for the zero Options.
const (
	DefaultCatchupWindow = time.Minute
	DefaultRunTimeout    = time.Hour
	DefaultOrphanGrace   = 2 * time.Minute
	DefaultCallTimeout   = 30 * time.Second
)

// RunTimeoutFor is the execution timeout of a drift-check run for
// MAX_RETRIES: room for every attempt of the compute activity (its
// start-to-close timeout plus the longest retry wait), and never under
// DefaultRunTimeout.
func RunTimeoutFor(maxRetries int) time.Duration {
	const perAttempt = 10*time.Minute + time.Minute
	return max(DefaultRunTimeout, time.Duration(1+max(maxRetries, 0))*perAttempt)
}

// Errors of Ensure for profiles that cannot become a schedule.
var (
	ErrInvalidProfile  = errors.New("invalid profile")
	ErrInvalidSchedule = errors.New("invalid schedule")
)

// Options configure a Manager.
type Options struct {
	// Client is the Temporal client (a lazy one is fine). Required.
	Client client.Client
	// TaskQueue is where the scheduled workflows run. Required.
	TaskQueue string
	// CatchupWindow is how late a missed tick may still start
	// (DefaultCatchupWindow when not positive).
	CatchupWindow time.Duration
	// RunTimeout is the execution timeout of each drift-check run
	// (DefaultRunTimeout when not positive).
	RunTimeout time.Duration
	// OrphanGrace protects schedules created or changed this recently from
	// Reconcile: orphans are not deleted and differing schedules are not
	// updated (DefaultOrphanGrace when zero; a negative value turns the
	// grace off, for tests).
	OrphanGrace time.Duration
	// CallTimeout bounds each Temporal call of Reconcile
	// (DefaultCallTimeout when not positive).
	CallTimeout time.Duration
	// Logger receives what changed. Nil discards.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Manager creates, updates, pauses and deletes the drift schedules. It is
// safe for concurrent use.
type Manager struct {
	client      client.Client
	schedules   client.ScheduleClient
	taskQueue   string
	catchup     time.Duration
	runTimeout  time.Duration
	orphanGrace time.Duration
	callTimeout time.Duration
	logger      *slog.Logger
	now         func() time.Time
}

// NewManager builds a Manager. It makes no call to Temporal.
func NewManager(opts Options) (*Manager, error) {
	if opts.Client == nil {
		return nil, errors.New("new schedule manager: temporal client is required")
	}
	if strings.TrimSpace(opts.TaskQueue) == "" {
		return nil, errors.New("new schedule manager: task queue is required")
	}
	m := &Manager{
		client:      opts.Client,
		schedules:   opts.Client.ScheduleClient(),
		taskQueue:   opts.TaskQueue,
		catchup:     opts.CatchupWindow,
		runTimeout:  opts.RunTimeout,
		orphanGrace: opts.OrphanGrace,
		callTimeout: opts.CallTimeout,
		logger:      opts.Logger,
		now:         opts.Now,
	}
	if m.catchup <= 0 {
		m.catchup = DefaultCatchupWindow
	}
	if m.runTimeout <= 0 {
		m.runTimeout = DefaultRunTimeout
	}
	if m.orphanGrace == 0 {
		m.orphanGrace = DefaultOrphanGrace
	}
	if m.callTimeout <= 0 {
		m.callTimeout = DefaultCallTimeout
	}
	if m.logger == nil {
		m.logger = logging.Discard()
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

// Profile is what a drift schedule is built from: one drift_profile row.
type Profile struct {
	Key workflows.ProfileKey
	// UID is the profile row's uid (it changes when the key is
	// re-registered); runs record it in their memo.
	UID string
	// Schedule is the upstream cron string (internal/cron dialect).
	Schedule string
	// Active: false keeps the schedule, paused.
	Active bool
}

// Outcome says what Ensure did.
type Outcome string

// Outcomes of Ensure.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	// Deferred: Reconcile left a differing schedule alone because someone
	// changed it after the pass's profiles may have been read.
	Deferred Outcome = "deferred"
)

// Ensure makes the profile's schedule exist exactly as the profile says:
// it creates it, or, when it exists, updates it only if something differs
// from what Temporal describes (spec, paused state and note, action, search
// attributes, policies). Calling it again with the same profile changes
// nothing. A profile with an empty key field is ErrInvalidProfile and an
// unparsable cron string ErrInvalidSchedule; neither calls Temporal.
func (m *Manager) Ensure(ctx context.Context, p Profile) (Outcome, error) {
	t, err := m.driftTarget(p)
	if err != nil {
		return "", err
	}
	return m.ensure(ctx, t, false, time.Time{})
}

// Delete removes the key's schedule. A schedule that does not exist is not
// an error. Runs already started keep running.
func (m *Manager) Delete(ctx context.Context, key workflows.ProfileKey) error {
	return m.delete(ctx, workflows.DriftScheduleID(key))
}

func (m *Manager) delete(ctx context.Context, id string) error {
	err := m.schedules.GetHandle(ctx, id).Delete(ctx)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	if err == nil {
		m.logger.InfoContext(ctx, "drift schedule deleted", slog.String("schedule_id", id))
	}
	return nil
}

// ensure creates t's schedule, or updates it when it differs. exists says
// the schedule is believed to exist (listed), which tries the update first.
// A schedule changed after changedSince (when not zero) is left as it is
// (Deferred): t may come from an older read of the profiles than that change.
func (m *Manager) ensure(ctx context.Context, t *target, exists bool, changedSince time.Time) (Outcome, error) {
	if !exists {
		created, err := m.create(ctx, t)
		if err != nil {
			return "", err
		}
		if created {
			return Created, nil
		}
	}
	out, err := m.update(ctx, t, changedSince)
	if exists && isNotFound(err) {
		// Listed but gone meanwhile (the list is eventually consistent).
		return m.ensure(ctx, t, false, changedSince)
	}
	return out, err
}

// create creates t's schedule; false with a nil error means it exists.
func (m *Manager) create(ctx context.Context, t *target) (bool, error) {
	_, err := m.schedules.Create(ctx, t.createOptions())
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create schedule %s: %w", t.id, err)
	}
	m.logger.InfoContext(ctx, "schedule created", slog.String("schedule_id", t.id), slog.Bool("paused", t.paused))
	return true, nil
}

// update replaces t's schedule when what Temporal describes differs, unless
// it changed after changedSince (see ensure).
func (m *Manager) update(ctx context.Context, t *target, changedSince time.Time) (Outcome, error) {
	var diffs []string
	deferred := false
	err := m.schedules.GetHandle(ctx, t.id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			diffs = t.diff(&in.Description)
			if len(diffs) == 0 {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			if !changedSince.IsZero() && lastChange(in.Description.Info).After(changedSince) {
				deferred = true
				return nil, temporal.ErrSkipScheduleUpdate
			}
			return t.update(), nil
		},
	})
	if err != nil {
		return "", fmt.Errorf("update schedule %s: %w", t.id, err)
	}
	if len(diffs) == 0 {
		return Unchanged, nil
	}
	if deferred {
		m.logger.InfoContext(ctx, "drift schedule changed recently, left for the next reconcile",
			slog.String("schedule_id", t.id), slog.Any("differs", diffs))
		return Deferred, nil
	}
	m.logger.InfoContext(ctx, "schedule updated", slog.String("schedule_id", t.id),
		slog.Any("changed", diffs), slog.Bool("paused", t.paused))
	return Updated, nil
}

// Report is what Reconcile did; the lists hold schedule ids, in id order.
type Report struct {
	Profiles  int
	Created   []string
	Updated   []string
	Unchanged []string
	// Deleted are orphans: drift schedules whose key has no profile.
	Deleted []string
	// Deferred are schedules created or changed within OrphanGrace of the
	// pass, which it leaves alone: an orphan may belong to a profile
	// registered after the profiles were read (a later pass deletes it if
	// still orphaned), and a schedule that differs from its profile may have
	// been changed by the server's syncer from a newer read of that profile
	// (a later pass repairs it if it still differs).
	Deferred []string
	// Invalid are "<id>: <reason>" for profiles that cannot become a
	// schedule; their existing schedules are left as they are.
	Invalid []string
	// Failed are "<id>: <error>" for Temporal calls that failed.
	Failed []string
}

// ReconcileOption tunes one Reconcile call.
type ReconcileOption func(*reconcileOptions)

type reconcileOptions struct {
	progress func(done, total int)
}

// WithProgress has Reconcile call fn after each profile and orphan
// (done of total), for heartbeats.
func WithProgress(fn func(done, total int)) ReconcileOption {
	return func(o *reconcileOptions) { o.progress = fn }
}

// Reconcile makes the drift schedules match profiles, which must be every
// profile (active or not) read just before the call: it ensures each
// profile's schedule and deletes every "drift:" schedule whose key is not
// among them. When a key appears more than once, the first profile wins
// (pass them newest first). A failure on one schedule does not stop the
// others; the returned error joins the failed Temporal calls (the report
// lists them too). Listing the schedules failing is an error with an
// empty report.
//
// Profiles may be older than the schedules: a schedule whose profile was
// registered after profiles were read could look like an orphan, and one the
// server's syncer updated meanwhile (a profile deactivated, say) would be
// reverted. Schedules changed within OrphanGrace are therefore left alone and
// reported as Deferred.
func (m *Manager) Reconcile(ctx context.Context, profiles []Profile, opts ...ReconcileOption) (Report, error) {
	var o reconcileOptions
	for _, fn := range opts {
		fn(&o)
	}
	start := m.now()
	var rep Report
	listed, err := m.listDriftSchedules(ctx)
	if err != nil {
		return rep, err
	}

	seen := make(map[string]bool, len(profiles))
	targets := make([]*target, 0, len(profiles))
	for _, p := range profiles {
		id := workflows.DriftScheduleID(p.Key)
		if seen[id] {
			continue
		}
		seen[id] = true
		t, err := m.driftTarget(p)
		if err != nil {
			rep.Invalid = append(rep.Invalid, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		targets = append(targets, t)
	}
	rep.Profiles = len(seen)
	var orphans []string
	for id := range listed {
		if !seen[id] {
			orphans = append(orphans, id)
		}
	}
	slices.SortFunc(targets, func(a, b *target) int { return strings.Compare(a.id, b.id) })
	slices.Sort(orphans)

	total, done := len(targets)+len(orphans), 0
	step := func() {
		done++
		if o.progress != nil {
			o.progress(done, total)
		}
	}
	var errs []error
	fail := func(id string, err error) {
		rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", id, err))
		errs = append(errs, err)
	}
	cutoff := start.Add(-m.orphanGrace)
	var changedSince time.Time // zero: no grace, every difference is repaired
	if m.orphanGrace > 0 {
		changedSince = cutoff
	}
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("reconcile drift schedules: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, m.callTimeout)
		out, err := m.ensure(cctx, t, listed[t.id], changedSince)
		cancel()
		switch {
		case err != nil:
			fail(t.id, err)
		case out == Created:
			rep.Created = append(rep.Created, t.id)
		case out == Updated:
			rep.Updated = append(rep.Updated, t.id)
		case out == Deferred:
			rep.Deferred = append(rep.Deferred, t.id)
		default:
			rep.Unchanged = append(rep.Unchanged, t.id)
		}
		step()
	}
	for _, id := range orphans {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("reconcile drift schedules: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, m.callTimeout)
		deleted, err := m.deleteOrphan(cctx, id, cutoff)
		cancel()
		switch {
		case err != nil:
			fail(id, err)
		case deleted:
			rep.Deleted = append(rep.Deleted, id)
		default:
			rep.Deferred = append(rep.Deferred, id)
		}
		step()
	}
	slices.Sort(rep.Invalid)
	slices.Sort(rep.Deferred)
	if len(errs) > 0 {
		return rep, fmt.Errorf("reconcile drift schedules: %d of %d failed: %w", len(errs), total, errors.Join(errs...))
	}
	return rep, nil
}

// deleteOrphan deletes schedule id unless it was created or changed after
// cutoff. A schedule gone meanwhile counts as deleted.
func (m *Manager) deleteOrphan(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	if m.orphanGrace > 0 {
		desc, err := m.schedules.GetHandle(ctx, id).Describe(ctx)
		if isNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("describe orphan schedule %s: %w", id, err)
		}
		if lastChange(desc.Info).After(cutoff) {
			m.logger.InfoContext(ctx, "orphan drift schedule changed recently, left for the next reconcile",
				slog.String("schedule_id", id))
			return false, nil
		}
	}
	if err := m.delete(ctx, id); err != nil {
		return false, err
	}
	return true, nil
}

// lastChange is when the schedule was last created or updated (Temporal
// reports the epoch for a schedule never updated).
func lastChange(info client.ScheduleInfo) time.Time {
	if info.LastUpdateAt.After(info.CreatedAt) {
		return info.LastUpdateAt
	}
	return info.CreatedAt
}

// listDriftSchedules returns the ids of the schedules Reconcile owns: those
// starting with IDPrefix, unless their memo names another task queue (a
// second deployment sharing the namespace, whose schedules must not be
// deleted as orphans of this one). Temporal's list is eventually
// consistent: a schedule created a moment ago may be missing (ensure then
// creates-or-updates it anyway) and one deleted a moment ago may still
// appear (deleting it again is fine).
func (m *Manager) listDriftSchedules(ctx context.Context) (map[string]bool, error) {
	it, err := m.schedules.List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	ids := map[string]bool{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, IDPrefix) && m.owns(e.Memo) {
			ids[e.ID] = true
		}
	}
	return ids, nil
}

// owns reports whether a listed schedule's memo leaves it to this Manager:
// no task queue in it, or this Manager's.
func (m *Manager) owns(memo *commonpb.Memo) bool {
	p, ok := memo.GetFields()[MemoTaskQueue]
	if !ok {
		return true
	}
	var queue string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &queue); err != nil {
		return false // not ours to judge: leave it alone
	}
	return queue == m.taskQueue
}

// EnsureReconcileSchedule creates (or repairs) the "reconcile-schedules"
// schedule: a ReconcileSchedules run every workflows.ReconcileInterval,
// overlap SKIP, with the Manager's catch-up window.
func (m *Manager) EnsureReconcileSchedule(ctx context.Context) (Outcome, error) {
	return m.ensure(ctx, m.reconcileTarget(), false, time.Time{})
}

// StartReconcile starts the start-up reconcile run (workflow id
// workflows.ReconcileStartupID). A finished earlier run does not stop a new
// one; one still running is reused.
func (m *Manager) StartReconcile(ctx context.Context) (client.WorkflowRun, error) {
	run, err := m.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.ReconcileStartupID,
		TaskQueue:                m.taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionTimeout: reconcileRunTimeout,
	}, workflows.ReconcileSchedulesWorkflow, &workflows.ReconcileSchedulesInput{})
	if err != nil {
		return nil, fmt.Errorf("start workflow %s: %w", workflows.ReconcileStartupID, err)
	}
	return run, nil
}

// StartWorkerReconcile is what a worker does once it polls: ensure the
// reconcile schedule and start the start-up reconcile. Both are attempted;
// the error joins their failures.
func (m *Manager) StartWorkerReconcile(ctx context.Context) error {
	var errs []error
	if _, err := m.EnsureReconcileSchedule(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := m.StartReconcile(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
