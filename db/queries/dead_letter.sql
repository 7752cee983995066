-- Dead letters: messages, or single records of a message, that can never be
-- stored (internal/ingest). record_index -1 stands for "the whole message"
-- (NULL in the table): sqlc cannot express NULL elements of an array param.

-- name: InsertDeadLetterBatch :execrows
INSERT INTO scouter.dead_letter (transport, source, reason, record_index, payload)
SELECT
    unnest(@transport::text[]),
    unnest(@source::text[]),
    unnest(@reason::text[]),
    NULLIF(unnest(@record_index::integer[]), -1),
    unnest(@payload::bytea[]);

-- ListDeadLetters pages newest first: pass the last page's smallest id as
-- before_id for the next page.
-- name: ListDeadLetters :many
SELECT id, created_at, transport, source, reason, record_index, payload
FROM scouter.dead_letter
WHERE sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint
ORDER BY id DESC
LIMIT @row_limit;
