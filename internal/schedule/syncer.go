package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/workflows"
)

// ProfileReader reads the schedule columns of drift_profile rows.
// *dbsqlc.Queries implements it.
type ProfileReader interface {
	GetDriftScheduleProfileByUID(ctx context.Context, uid string) (dbsqlc.GetDriftScheduleProfileByUIDRow, error)
	GetDriftScheduleProfileByKey(ctx context.Context, arg dbsqlc.GetDriftScheduleProfileByKeyParams) (dbsqlc.GetDriftScheduleProfileByKeyRow, error)
}

// Syncer brings one profile's schedule in line with the database; it is the
// server's profileapi.ScheduleSyncer (directly, or behind a SyncQueue so
// that requests never wait for Temporal).
type Syncer struct {
	profiles ProfileReader
	manager  *Manager
	logger   *slog.Logger
}

// NewSyncer builds a Syncer. A nil logger discards.
func NewSyncer(profiles ProfileReader, m *Manager, logger *slog.Logger) (*Syncer, error) {
	if profiles == nil || m == nil {
		return nil, errors.New("new schedule syncer: profile reader and manager are required")
	}
	if logger == nil {
		logger = logging.Discard()
	}
	return &Syncer{profiles: profiles, manager: m, logger: logger}, nil
}

// SyncProfile syncs the schedule of the profile key the row with uid
// belongs to. A uid without a row (replaced by a re-registration, whose new
// uid is synced too) has nothing left to sync: its key is no longer known,
// and were its key gone for good, the reconcile deletes the schedule.
func (s *Syncer) SyncProfile(ctx context.Context, uid string) error {
	r, err := s.profiles.GetDriftScheduleProfileByUID(ctx, uid)
	if errors.Is(err, pgx.ErrNoRows) {
		s.logger.DebugContext(ctx, "schedule sync: no profile row with this uid; nothing to do", slog.String("uid", uid))
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync schedule of profile %s: read profile: %w", uid, err)
	}
	p := ProfileFromRow(row(r))
	if err := s.SyncKey(ctx, p.Key); err != nil {
		return fmt.Errorf("sync schedule of profile %s: %w", uid, err)
	}
	return nil
}

