package schedule

import (
	"context"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/workflows"
)

// row is the schedule columns of a drift_profile row; the generated row
// types of db/queries/schedule.sql all convert to it.
type row = dbsqlc.ListDriftScheduleProfilesRow

// ProfileFromRow builds the schedule input of a drift_profile row.
func ProfileFromRow(r dbsqlc.ListDriftScheduleProfilesRow) Profile {
	return Profile{
		Key: workflows.ProfileKey{
			Space: r.Space, Name: r.Name, Version: r.Version, DriftType: r.DriftType,
		},
		UID:      r.UID,
		Schedule: r.Schedule,
		Active:   r.Active,
	}
}

// ReconcileRows reconciles the drift schedules with the given rows (every
// profile, as ListDriftScheduleProfiles returns them) and reports in the
// activity's terms: it is the activities.DriftScheduleReconciler the
// worker's ScheduleActivities use.
func (m *Manager) ReconcileRows(ctx context.Context, rows []dbsqlc.ListDriftScheduleProfilesRow, progress func(done, total int)) (*activities.ReconcileSchedulesResult, error) {
	profiles := make([]Profile, len(rows))
	for i, r := range rows {
		profiles[i] = ProfileFromRow(r)
	}
	var opts []ReconcileOption
	if progress != nil {
		opts = append(opts, WithProgress(progress))
	}
	rep, err := m.Reconcile(ctx, profiles, opts...)
	return &activities.ReconcileSchedulesResult{
		Profiles:  rep.Profiles,
		Created:   rep.Created,
		Updated:   rep.Updated,
		Unchanged: len(rep.Unchanged),
		Deleted:   rep.Deleted,
		Deferred:  rep.Deferred,
		Invalid:   rep.Invalid,
		Failed:    rep.Failed,
	}, err
}

var _ activities.DriftScheduleReconciler = (*Manager)(nil)
