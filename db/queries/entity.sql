-- name: GetEntityIDByUID :one
SELECT id
FROM scouter.drift_entities
WHERE uid = @uid;

-- name: GetEntityByKey :one
SELECT id, uid, space, name, version, drift_type, created_at
FROM scouter.drift_entities
WHERE space = @space
  AND name = @name
  AND version = @version
  AND drift_type = @drift_type;

-- UpsertEntity registers (space, name, version, drift_type) under @uid. As
-- upstream does, re-registering an existing key replaces the entity's uid with
-- the new one (storage.md §1.5); the entity id stays the same.
-- name: UpsertEntity :one
INSERT INTO scouter.drift_entities (uid, space, name, version, drift_type)
VALUES (@uid, @space, @name, @version, @drift_type)
ON CONFLICT ON CONSTRAINT drift_entities_key
DO UPDATE SET uid = EXCLUDED.uid
RETURNING id, uid, space, name, version, drift_type, created_at;

-- name: GetEntityByUID :one
SELECT id, uid, space, name, version, drift_type, created_at
FROM scouter.drift_entities
WHERE uid = @uid;