// SyncKey ensures the key's schedule from the row now holding the key (the
// newest), or deletes the schedule when no row holds it.
func (s *Syncer) SyncKey(ctx context.Context, key workflows.ProfileKey) error {
	r, err := s.profiles.GetDriftScheduleProfileByKey(ctx, dbsqlc.GetDriftScheduleProfileByKeyParams{
		Space: key.Space, Name: key.Name, Version: key.Version, DriftType: key.DriftType,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return s.manager.Delete(ctx, key)
	}
	if err != nil {
		return fmt.Errorf("read profile %s: %w", key, err)
	}
	_, err = s.manager.Ensure(ctx, ProfileFromRow(row(r)))
	return err
}

// uidSyncer is what a SyncQueue drives (a *Syncer).
type uidSyncer interface {
	SyncProfile(ctx context.Context, uid string) error
}

// Defaults for the zero QueueOptions.
const (
	DefaultQueueCallTimeout = 15 * time.Second
	DefaultQueueMaxAttempts = 5
	DefaultQueueMaxPending  = 10000
	DefaultQueueBackoff     = time.Second
	DefaultQueueMaxBackoff  = time.Minute
)

// ErrQueueFull is returned by SyncQueue.SyncProfile when MaxPending uids
// already wait.
var ErrQueueFull = errors.New("schedule sync queue full")

// QueueOptions tune a SyncQueue.
type QueueOptions struct {
	// CallTimeout bounds each sync attempt.
	CallTimeout time.Duration
	// MaxAttempts per uid before it is left to the reconcile.
	MaxAttempts int
	// MaxPending bounds the uids waiting.
	MaxPending int
	// Backoff after the first failed attempt of a uid; it doubles up to
	// MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// Logger receives failures. Nil discards.
	Logger *slog.Logger
}

// SyncQueue runs schedule syncs in the background: SyncProfile only records
// the uid and returns, Run works through the uids, retrying failures with
// backoff, and gives a uid up (logged, left to the reconcile) after
// MaxAttempts. A uid recorded again while it waits is synced once. So a
// profile request never waits for Temporal, which may be down.
type SyncQueue struct {
	syncer uidSyncer
	opts   QueueOptions
	logger *slog.Logger

	mu      sync.Mutex
	pending map[string]*pendingSync
	wake    chan struct{}
}

type pendingSync struct {
	attempts int
	due      time.Time
}

// NewSyncQueue builds a SyncQueue over s (a *Syncer).
func NewSyncQueue(s uidSyncer, opts QueueOptions) (*SyncQueue, error) {
	if s == nil {
		return nil, errors.New("new schedule sync queue: syncer is required")
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultQueueCallTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultQueueMaxAttempts
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultQueueMaxPending
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultQueueBackoff
	}
	if opts.MaxBackoff < opts.Backoff {
		opts.MaxBackoff = max(DefaultQueueMaxBackoff, opts.Backoff)
	}
	logger := opts.Logger
	if logger == nil {
		logger = logging.Discard()
	}
	return &SyncQueue{
		syncer:  s,
		opts:    opts,
		logger:  logger,
		pending: map[string]*pendingSync{},
		wake:    make(chan struct{}, 1),
	}, nil
}

// SyncProfile records uid for Run and returns at once. A uid already
// waiting is made due now. It fails only when the queue is full.
func (q *SyncQueue) SyncProfile(_ context.Context, uid string) error {
	q.mu.Lock()
	if p, ok := q.pending[uid]; ok {
		p.due, p.attempts = time.Time{}, 0
	} else {
		if len(q.pending) >= q.opts.MaxPending {
			q.mu.Unlock()
			return fmt.Errorf("sync schedule of profile %s: %w (%d waiting)", uid, ErrQueueFull, q.opts.MaxPending)
		}
		q.pending[uid] = &pendingSync{}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// Pending is the number of uids waiting.
func (q *SyncQueue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Run syncs recorded uids until ctx ends; uids still waiting then are left
// to the reconcile. It returns nil.
func (q *SyncQueue) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		uid, wait := q.next(time.Now())
		if uid != "" {
			q.runOne(ctx, uid)
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			if n := q.Pending(); n > 0 {
				q.logger.Info("schedule sync stopping; waiting profiles are left to the reconcile", slog.Int("pending", n))
			}
			return nil
		case <-q.wake:
		case <-timer.C:
		}
	}
}

// next returns a due uid, or how long until the earliest one is due.
func (q *SyncQueue) next(now time.Time) (string, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	wait := time.Hour
	for uid, p := range q.pending {
		if !p.due.After(now) {
			return uid, 0
		}
		wait = min(wait, p.due.Sub(now))
	}
	return "", wait
}

func (q *SyncQueue) runOne(ctx context.Context, uid string) {
	q.mu.Lock()
	p := q.pending[uid]
	p.attempts++
	attempt := p.attempts
	// Mark it in flight: a SyncProfile meanwhile resets due to now, which
	// keeps it for another round below.
	p.due = time.Now().Add(time.Hour)
	q.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, q.opts.CallTimeout)
	err := q.syncer.SyncProfile(cctx, uid)
	cancel()

	q.mu.Lock()
	defer q.mu.Unlock()
	p = q.pending[uid]
	if p.due.IsZero() {
		// Recorded again while syncing: sync once more with fresh data.
		p.attempts = 0
		return
	}
	if err == nil {
		delete(q.pending, uid)
		return
	}
	if ctx.Err() != nil {
		p.due = time.Time{}
		p.attempts--
		return
	}
	if attempt >= q.opts.MaxAttempts {
		delete(q.pending, uid)
		q.logger.Warn("profile schedule sync failed; giving up, the reconcile will repair it",
			slog.String("uid", uid), slog.Int("attempts", attempt), slog.Any("err", err))
		return
	}
	backoff := q.opts.Backoff << (attempt - 1)
	if backoff <= 0 || backoff > q.opts.MaxBackoff {
		backoff = q.opts.MaxBackoff
	}
	p.due = time.Now().Add(backoff)
	q.logger.Warn("profile schedule sync failed; retrying",
		slog.String("uid", uid), slog.Int("attempt", attempt), slog.Duration("retry_in", backoff), slog.Any("err", err))
}
