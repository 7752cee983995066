package schedule_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/schedule"
	"github.com/scoutergo/server/workflows"
)

// createByHand creates a schedule the way an operator (or a crashed
// earlier deployment) might, outside the Manager.
func createByHand(t *testing.T, e *tenv, id string) {
	t.Helper()
	_, err := e.c.ScheduleClient().Create(t.Context(), client.ScheduleOptions{
		ID:     id,
		Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 24 * time.Hour}}},
		Paused: true,
		Action: &client.ScheduleWorkflowAction{ID: id, Workflow: workflows.DriftCheckWorkflow, TaskQueue: e.taskQueue},
	})
	require.NoError(t, err, "create schedule %s by hand", id)
}

// spcKeys returns a function giving the SPC profile key of a name in a
// space of the test's own.
func spcKeys(t *testing.T) func(name string) workflows.ProfileKey {
	space := uniqueSpace(t)
	return func(name string) workflows.ProfileKey {
		return workflows.ProfileKey{Space: space, Name: name, Version: "1.0.0", DriftType: "Spc"}
	}
}

func TestReconcile(t *testing.T) {
	e := newEnv(t, schedule.Options{OrphanGrace: -1})
	ctx := t.Context()
	key := spcKeys(t)
	existing := schedule.Profile{Key: key("existing"), UID: "u1", Schedule: cron.EveryDay, Active: true}
	stale := schedule.Profile{Key: key("stale"), UID: "u2", Schedule: cron.EveryDay, Active: true}
	missing := schedule.Profile{Key: key("missing"), UID: "u3", Schedule: cron.EveryWeek, Active: true}
	inactive := schedule.Profile{Key: key("inactive"), UID: "u4", Schedule: cron.EveryHour}
	invalid := schedule.Profile{Key: key("invalid"), UID: "u5", Schedule: "0 0 * * *", Active: true}
	dup := schedule.Profile{Key: key("existing"), UID: "older", Schedule: cron.EveryHour, Active: false}

	_, err := e.m.Ensure(ctx, existing)
	require.NoError(t, err)
	_, err = e.m.Ensure(ctx, schedule.Profile{Key: stale.Key, UID: "u2", Schedule: cron.EveryHour, Active: false})
	require.NoError(t, err)
	orphan := workflows.DriftScheduleID(key("deleted-profile"))
	createByHand(t, e, orphan)
	other := "not-a-drift-schedule-" + key("x").Space
	createByHand(t, e, other)
	e.waitListed(t, orphan, other, workflows.DriftScheduleID(existing.Key))

	var mu sync.Mutex
	var calls []int
	rep, err := e.m.Reconcile(ctx, []schedule.Profile{existing, stale, missing, inactive, invalid, dup},
		schedule.WithProgress(func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, done)
			assert.Equal(t, 5, total, "progress total: 4 profiles + 1 orphan")
		}))
	require.NoError(t, err)
	id := workflows.DriftScheduleID
	assert.Equal(t, 5, rep.Profiles, "profile keys")
	assert.Equal(t, []string{id(inactive.Key), id(missing.Key)}, rep.Created, "created")
	assert.Equal(t, []string{id(stale.Key)}, rep.Updated, "updated")
	assert.Equal(t, []string{id(existing.Key)}, rep.Unchanged, "unchanged (the first of two rows of a key wins)")
	assert.Equal(t, []string{orphan}, rep.Deleted, "deleted orphans")
	assert.Empty(t, rep.Deferred)
	require.Len(t, rep.Invalid, 1)
	assert.Contains(t, rep.Invalid[0], id(invalid.Key))
	assert.Empty(t, rep.Failed)
	assert.Equal(t, []int{1, 2, 3, 4, 5}, calls, "progress after each schedule")

	for _, p := range []schedule.Profile{existing, stale, missing, inactive} {
		checkSchedule(t, e, p)
	}
	assert.False(t, e.exists(t, orphan), "orphan deleted")
	assert.False(t, e.exists(t, id(invalid.Key)), "no schedule for an unparsable cron")
	assert.True(t, e.exists(t, other), "schedules outside drift:* are not the reconcile's")

	// A second pass finds nothing to do.
	rep, err = e.m.Reconcile(ctx, []schedule.Profile{existing, stale, missing, inactive})
	require.NoError(t, err)
	assert.Empty(t, rep.Created)
	assert.Empty(t, rep.Updated)
	assert.Len(t, rep.Unchanged, 4)
	assert.Empty(t, rep.Deleted, "the deleted orphan may still be listed, but is not reported again")
}

// TestReconcileSparesYoungOrphans: a schedule changed after the profiles
// were read may belong to a profile registered meanwhile, so the default
// grace only defers it.
func TestReconcileSparesYoungOrphans(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	ctx := t.Context()
	young := workflows.DriftScheduleID(workflows.ProfileKey{Space: uniqueSpace(t), Name: "new", Version: "1", DriftType: "Psi"})
	createByHand(t, e, young)
	e.waitListed(t, young)

	rep, err := e.m.Reconcile(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{young}, rep.Deferred)
	assert.Empty(t, rep.Deleted)
	assert.True(t, e.exists(t, young))

	later, err := schedule.NewManager(schedule.Options{
		Client: e.c, TaskQueue: e.taskQueue,
		Now: func() time.Time { return time.Now().Add(schedule.DefaultOrphanGrace + time.Minute) },
	})
	require.NoError(t, err)
	rep, err = later.Reconcile(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{young}, rep.Deleted, "deleted once older than the grace")
	assert.False(t, e.exists(t, young))
}

