package schedule_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/schedule"
	"github.com/scoutergo/server/workflows"
)

func keyword(sa temporal.SearchAttributes, name string) string {
	v, _ := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword(name))
	return v
}

// emptyYears turns a nil year list (every year) into an empty one, the way
// Temporal describes it.
func emptyYears(cals []client.ScheduleCalendarSpec) []client.ScheduleCalendarSpec {
	out := slices.Clone(cals)
	for i := range out {
		if out[i].Year == nil {
			out[i].Year = []client.ScheduleRange{}
		}
	}
	return out
}

func decodePayload(t *testing.T, v any, into any) {
	t.Helper()
	p, ok := v.(*commonpb.Payload)
	require.True(t, ok, "got %T, want a payload", v)
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, into))
}

// checkSchedule asserts that the described schedule is exactly the drift
// schedule of p.
func checkSchedule(t *testing.T, e *tenv, p schedule.Profile) *client.ScheduleDescription {
	t.Helper()
	id := workflows.DriftScheduleID(p.Key)
	d := e.describe(t, id)
	sched, err := cron.Parse(p.Schedule)
	require.NoError(t, err)

	require.NotNil(t, d.Schedule.Spec)
	assert.Equal(t, emptyYears(sched.ScheduleSpec().Calendars), emptyYears(d.Schedule.Spec.Calendars), "calendar spec")
	assert.Empty(t, d.Schedule.Spec.Intervals)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	assert.Equal(t, schedule.DefaultCatchupWindow, d.Schedule.Policy.CatchupWindow)
	assert.Equal(t, !p.Active, d.Schedule.State.Paused, "paused")
	assert.Contains(t, d.Schedule.State.Note, p.UID)

	for name, want := range map[string]string{
		workflows.SearchAttrSpace: p.Key.Space, workflows.SearchAttrName: p.Key.Name,
		workflows.SearchAttrVersion: p.Key.Version, workflows.SearchAttrDriftType: p.Key.DriftType,
	} {
		assert.Equal(t, want, keyword(d.TypedSearchAttributes, name), "schedule search attribute %s", name)
	}
	var memoKey string
	decodePayload(t, d.Memo.GetFields()[schedule.MemoProfile], &memoKey)
	assert.Equal(t, p.Key.String(), memoKey, "schedule memo")
	var memoQueue string
	decodePayload(t, d.Memo.GetFields()[schedule.MemoTaskQueue], &memoQueue)
	assert.Equal(t, e.taskQueue, memoQueue, "schedule memo task queue")

	a := actionOf(t, d)
	assert.Equal(t, id, a.ID, "workflow id prefix")
	assert.Equal(t, workflows.DriftCheckWorkflow, a.Workflow)
	assert.Equal(t, e.taskQueue, a.TaskQueue)
	assert.Equal(t, schedule.DefaultRunTimeout, a.WorkflowExecutionTimeout)
	require.Len(t, a.Args, 1)
	var in workflows.DriftCheckInput
	decodePayload(t, a.Args[0], &in)
	assert.Equal(t, workflows.DriftCheckInput{Profile: p.Key}, in, "action input")
	var uid, expr string
	decodePayload(t, a.Memo[schedule.MemoProfileUID], &uid)
	decodePayload(t, a.Memo[schedule.MemoCron], &expr)
	assert.Equal(t, p.UID, uid, "action memo uid")
	assert.Equal(t, p.Schedule, expr, "action memo cron")
	for name, want := range map[string]string{
		workflows.SearchAttrSpace: p.Key.Space, workflows.SearchAttrName: p.Key.Name,
		workflows.SearchAttrVersion: p.Key.Version, workflows.SearchAttrDriftType: p.Key.DriftType,
	} {
		assert.Equal(t, want, keyword(a.TypedSearchAttributes, name), "action search attribute %s", name)
	}
	return d
}

