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

-- LockProfileFamily serialises profile registrations of one (space, name,
-- drift_type) until the transaction ends, so two concurrent registrations
-- cannot decide on the same next version. @lock_key is a hash of the three
-- computed by the caller.
-- name: LockProfileFamily :exec
SELECT pg_advisory_xact_lock(@lock_key::bigint);

-- ListProfileVersions returns the registered versions of a (space, name,
-- drift_type), the input of the next-version computation.
-- name: ListProfileVersions :many
SELECT major, minor, patch, pre_tag, build_tag
FROM scouter.drift_profile
WHERE space = @space
  AND name = @name
  AND drift_type = @drift_type;

-- DeleteReplacedDriftProfiles removes an entity's profile rows other than
-- @uid: re-registering (space, name, version, drift_type) replaces the
-- entity's uid, and the rows under the old uid would otherwise linger.
-- name: DeleteReplacedDriftProfiles :many
DELETE FROM scouter.drift_profile
WHERE entity_id = @entity_id
  AND uid <> @uid
RETURNING uid;

-- DeactivateOtherDriftProfiles deactivates the active profiles of the same
-- space, name and drift_type that belong to another entity (another version).
-- name: DeactivateOtherDriftProfiles :many
UPDATE scouter.drift_profile
SET active = false,
    updated_at = now()
WHERE active
  AND space = @space
  AND name = @name
  AND drift_type = @drift_type
  AND entity_id <> @entity_id
RETURNING uid;

-- RegisterDriftProfile inserts a newly registered profile. config.version in
-- the stored JSON is set to the decided @version. A uid that already exists
-- inserts nothing (no row is returned).
-- name: RegisterDriftProfile :one
INSERT INTO scouter.drift_profile (
    uid, entity_id, name, space, version, drift_type, major, minor, patch,
    pre_tag, build_tag, profile, active, schedule, next_run, previous_run,
    scouter_version, created_at, updated_at
) VALUES (
    @uid, @entity_id, @name, @space, @version, @drift_type, @major, @minor, @patch,
    sqlc.narg(pre_tag), sqlc.narg(build_tag),
    jsonb_set(@profile::jsonb, '{config,version}', to_jsonb(@version::text)),
    @active, @schedule, sqlc.narg(next_run), @created_at::timestamptz, @scouter_version,
    @created_at::timestamptz, @created_at::timestamptz
)
ON CONFLICT (uid) DO NOTHING
RETURNING uid, entity_id, created_at, updated_at, name, space, version, drift_type,
          major, minor, patch, pre_tag, build_tag, profile, active, schedule,
          next_run, previous_run, status, processing_started_at, status_reason,
          last_error_at, scouter_version;

-- UpdateDriftProfileByEntityID replaces the profile JSON and schedule of an
-- entity's profile rows. config.version keeps the registered version, and
-- next_run changes only when the schedule does (an unchanged schedule keeps
-- a pending run).
-- name: UpdateDriftProfileByEntityID :many
UPDATE scouter.drift_profile
SET profile = jsonb_set(@profile::jsonb, '{config,version}', to_jsonb(version)),
    scouter_version = @scouter_version,
    next_run = CASE WHEN schedule = @schedule::text THEN next_run ELSE sqlc.narg(next_run) END,
    schedule = @schedule::text,
    updated_at = now()
WHERE entity_id = @entity_id
RETURNING uid;

-- SetDriftProfileActive sets active on the profiles of one space, name and
-- version; a NULL @drift_type matches every drift type.
-- name: SetDriftProfileActive :many
UPDATE scouter.drift_profile
SET active = @active,
    updated_at = now()
WHERE space = @space
  AND name = @name
  AND version = @version
  AND (sqlc.narg(drift_type)::text IS NULL OR drift_type = sqlc.narg(drift_type)::text)
RETURNING uid;

-- DeactivateOtherDriftProfileVersions deactivates the active profiles of the
-- same space and name with another version; a NULL @drift_type matches every
-- drift type.
-- name: DeactivateOtherDriftProfileVersions :many
UPDATE scouter.drift_profile
SET active = false,
    updated_at = now()
WHERE active
  AND space = @space
  AND name = @name
  AND version <> @version
  AND (sqlc.narg(drift_type)::text IS NULL OR drift_type = sqlc.narg(drift_type)::text)
RETURNING uid;

-- name: ListDriftProfilesByVersion :many
SELECT uid, drift_type, profile, active
FROM scouter.drift_profile
WHERE space = @space
  AND name = @name
  AND version = @version
ORDER BY created_at, uid;

-- GetDriftProfileByUID returns one profile row (the schedule syncer reads
-- the row it is told about).
-- name: GetDriftProfileByUID :one
SELECT uid, entity_id, created_at, updated_at, name, space, version, drift_type,
       major, minor, patch, pre_tag, build_tag, profile, active, schedule,
       next_run, previous_run, status, processing_started_at, status_reason,
       last_error_at, scouter_version
FROM scouter.drift_profile
WHERE uid = @uid;
