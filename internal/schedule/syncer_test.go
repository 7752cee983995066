package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/scoutergo/server/internal/testenv"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/profile"
	"github.com/scoutergo/server/internal/profileapi"
	"github.com/scoutergo/server/internal/schedule"
	"github.com/scoutergo/server/workflows"
)

var admin = auth.Identity{Username: "admin", Permissions: []string{"read:all", "write:all"}, GroupPermissions: []string{"admin"}}

func ptr[T any](v T) *T { return &v }

// profiles wraps a profile service for the tests: register and update
// Custom profiles with a given cron string.
type profiles struct {
	t     *testing.T
	svc   *profileapi.Service
	space string
}

func newProfiles(t *testing.T, pool *pgxpool.Pool, syncer profileapi.ScheduleSyncer) *profiles {
	t.Helper()
	svc, err := profileapi.New(profileapi.Options{DB: pool, Syncer: syncer, Logger: logging.Discard()})
	require.NoError(t, err)
	return &profiles{t: t, svc: svc, space: uniqueSpace(t)}
}

func (p *profiles) register(name, cronExpr string, active, deactivateOthers bool) *profile.RegisteredProfileResponse {
	p.t.Helper()
	res, err := p.svc.Register(p.t.Context(), admin, profile.ProfileRequest{
		Space: p.space, DriftType: profile.Custom, Profile: profileJSON(p.t, "custom", p.space, name, cronExpr),
		VersionRequest: &profile.VersionRequest{Version: ptr("1.0.0"), VersionType: profile.Minor},
		Active:         active, DeactivateOthers: deactivateOthers,
	})
	require.NoError(p.t, err)
	return res
}

func (p *profiles) key(res *profile.RegisteredProfileResponse) workflows.ProfileKey {
	return workflows.ProfileKey{Space: res.Space, Name: res.Name, Version: res.Version, DriftType: "Custom"}
}

func TestSyncerWithProfileService(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	pool := pgtest.New(t)
	syncer, err := schedule.NewSyncer(dbsqlc.New(pool), e.m, nil)
	require.NoError(t, err)
	ps := newProfiles(t, pool, syncer)
	ctx := t.Context()

	// Register: the schedule exists, with its search attributes.
	a := ps.register("model", cron.EveryHour, true, false)
	keyA := ps.key(a)
	checkSchedule(t, e, schedule.Profile{Key: keyA, UID: a.UID, Schedule: cron.EveryHour, Active: true})

	// Update with another cron string: the spec follows.
	raw := profileJSON(t, "custom", ps.space, "model", cron.EveryDay)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &m))
	m["config"].(map[string]any)["uid"] = a.UID
	upd, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, ps.svc.Update(ctx, admin, profile.ProfileRequest{
		Space: ps.space, DriftType: profile.Custom, Profile: string(upd),
	}))
	checkSchedule(t, e, schedule.Profile{Key: keyA, UID: a.UID, Schedule: cron.EveryDay, Active: true})

	// Deactivate: paused; reactivate: running again.
	for _, active := range []bool{false, true} {
		require.NoError(t, ps.svc.SetStatus(ctx, admin, profile.ProfileStatusRequest{
			Space: ps.space, Name: "model", Version: a.Version, Active: active,
		}))
		checkSchedule(t, e, schedule.Profile{Key: keyA, UID: a.UID, Schedule: cron.EveryDay, Active: active})
	}

	// A new version with deactivate_others pauses the old one's schedule.
	b := ps.register("model", cron.EveryWeek, true, true)
	require.NotEqual(t, a.Version, b.Version)
	checkSchedule(t, e, schedule.Profile{Key: ps.key(b), UID: b.UID, Schedule: cron.EveryWeek, Active: true})
	checkSchedule(t, e, schedule.Profile{Key: keyA, UID: a.UID, Schedule: cron.EveryDay, Active: false})

	// Re-registering the same key replaces the uid: the schedule follows the
	// new row; the replaced uid has nothing left to sync.
	c := ps.register("model", cron.Every6Hours, true, false)
	require.Equal(t, b.Version, c.Version, "same key")
	require.NotEqual(t, b.UID, c.UID)
	checkSchedule(t, e, schedule.Profile{Key: ps.key(c), UID: c.UID, Schedule: cron.Every6Hours, Active: true})
	require.NoError(t, syncer.SyncProfile(ctx, b.UID), "a uid without a row is not an error")

	// A profile row gone for good: syncing its key deletes the schedule.
	_, err = pool.Exec(ctx, `DELETE FROM scouter.drift_profile WHERE uid = $1`, a.UID)
	require.NoError(t, err)
	require.NoError(t, syncer.SyncKey(ctx, keyA))
	assert.False(t, e.exists(t, workflows.DriftScheduleID(keyA)), "schedule of a deleted profile")
	require.NoError(t, syncer.SyncProfile(ctx, "no-such-uid"))
}

func TestNewSyncerValidates(t *testing.T) {
	_, err := schedule.NewSyncer(nil, nil, nil)
	assert.Error(t, err)
	_, err = schedule.NewSyncQueue(nil, schedule.QueueOptions{})
	assert.Error(t, err)
}

// fakeSyncer fails the first failures calls of each uid.
type fakeSyncer struct {
	mu       sync.Mutex
	failures int
	calls    map[string]int
	block    chan struct{} // when set, each call announces itself on started, then waits for block
	started  chan struct{}
}

