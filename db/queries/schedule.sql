-- Reads of the drift-schedule sync (internal/schedule): the few columns a
-- Temporal Schedule is built from. A profile key (space, name, version,
-- drift_type) normally has one row; should an interrupted re-registration
-- leave several, the newest row decides, as in GetDriftProfileByEntityID.

-- ListDriftScheduleProfiles returns the row deciding each profile key's
-- schedule, active or not, ordered by key.
-- name: ListDriftScheduleProfiles :many
SELECT DISTINCT ON (space, name, version, drift_type)
       uid, space, name, version, drift_type, schedule, active
FROM scouter.drift_profile
ORDER BY space, name, version, drift_type, created_at DESC, uid DESC;

-- GetDriftScheduleProfileByUID returns one profile row's schedule columns.
-- name: GetDriftScheduleProfileByUID :one
SELECT uid, space, name, version, drift_type, schedule, active
FROM scouter.drift_profile
WHERE uid = @uid;

-- GetDriftScheduleProfileByKey returns the row deciding the schedule of a
-- profile key (the newest one).
-- name: GetDriftScheduleProfileByKey :one
SELECT uid, space, name, version, drift_type, schedule, active
FROM scouter.drift_profile
WHERE space = @space
  AND name = @name
  AND version = @version
  AND drift_type = @drift_type
ORDER BY created_at DESC, uid DESC
LIMIT 1;