func TestEnsureLifecycle(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	ctx := t.Context()
	key := workflows.ProfileKey{Space: uniqueSpace(t), Name: "model", Version: "1.0.0", DriftType: "Custom"}
	id := workflows.DriftScheduleID(key)

	steps := []struct {
		name    string
		profile schedule.Profile
		want    schedule.Outcome
	}{
		{"register creates", schedule.Profile{Key: key, UID: "uid-1", Schedule: cron.EveryDay, Active: true}, schedule.Created},
		{"ensure again is a no-op", schedule.Profile{Key: key, UID: "uid-1", Schedule: cron.EveryDay, Active: true}, schedule.Unchanged},
		{"schedule change updates the spec", schedule.Profile{Key: key, UID: "uid-1", Schedule: cron.EveryWeek, Active: true}, schedule.Updated},
		{"same again", schedule.Profile{Key: key, UID: "uid-1", Schedule: cron.EveryWeek, Active: true}, schedule.Unchanged},
		{"deactivate pauses", schedule.Profile{Key: key, UID: "uid-1", Schedule: cron.EveryWeek}, schedule.Updated},
		{"paused again", schedule.Profile{Key: key, UID: "uid-1", Schedule: cron.EveryWeek}, schedule.Unchanged},
		{"reactivate unpauses", schedule.Profile{Key: key, UID: "uid-1", Schedule: cron.EveryWeek, Active: true}, schedule.Updated},
		{"re-registration under a new uid", schedule.Profile{Key: key, UID: "uid-2", Schedule: cron.EveryWeek, Active: true}, schedule.Updated},
	}
	var lastUpdate time.Time
	for _, st := range steps {
		got, err := e.m.Ensure(ctx, st.profile)
		require.NoError(t, err, st.name)
		assert.Equal(t, st.want, got, "%s: got outcome %s, want %s", st.name, got, st.want)
		d := checkSchedule(t, e, st.profile)
		if st.want == schedule.Unchanged {
			assert.Equal(t, lastUpdate, d.Info.LastUpdateAt, "%s: an unchanged schedule is not updated", st.name)
		}
		lastUpdate = d.Info.LastUpdateAt
	}

	require.NoError(t, e.m.Delete(ctx, key))
	assert.False(t, e.exists(t, id), "deleted schedule still exists")
	require.NoError(t, e.m.Delete(ctx, key), "deleting a missing schedule is not an error")
}

func TestEnsureRepairsManualChanges(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	ctx := t.Context()
	p := schedule.Profile{
		Key: workflows.ProfileKey{Space: uniqueSpace(t), Name: "m", Version: "0.1.0", DriftType: "Psi"},
		UID: "u", Schedule: cron.EveryWeek, Active: true,
	}
	_, err := e.m.Ensure(ctx, p)
	require.NoError(t, err)
	h := e.c.ScheduleClient().GetHandle(ctx, workflows.DriftScheduleID(p.Key))

	tests := []struct {
		name   string
		change func() error
	}{
		{"paused by hand", func() error { return h.Pause(ctx, client.SchedulePauseOptions{Note: "by hand"}) }},
		{"spec edited by hand", func() error {
			return h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Spec.Calendars[0].Hour = []client.ScheduleRange{{Start: 5, End: 5, Step: 1}}
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}})
		}},
		{"input edited by hand", func() error {
			return h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				a := s.Action.(*client.ScheduleWorkflowAction)
				a.Args = []any{workflows.DriftCheckInput{Profile: workflows.ProfileKey{Space: "elsewhere"}}}
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.change())
			got, err := e.m.Ensure(ctx, p)
			require.NoError(t, err)
			assert.Equal(t, schedule.Updated, got)
			checkSchedule(t, e, p)
		})
	}
}

func TestEnsureRejectsBadProfiles(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	space := uniqueSpace(t)
	tests := []struct {
		name    string
		profile schedule.Profile
		want    error
	}{
		{"5-field cron", schedule.Profile{Key: workflows.ProfileKey{Space: space, Name: "a", Version: "1", DriftType: "Spc"}, Schedule: "0 0 * * *"}, schedule.ErrInvalidSchedule},
		{"garbage cron", schedule.Profile{Key: workflows.ProfileKey{Space: space, Name: "b", Version: "1", DriftType: "Spc"}, Schedule: "every day"}, schedule.ErrInvalidSchedule},
		{"empty cron", schedule.Profile{Key: workflows.ProfileKey{Space: space, Name: "c", Version: "1", DriftType: "Spc"}}, schedule.ErrInvalidSchedule},
		{"no space", schedule.Profile{Key: workflows.ProfileKey{Name: "d", Version: "1", DriftType: "Spc"}, Schedule: cron.EveryDay}, schedule.ErrInvalidProfile},
		{"blank drift type", schedule.Profile{Key: workflows.ProfileKey{Space: space, Name: "e", Version: "1", DriftType: " "}, Schedule: cron.EveryDay}, schedule.ErrInvalidProfile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.m.Ensure(t.Context(), tt.profile)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
			assert.False(t, e.exists(t, workflows.DriftScheduleID(tt.profile.Key)), "no schedule for a bad profile")
		})
	}
}

