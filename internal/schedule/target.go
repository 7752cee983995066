package schedule

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/workflows"
)

// Memo keys. The schedule's own memo is written at creation only (the SDK
// cannot update it), so it holds what never changes for a schedule id: the
// profile key. What changes (uid, cron string) is in the action's memo,
// which every update rewrites and every run it starts carries; the cron
// string is also the calendar spec's comment.
const (
	MemoProfile    = "profile"
	MemoProfileUID = "profile_uid"
	MemoCron       = "cron"
	// MemoTaskQueue (schedule memo) names the task queue of the deployment
	// that created the schedule: Reconcile leaves schedules of other task
	// queues alone.
	MemoTaskQueue = "task_queue"
)

// reconcileRunTimeout bounds a reconcile run (scheduled or start-up).
const reconcileRunTimeout = 30 * time.Minute

// target is the complete desired state of one schedule.
type target struct {
	id         string
	spec       client.ScheduleSpec
	workflow   string
	workflowID string
	args       any
	taskQueue  string
	runTimeout time.Duration
	// actionMemo is rewritten by updates; memo only set at creation.
	actionMemo map[string]string
	memo       map[string]string
	// attrs are Keyword search attributes, on the schedule and its runs.
	attrs   map[string]string
	overlap enumspb.ScheduleOverlapPolicy
	catchup time.Duration
	paused  bool
	note    string
}

// driftTarget is the schedule of a drift profile.
func (m *Manager) driftTarget(p Profile) (*target, error) {
	k := p.Key
	for _, f := range []struct{ name, value string }{
		{"space", k.Space}, {"name", k.Name}, {"version", k.Version}, {"drift_type", k.DriftType},
	} {
		if strings.TrimSpace(f.value) == "" {
			return nil, fmt.Errorf("profile %q (uid %q): %w: %s is empty", k.String(), p.UID, ErrInvalidProfile, f.name)
		}
	}
	sched, err := cron.Parse(p.Schedule)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w %q: %v", k.String(), ErrInvalidSchedule, p.Schedule, err)
	}
	id := workflows.DriftScheduleID(k)
	note := fmt.Sprintf("profile %s is active (cron %s)", p.UID, sched.String())
	if !p.Active {
		note = fmt.Sprintf("paused: profile %s is inactive (cron %s)", p.UID, sched.String())
	}
	return &target{
		id:         id,
		spec:       sched.ScheduleSpec(),
		workflow:   workflows.DriftCheckWorkflow,
		workflowID: id,
		args:       &workflows.DriftCheckInput{Profile: k},
		taskQueue:  m.taskQueue,
		runTimeout: m.runTimeout,
		actionMemo: map[string]string{MemoProfileUID: p.UID, MemoCron: sched.String()},
		memo:       map[string]string{MemoProfile: k.String(), MemoTaskQueue: m.taskQueue},
		attrs: map[string]string{
			workflows.SearchAttrSpace:     k.Space,
			workflows.SearchAttrName:      k.Name,
			workflows.SearchAttrVersion:   k.Version,
			workflows.SearchAttrDriftType: k.DriftType,
		},
		overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		catchup: m.catchup,
		paused:  !p.Active,
		note:    note,
	}, nil
}

// reconcileTarget is the schedule of the periodic reconcile.
func (m *Manager) reconcileTarget() *target {
	return &target{
		id: workflows.ReconcileScheduleID,
		spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{
			Every: workflows.ReconcileInterval,
		}}},
		workflow:   workflows.ReconcileSchedulesWorkflow,
		workflowID: workflows.ReconcileScheduleID,
		args:       &workflows.ReconcileSchedulesInput{},
		taskQueue:  m.taskQueue,
		runTimeout: reconcileRunTimeout,
		actionMemo: map[string]string{},
		memo:       map[string]string{},
		attrs:      map[string]string{},
		overlap:    enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		catchup:    m.catchup,
		note:       "makes the drift:* schedules match the drift_profile table",
	}
}

func (t *target) action() *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:                       t.workflowID,
		Workflow:                 t.workflow,
		Args:                     []any{t.args},
		TaskQueue:                t.taskQueue,
		WorkflowExecutionTimeout: t.runTimeout,
		Memo:                     anyMap(t.actionMemo),
		TypedSearchAttributes:    t.searchAttributes(),
	}
}

func (t *target) searchAttributes() temporal.SearchAttributes {
	updates := make([]temporal.SearchAttributeUpdate, 0, len(t.attrs))
	for _, name := range slices.Sorted(maps.Keys(t.attrs)) {
		updates = append(updates, temporal.NewSearchAttributeKeyKeyword(name).ValueSet(t.attrs[name]))
	}
	return temporal.NewSearchAttributes(updates...)
}

func (t *target) createOptions() client.ScheduleOptions {
	return client.ScheduleOptions{
		ID:                    t.id,
		Spec:                  t.spec,
		Action:                t.action(),
		Overlap:               t.overlap,
		CatchupWindow:         t.catchup,
		Paused:                t.paused,
		Note:                  t.note,
		Memo:                  anyMap(t.memo),
		TypedSearchAttributes: t.searchAttributes(),
	}
}

