-- GetDriftProfileByEntityID returns the newest profile row of an entity
-- (re-registering a key can leave more than one, see storage.md §1.5).
-- name: GetDriftProfileByEntityID :one
SELECT uid, entity_id, created_at, updated_at, name, space, version, drift_type,
       major, minor, patch, pre_tag, build_tag, profile, active, schedule,
       next_run, previous_run, status, processing_started_at, status_reason,
       last_error_at, scouter_version
FROM scouter.drift_profile
WHERE entity_id = @entity_id
ORDER BY created_at DESC, uid DESC
LIMIT 1;

-- name: ListActiveProfiles :many
SELECT uid, entity_id, created_at, updated_at, name, space, version, drift_type,
       major, minor, patch, pre_tag, build_tag, profile, active, schedule,
       next_run, previous_run, status, processing_started_at, status_reason,
       last_error_at, scouter_version
FROM scouter.drift_profile
WHERE active
ORDER BY entity_id, uid;

-- name: InsertDriftProfile :one
INSERT INTO scouter.drift_profile (
    uid, entity_id, name, space, version, drift_type, major, minor, patch,
    pre_tag, build_tag, profile, active, schedule, next_run, previous_run,
    scouter_version, created_at, updated_at
) VALUES (
    @uid, @entity_id, @name, @space, @version, @drift_type, @major, @minor, @patch,
    sqlc.narg(pre_tag), sqlc.narg(build_tag), @profile, @active, @schedule,
    sqlc.narg(next_run), sqlc.narg(previous_run), @scouter_version, @created_at, @created_at
)
RETURNING uid, entity_id, created_at, updated_at, name, space, version, drift_type,
          major, minor, patch, pre_tag, build_tag, profile, active, schedule,
          next_run, previous_run, status, processing_started_at, status_reason,
          last_error_at, scouter_version;
