package activities_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/db/dbsqlc"
)

type fakeProfileReader struct {
	rows []dbsqlc.ListDriftScheduleProfilesRow
	err  error
}

func (f fakeProfileReader) ListDriftScheduleProfiles(context.Context) ([]dbsqlc.ListDriftScheduleProfilesRow, error) {
	return f.rows, f.err
}

type fakeReconciler struct {
	got []dbsqlc.ListDriftScheduleProfilesRow
	res *activities.ReconcileSchedulesResult
	err error
}

func (f *fakeReconciler) ReconcileRows(_ context.Context, rows []dbsqlc.ListDriftScheduleProfilesRow, progress func(done, total int)) (*activities.ReconcileSchedulesResult, error) {
	f.got = rows
	for i := range rows {
		progress(i+1, len(rows))
	}
	return f.res, f.err
}

func TestReconcileSchedulesActivity(t *testing.T) {
	rows := []dbsqlc.ListDriftScheduleProfilesRow{
		{UID: "u1", Space: "s", Name: "a", Version: "1.0.0", DriftType: "Spc", Schedule: "0 0 0 * * *", Active: true},
		{UID: "u2", Space: "s", Name: "b", Version: "1.0.0", DriftType: "Psi", Schedule: "0 0 * * * *"},
	}
	ok := &activities.ReconcileSchedulesResult{Profiles: 2, Created: []string{"drift:s/a/1.0.0/Spc"}, Unchanged: 1}
	tests := []struct {
		name    string
		reader  fakeProfileReader
		rec     *fakeReconciler
		want    *activities.ReconcileSchedulesResult
		wantErr string
	}{
		{name: "reconciles what it read", reader: fakeProfileReader{rows: rows}, rec: &fakeReconciler{res: ok}, want: ok},
		{name: "database error", reader: fakeProfileReader{err: errors.New("connection refused")},
			rec: &fakeReconciler{res: ok}, wantErr: "list profiles: connection refused"},
		{name: "temporal error", reader: fakeProfileReader{rows: rows},
			rec:     &fakeReconciler{res: &activities.ReconcileSchedulesResult{Failed: []string{"x: boom"}}, err: errors.New("1 of 2 failed")},
			wantErr: "1 of 2 failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			acts := &activities.ScheduleActivities{Profiles: tt.reader, Schedules: tt.rec}
			env.RegisterActivity(acts)
			val, err := env.ExecuteActivity(acts.ReconcileSchedules, &activities.ReconcileSchedulesInput{})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			var got activities.ReconcileSchedulesResult
			require.NoError(t, val.Get(&got))
			assert.Equal(t, *tt.want, got)
			assert.Equal(t, tt.reader.rows, tt.rec.got, "rows handed to the reconciler")
		})
	}
}

func TestReconcileSchedulesActivityNeedsDeps(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	acts := &activities.ScheduleActivities{}
	env.RegisterActivity(acts)
	_, err := env.ExecuteActivity(acts.ReconcileSchedules, &activities.ReconcileSchedulesInput{})
	assert.ErrorContains(t, err, "missing its profile reader")
}