func (t *target) update() *client.ScheduleUpdate {
	spec := t.spec
	sa := t.searchAttributes()
	return &client.ScheduleUpdate{
		Schedule: &client.Schedule{
			Action: t.action(),
			Spec:   &spec,
			Policy: &client.SchedulePolicies{Overlap: t.overlap, CatchupWindow: t.catchup},
			State:  &client.ScheduleState{Paused: t.paused, Note: t.note},
		},
		TypedSearchAttributes: &sa,
	}
}

// diff lists the parts of the described schedule that differ from t; none
// means an update would change nothing.
func (t *target) diff(d *client.ScheduleDescription) []string {
	var out []string
	add := func(differs bool, what string) {
		if differs {
			out = append(out, what)
		}
	}
	s := d.Schedule
	add(s.Spec == nil || !sameSpec(t.spec, *s.Spec), "spec")
	add(s.Policy == nil || s.Policy.Overlap != t.overlap || s.Policy.CatchupWindow != t.catchup ||
		s.Policy.PauseOnFailure, "policy")
	add(s.State == nil || s.State.Paused != t.paused || s.State.Note != t.note || s.State.LimitedActions, "state")
	add(!maps.Equal(keywords(d.TypedSearchAttributes, d.SearchAttributes.GetIndexedFields()), t.attrs), "search attributes")

	a, ok := s.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		return append(out, "action")
	}
	wf, _ := a.Workflow.(string)
	add(a.ID != t.workflowID || wf != t.workflow || a.TaskQueue != t.taskQueue ||
		a.WorkflowExecutionTimeout != t.runTimeout || a.WorkflowRunTimeout != 0 || a.RetryPolicy != nil, "action")
	add(!sameArgs(a.Args, t.args), "action input")
	add(!maps.Equal(decodeMemo(a.Memo), t.actionMemo), "action memo")
	add(!maps.Equal(keywords(a.TypedSearchAttributes, a.UntypedSearchAttributes), t.attrs), "action search attributes")
	return out
}

// sameSpec compares specs after filling in Temporal's range defaults (end
// before start means start, step 0 means 1) and treating "UTC" as the
// default time zone.
func sameSpec(want, got client.ScheduleSpec) bool {
	tz := func(s string) string {
		if s == "UTC" {
			return ""
		}
		return s
	}
	return slices.EqualFunc(want.Calendars, got.Calendars, sameCalendar) &&
		slices.EqualFunc(want.Skip, got.Skip, sameCalendar) &&
		slices.Equal(want.Intervals, got.Intervals) &&
		len(got.CronExpressions) == 0 &&
		want.StartAt.Equal(got.StartAt) && want.EndAt.Equal(got.EndAt) &&
		want.Jitter == got.Jitter && tz(want.TimeZoneName) == tz(got.TimeZoneName)
}

func sameCalendar(a, b client.ScheduleCalendarSpec) bool {
	return sameRanges(a.Second, b.Second) && sameRanges(a.Minute, b.Minute) &&
		sameRanges(a.Hour, b.Hour) && sameRanges(a.DayOfMonth, b.DayOfMonth) &&
		sameRanges(a.Month, b.Month) && sameRanges(a.Year, b.Year) &&
		sameRanges(a.DayOfWeek, b.DayOfWeek) && a.Comment == b.Comment
}

func sameRanges(a, b []client.ScheduleRange) bool {
	norm := func(r client.ScheduleRange) client.ScheduleRange {
		if r.End < r.Start {
			r.End = r.Start
		}
		if r.Step <= 0 {
			r.Step = 1
		}
		return r
	}
	return slices.EqualFunc(a, b, func(x, y client.ScheduleRange) bool { return norm(x) == norm(y) })
}

// sameArgs reports whether the described workflow input is want, compared
// as encoded payloads (Temporal returns the payload it was given).
func sameArgs(got []any, want any) bool {
	if len(got) != 1 {
		return false
	}
	p, ok := got[0].(*commonpb.Payload)
	if !ok {
		return false
	}
	w, err := converter.GetDefaultDataConverter().ToPayload(want)
	if err != nil {
		return false
	}
	return bytes.Equal(p.GetData(), w.GetData())
}

// decodeMemo decodes a described action memo (payloads) into strings;
// a value that is not a string payload decodes to a marker that never
// equals a wanted value.
func decodeMemo(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	dc := converter.GetDefaultDataConverter()
	for k, v := range m {
		var s string
		p, ok := v.(*commonpb.Payload)
		if !ok || dc.FromPayload(p, &s) != nil {
			s = "\x00undecodable"
		}
		out[k] = s
	}
	return out
}

// systemAttrPrefix starts the search attributes Temporal maintains itself
// (TemporalSchedulePaused, ...); they are not ours to compare.
const systemAttrPrefix = "Temporal"

// keywords flattens typed search attributes plus any the SDK could not type
// (payloads) into name → string value.
func keywords(typed temporal.SearchAttributes, untyped map[string]*commonpb.Payload) map[string]string {
	out := map[string]string{}
	for k, v := range typed.GetUntypedValues() {
		if !strings.HasPrefix(k.GetName(), systemAttrPrefix) {
			out[k.GetName()] = fmt.Sprint(v)
		}
	}
	dc := converter.GetDefaultDataConverter()
	for k, p := range untyped {
		if _, ok := out[k]; ok || strings.HasPrefix(k, systemAttrPrefix) {
			continue
		}
		var s string
		if dc.FromPayload(p, &s) != nil {
			s = "\x00undecodable"
		}
		out[k] = s
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