func (f *fakeSyncer) SyncProfile(ctx context.Context, uid string) error {
	if f.block != nil {
		f.started <- struct{}{}
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[uid]++
	if f.calls[uid] <= f.failures {
		return errors.New("temporal unavailable")
	}
	return nil
}

func (f *fakeSyncer) count(uid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[uid]
}

// runQueue runs q until the test ends.
func runQueue(t *testing.T, q *schedule.SyncQueue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "Run returns nil when stopped")
	})
}

func TestSyncQueue(t *testing.T) {
	tests := []struct {
		name        string
		failures    int
		maxAttempts int
		wantCalls   int
		wantLog     string
	}{
		{name: "first attempt succeeds", failures: 0, maxAttempts: 3, wantCalls: 1},
		{name: "retried until it succeeds", failures: 2, maxAttempts: 3, wantCalls: 3, wantLog: "retrying"},
		{name: "given up after max attempts", failures: 10, maxAttempts: 3, wantCalls: 3, wantLog: "giving up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.Buffer
			f := &fakeSyncer{failures: tt.failures, calls: map[string]int{}}
			q, err := schedule.NewSyncQueue(f, schedule.QueueOptions{
				MaxAttempts: tt.maxAttempts, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
				Logger: logging.New(&logs, logging.Options{Level: slog.LevelDebug, JSON: true}),
			})
			require.NoError(t, err)
			require.NoError(t, q.SyncProfile(t.Context(), "uid-1"))
			require.NoError(t, q.SyncProfile(t.Context(), "uid-1"), "recorded twice before Run: synced once")
			assert.Equal(t, 1, q.Pending())
			runQueue(t, q)
			require.Eventually(t, func() bool { return q.Pending() == 0 }, 5*time.Second, 5*time.Millisecond)
			assert.Equal(t, tt.wantCalls, f.count("uid-1"), "sync calls")
			if tt.wantLog != "" {
				assert.Contains(t, logs.String(), tt.wantLog)
			}
		})
	}
}

func TestSyncQueueFull(t *testing.T) {
	q, err := schedule.NewSyncQueue(&fakeSyncer{calls: map[string]int{}}, schedule.QueueOptions{MaxPending: 2})
	require.NoError(t, err)
	require.NoError(t, q.SyncProfile(t.Context(), "a"))
	require.NoError(t, q.SyncProfile(t.Context(), "b"))
	require.NoError(t, q.SyncProfile(t.Context(), "a"), "a waiting uid does not take another place")
	err = q.SyncProfile(t.Context(), "c")
	assert.ErrorIs(t, err, schedule.ErrQueueFull)
}

// TestSyncQueueRecordedWhileSyncing: a change recorded while the uid's sync
// runs is synced again afterwards (the running sync may have read the row
// before the change).
func TestSyncQueueRecordedWhileSyncing(t *testing.T) {
	f := &fakeSyncer{calls: map[string]int{}, block: make(chan struct{}), started: make(chan struct{})}
	q, err := schedule.NewSyncQueue(f, schedule.QueueOptions{})
	require.NoError(t, err)
	require.NoError(t, q.SyncProfile(t.Context(), "u"))
	runQueue(t, q)
	<-f.started
	require.NoError(t, q.SyncProfile(t.Context(), "u")) // while the first call runs
	f.block <- struct{}{}
	<-f.started
	f.block <- struct{}{}
	require.Eventually(t, func() bool { return q.Pending() == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2, f.count("u"))
}

// TestProfileRequestsDoNotWaitForTemporal: with Temporal unreachable, a
// registration behind a SyncQueue answers at once; the failure is logged.
func TestProfileRequestsDoNotWaitForTemporal(t *testing.T) {
	pool := pgtest.New(t)
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: log.NewStructuredLogger(logging.Discard())})
	require.NoError(t, err)
	defer c.Close()
	m, err := schedule.NewManager(schedule.Options{Client: c, TaskQueue: "q"})
	require.NoError(t, err)
	syncer, err := schedule.NewSyncer(dbsqlc.New(pool), m, nil)
	require.NoError(t, err)
	var logs testenv.Buffer
	q, err := schedule.NewSyncQueue(syncer, schedule.QueueOptions{
		CallTimeout: 200 * time.Millisecond, MaxAttempts: 2, Backoff: 10 * time.Millisecond,
		Logger: logging.New(&logs, logging.Options{Level: slog.LevelDebug, JSON: true}),
	})
	require.NoError(t, err)
	runQueue(t, q)
	ps := newProfiles(t, pool, q)

	start := time.Now()
	res := ps.register("model", cron.EveryDay, true, false)
	assert.Less(t, time.Since(start), 2*time.Second, "registration waited for Temporal")
	require.Eventually(t, func() bool { return q.Pending() == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "giving up, the reconcile will repair it")
	assert.Contains(t, logs.String(), res.UID)
}

// TestSyncQueueEndToEnd: profile service → queue → syncer → Temporal.
func TestSyncQueueEndToEnd(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	pool := pgtest.New(t)
	syncer, err := schedule.NewSyncer(dbsqlc.New(pool), e.m, nil)
	require.NoError(t, err)
	q, err := schedule.NewSyncQueue(syncer, schedule.QueueOptions{})
	require.NoError(t, err)
	runQueue(t, q)
	ps := newProfiles(t, pool, q)

	res := ps.register("model", cron.Every12Hours, true, false)
	id := workflows.DriftScheduleID(ps.key(res))
	require.Eventually(t, func() bool { return e.exists(t, id) && q.Pending() == 0 }, 10*time.Second, 20*time.Millisecond)
	checkSchedule(t, e, schedule.Profile{Key: ps.key(res), UID: res.UID, Schedule: cron.Every12Hours, Active: true})
}