// TestReconcileSparesFreshChanges: a pass working from profiles read before
// the server's syncer paused a schedule (the profile was deactivated
// meanwhile) must not un-pause it; a later pass, past the grace, repairs a
// difference that is still there.
func TestReconcileSparesFreshChanges(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	ctx := t.Context()
	key := workflows.ProfileKey{Space: uniqueSpace(t), Name: "m", Version: "1.0.0", DriftType: "Spc"}
	active := schedule.Profile{Key: key, UID: "u1", Schedule: cron.EveryDay, Active: true}
	inactive := active
	inactive.Active = false
	id := workflows.DriftScheduleID(key)

	_, err := e.m.Ensure(ctx, inactive) // the syncer, after the deactivation
	require.NoError(t, err)
	e.waitListed(t, id)

	rep, err := e.m.Reconcile(ctx, []schedule.Profile{active}) // a stale read
	require.NoError(t, err)
	assert.Equal(t, []string{id}, rep.Deferred)
	assert.Empty(t, rep.Updated)
	checkSchedule(t, e, inactive)

	later, err := schedule.NewManager(schedule.Options{
		Client: e.c, TaskQueue: e.taskQueue, Logger: logging.Discard(),
		Now: func() time.Time { return time.Now().Add(schedule.DefaultOrphanGrace + time.Minute) },
	})
	require.NoError(t, err)
	rep, err = later.Reconcile(ctx, []schedule.Profile{active})
	require.NoError(t, err)
	assert.Equal(t, []string{id}, rep.Updated, "repaired once older than the grace")
	checkSchedule(t, e, active)
}

// TestReconcileLeavesOtherDeployments: a second deployment (another task
// queue) sharing the namespace keeps its schedules when this one reconciles;
// orphans of this deployment, and drift schedules without the task-queue
// memo (made by hand), are still deleted.
func TestReconcileLeavesOtherDeployments(t *testing.T) {
	e := newEnv(t, schedule.Options{OrphanGrace: -1})
	ctx := t.Context()
	key := spcKeys(t)
	other, err := schedule.NewManager(schedule.Options{Client: e.c, TaskQueue: e.taskQueue + "-other", Logger: logging.Discard()})
	require.NoError(t, err)
	theirs := schedule.Profile{Key: key("theirs"), UID: "t1", Schedule: cron.EveryDay, Active: true}
	_, err = other.Ensure(ctx, theirs)
	require.NoError(t, err)
	ours := schedule.Profile{Key: key("ours"), UID: "o1", Schedule: cron.EveryDay, Active: true}
	_, err = e.m.Ensure(ctx, ours)
	require.NoError(t, err)
	ourOrphan := schedule.Profile{Key: key("our-deleted-profile"), UID: "o2", Schedule: cron.EveryDay, Active: true}
	_, err = e.m.Ensure(ctx, ourOrphan)
	require.NoError(t, err)
	byHand := workflows.DriftScheduleID(key("by-hand"))
	createByHand(t, e, byHand)
	id := workflows.DriftScheduleID
	e.waitListed(t, id(theirs.Key), id(ours.Key), id(ourOrphan.Key), byHand)

	rep, err := e.m.Reconcile(ctx, []schedule.Profile{ours})
	require.NoError(t, err)
	assert.Equal(t, []string{byHand, id(ourOrphan.Key)}, rep.Deleted, "this deployment's orphans and memo-less drift schedules")
	assert.Equal(t, []string{id(ours.Key)}, rep.Unchanged)
	assert.True(t, e.exists(t, id(theirs.Key)), "the other deployment's schedule is not an orphan of this one")

	rep, err = other.Reconcile(ctx, []schedule.Profile{theirs})
	require.NoError(t, err)
	assert.NotContains(t, rep.Deleted, id(ours.Key), "and the other way round")
	assert.Equal(t, []string{id(theirs.Key)}, rep.Unchanged)
	assert.True(t, e.exists(t, id(ours.Key)))
}

func TestReconcileReportsTemporalFailures(t *testing.T) {
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: log.NewStructuredLogger(logging.Discard())})
	require.NoError(t, err)
	defer c.Close()
	m, err := schedule.NewManager(schedule.Options{Client: c, TaskQueue: "q", CallTimeout: time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err = m.Reconcile(ctx, []schedule.Profile{{Key: workflows.ProfileKey{Space: "s", Name: "n", Version: "1", DriftType: "Spc"}, Schedule: cron.EveryDay}})
	require.Error(t, err, "an unreachable Temporal fails the pass")
	assert.Contains(t, err.Error(), "list schedules")
}