func TestNewManagerValidates(t *testing.T) {
	_, err := schedule.NewManager(schedule.Options{TaskQueue: "q"})
	assert.ErrorContains(t, err, "client is required")
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: log.NewStructuredLogger(logging.Discard())})
	require.NoError(t, err)
	defer c.Close()
	_, err = schedule.NewManager(schedule.Options{Client: c, TaskQueue: " "})
	assert.ErrorContains(t, err, "task queue is required")
}

// TestCronMatchesTemporal proves the cron translation on the real server:
// the described spec is the calendar spec, and Temporal's own fire times
// (the schedule's next action times and ListScheduleMatchingTimes over a
// fixed range) are exactly cron.Next's.
func TestCronMatchesTemporal(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	space := uniqueSpace(t)
	base := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, expr string
		span       time.Duration // matching-times range from base (< 1000 ticks)
	}{
		{"Every1Minute", cron.Every1Minute, 3 * time.Hour},
		{"Every5Minutes", cron.Every5Minutes, 12 * time.Hour},
		{"Every15Minutes", cron.Every15Minutes, 2 * 24 * time.Hour},
		{"Every30Minutes", cron.Every30Minutes, 4 * 24 * time.Hour},
		{"EveryHour", cron.EveryHour, 8 * 24 * time.Hour},
		{"Every6Hours", cron.Every6Hours, 40 * 24 * time.Hour},
		{"Every12Hours", cron.Every12Hours, 80 * 24 * time.Hour},
		{"EveryDay", cron.EveryDay, 366 * 24 * time.Hour},
		{"EveryWeek", cron.EveryWeek, 2 * 366 * 24 * time.Hour},
		{"weekday numbers, Sunday is 1", "0 0 9 * * 2-6", 60 * 24 * time.Hour},
		{"names and steps", "30 15/20 8-17 * JAN,JUL MON-FRI", 40 * 24 * time.Hour},
		{"leap day", "0 0 0 29 FEB *", 9 * 366 * 24 * time.Hour},
		{"day of month and weekday both", "0 0 0 13 * FRI", 6 * 366 * 24 * time.Hour},
		{"year field", "0 0 12 1 * * 2030-2031", 3 * 366 * 24 * time.Hour},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched, err := cron.Parse(tt.expr)
			require.NoError(t, err)
			// Paused, so nothing runs; Temporal still computes the times.
			p := schedule.Profile{
				Key: workflows.ProfileKey{Space: space, Name: "cron", Version: string(rune('a' + i)), DriftType: "Spc"},
				UID: "u", Schedule: tt.expr,
			}
			before := time.Now().UTC()
			_, err = e.m.Ensure(t.Context(), p)
			require.NoError(t, err)
			d := checkSchedule(t, e, p)
			after := time.Now().UTC()

			next := d.Info.NextActionTimes
			require.NotEmpty(t, next, "Temporal lists no next action time")
			first := sched.Next(before)
			if !first.Equal(next[0]) && !first.After(after) {
				first = sched.Next(first) // a tick passed while describing
			}
			assert.Equal(t, first, next[0].UTC(), "first next action time")
			for j := 1; j < len(next); j++ {
				assert.Equal(t, sched.Next(next[j-1]), next[j].UTC(), "next action time %d", j)
			}

			res, err := e.c.WorkflowService().ListScheduleMatchingTimes(t.Context(), &workflowservice.ListScheduleMatchingTimesRequest{
				Namespace: e.ns, ScheduleId: workflows.DriftScheduleID(p.Key),
				StartTime: timestamppb.New(base), EndTime: timestamppb.New(base.Add(tt.span)),
			})
			require.NoError(t, err)
			var want []time.Time
			// Temporal's range excludes its start: (start, end].
			for tick := sched.Next(base); !tick.IsZero() && !tick.After(base.Add(tt.span)); tick = sched.Next(tick) {
				want = append(want, tick)
			}
			got := make([]time.Time, 0, len(res.GetStartTime()))
			for _, ts := range res.GetStartTime() {
				got = append(got, ts.AsTime().UTC())
			}
			require.NotEmpty(t, want)
			require.Less(t, len(want), 1000, "Temporal returns at most 1000 times: shorten the span")
			assert.Equal(t, want, got, "ListScheduleMatchingTimes over (%s, +%s]", base, tt.span)
		})
	}
}

func TestDeleteMissingKeyIsNoError(t *testing.T) {
	e := newEnv(t, schedule.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	assert.NoError(t, e.m.Delete(ctx, workflows.ProfileKey{Space: uniqueSpace(t), Name: "x", Version: "1", DriftType: "Spc"}))
}
