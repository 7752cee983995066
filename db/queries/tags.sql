-- Tag reads for GET /scouter/tags and POST /scouter/tags/entity
-- (internal/driftread). Tag writes are the ingest pipeline's UpsertTagBatch.

-- name: ListTags :many
SELECT entity_type, entity_id, key, value
FROM scouter.tags
WHERE entity_type = @entity_type
  AND entity_id = @entity_id
ORDER BY key, value;

-- ListEntityIDsByTags returns the ids of entities of @entity_type carrying
-- all (@match_all) or any of the (key, value) pairs given as the parallel
-- arrays @keys/@vals. A pair given twice counts once. Because (entity_type,
-- entity_id, key, value) is the primary key, each entity matches a pair at
-- most once, so counting the matched rows counts the distinct matched pairs.
-- (Upstream counted distinct keys, so env=a plus env=b could never match.)
-- name: ListEntityIDsByTags :many
WITH filters AS (
    SELECT DISTINCT unnest(@keys::text[]) AS key, unnest(@vals::text[]) AS value
)
SELECT t.entity_id
FROM scouter.tags t
JOIN filters f ON f.key = t.key AND f.value = t.value
WHERE t.entity_type = @entity_type
GROUP BY t.entity_id
HAVING NOT @match_all::boolean OR count(*) = (SELECT count(*) FROM filters)
ORDER BY t.entity_id;
