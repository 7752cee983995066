package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/workflows"
)

func TestSameRanges(t *testing.T) {
	tests := []struct {
		name string
		a, b []client.ScheduleRange
		want bool
	}{
		{"defaults filled in", []client.ScheduleRange{{Start: 5}}, []client.ScheduleRange{{Start: 5, End: 5, Step: 1}}, true},
		{"nil and empty", nil, []client.ScheduleRange{}, true},
		{"other step", []client.ScheduleRange{{Start: 0, End: 23, Step: 6}}, []client.ScheduleRange{{Start: 0, End: 23, Step: 12}}, false},
		{"other order", []client.ScheduleRange{{Start: 1}, {Start: 2}}, []client.ScheduleRange{{Start: 2}, {Start: 1}}, false},
		{"one missing", []client.ScheduleRange{{Start: 1}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, sameRanges(tt.a, tt.b), "sameRanges(%v, %v)", tt.a, tt.b)
		})
	}
}

// described turns t into what Describe would return for it.
func described(t *testing.T, tg *target) *client.ScheduleDescription {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	payload := func(v any) *commonpb.Payload {
		p, err := dc.ToPayload(v)
		require.NoError(t, err)
		return p
	}
	a := tg.action()
	a.Args = []any{payload(tg.args)}
	for k, v := range a.Memo {
		a.Memo[k] = payload(v)
	}
	spec := tg.spec
	return &client.ScheduleDescription{
		Schedule: client.Schedule{
			Action: a,
			Spec:   &spec,
			Policy: &client.SchedulePolicies{Overlap: tg.overlap, CatchupWindow: tg.catchup},
			State:  &client.ScheduleState{Paused: tg.paused, Note: tg.note},
		},
		TypedSearchAttributes: temporal.NewSearchAttributes(tg.searchAttributes().Copy(),
			temporal.NewSearchAttributeKeyBool("TemporalSchedulePaused").ValueSet(tg.paused)),
	}
}

func TestDiff(t *testing.T) {
	m, err := NewManager(Options{Client: lazyClient(t), TaskQueue: "q"})
	require.NoError(t, err)
	p := Profile{Key: workflows.ProfileKey{Space: "s", Name: "n", Version: "1.0.0", DriftType: "Spc"}, UID: "u", Schedule: cron.EveryDay, Active: true}
	tests := []struct {
		name   string
		change func(d *client.ScheduleDescription)
		want   []string
	}{
		{"identical", func(*client.ScheduleDescription) {}, nil},
		{"time zone UTC is the default", func(d *client.ScheduleDescription) { d.Schedule.Spec.TimeZoneName = "UTC" }, nil},
		{"paused", func(d *client.ScheduleDescription) { d.Schedule.State.Paused = true }, []string{"state"}},
		{"catch-up window", func(d *client.ScheduleDescription) { d.Schedule.Policy.CatchupWindow = 365 * 24 * time.Hour }, []string{"policy"}},
		{"hour", func(d *client.ScheduleDescription) {
			d.Schedule.Spec.Calendars = []client.ScheduleCalendarSpec{d.Schedule.Spec.Calendars[0]}
			d.Schedule.Spec.Calendars[0].Hour = []client.ScheduleRange{{Start: 3}}
		}, []string{"spec"}},
		{"task queue", func(d *client.ScheduleDescription) {
			d.Schedule.Action.(*client.ScheduleWorkflowAction).TaskQueue = "other"
		}, []string{"action"}},
		{"memo", func(d *client.ScheduleDescription) {
			d.Schedule.Action.(*client.ScheduleWorkflowAction).Memo[MemoCron] = "not a payload"
		}, []string{"action memo"}},
		{"search attribute", func(d *client.ScheduleDescription) {
			d.TypedSearchAttributes = temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrSpace).ValueSet("other"))
		}, []string{"search attributes"}},
		{"not a workflow action", func(d *client.ScheduleDescription) { d.Schedule.Action = nil }, []string{"action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := m.driftTarget(p)
			require.NoError(t, err)
			d := described(t, tg)
			tt.change(d)
			assert.Equal(t, tt.want, tg.diff(d))
		})
	}
}

func lazyClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: log.NewStructuredLogger(logging.Discard())})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}
