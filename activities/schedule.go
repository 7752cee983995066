package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// ScheduleProfileReader reads the schedule columns of every drift profile
// (one row per profile key). *dbsqlc.Queries implements it.
type ScheduleProfileReader interface {
	ListDriftScheduleProfiles(ctx context.Context) ([]dbsqlc.ListDriftScheduleProfilesRow, error)
}

// DriftScheduleReconciler makes Temporal's drift schedules match the given
// profile rows, calling progress after each one.
// internal/schedule.(*Manager).ReconcileRows implements it (this package
// cannot import internal/schedule, which imports package workflows).
//
// The result is filled in even when the error is not nil; the error is
// about the schedules that could not be brought in line (worth retrying).
type DriftScheduleReconciler interface {
	ReconcileRows(ctx context.Context, rows []dbsqlc.ListDriftScheduleProfilesRow, progress func(done, total int)) (*ReconcileSchedulesResult, error)
}

// ScheduleActivities keep Temporal's drift schedules in line with the
// drift_profile table.
type ScheduleActivities struct {
	Profiles  ScheduleProfileReader
	Schedules DriftScheduleReconciler
}

// ReconcileSchedulesInput is the input of the ReconcileSchedules activity
// (it has no parameters yet).
type ReconcileSchedulesInput struct{}

// ReconcileSchedulesResult is what one reconcile pass did; the lists hold
// schedule ids.
type ReconcileSchedulesResult struct {
	// Profiles is the number of profile keys read from Postgres.
	Profiles  int      `json:"profiles"`
	Created   []string `json:"created,omitempty"`
	Updated   []string `json:"updated,omitempty"`
	Unchanged int      `json:"unchanged"`
	// Deleted are schedules whose profile no longer exists.
	Deleted []string `json:"deleted,omitempty"`
	// Deferred are such orphans that changed too recently to be sure the
	// profile is gone (a registration may have raced the read); the next
	// pass deletes them.
	Deferred []string `json:"deferred,omitempty"`
	// Invalid are "<id>: <reason>" for profiles whose stored schedule
	// cannot become a Temporal schedule; their schedules are left alone.
	Invalid []string `json:"invalid,omitempty"`
	// Failed are "<id>: <error>" for Temporal calls that failed.
	Failed []string `json:"failed,omitempty"`
}

// ReconcileSchedules reads every drift profile and makes the drift
// schedules match: create or update each profile's schedule (paused when
// the profile is inactive) and delete schedules without a profile. It
// heartbeats its progress. It is idempotent; a failed Temporal call fails
// the attempt (after every other profile was handled) so it is retried.
func (a *ScheduleActivities) ReconcileSchedules(ctx context.Context, _ *ReconcileSchedulesInput) (*ReconcileSchedulesResult, error) {
	if a == nil || a.Profiles == nil || a.Schedules == nil {
		return nil, errors.New("reconcile schedules: activity is missing its profile reader or schedule reconciler")
	}
	logger := activity.GetLogger(ctx)
	rows, err := a.Profiles.ListDriftScheduleProfiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile schedules: list profiles: %w", err)
	}
	activity.RecordHeartbeat(ctx, 0)
	res, err := a.Schedules.ReconcileRows(ctx, rows, func(done, _ int) { activity.RecordHeartbeat(ctx, done) })
	if res != nil {
		logger.Info("drift schedules reconciled", "profiles", res.Profiles,
			"created", len(res.Created), "updated", len(res.Updated), "unchanged", res.Unchanged,
			"deleted", len(res.Deleted), "deferred", len(res.Deferred),
			"invalid", res.Invalid, "failed", res.Failed)
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile schedules: %w", err)
	}
	return res, nil
}
