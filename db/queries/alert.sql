-- ListRunAlerts returns the alerts one drift-check run stored (the rows of
-- the entity created at the run's tick) for the AlertFanOut workflow,
-- grouped by entity name (feature or metric), in insertion order within it.
-- name: ListRunAlerts :many
SELECT id::integer AS id, entity_name, alert
FROM scouter.drift_alert
WHERE entity_id = @entity_id
  AND created_at = @created_at
ORDER BY entity_name, id;

-- ListDriftAlertsDesc is the first page of POST /scouter/alerts (drift.md
-- §5.7), newest first. The four ListDriftAlerts* queries are its keyset
-- pages: newest first (Desc) or oldest first (Asc), from the start or from a
-- cursor. The cursor variants are separate queries, not "@cursor IS NULL OR
-- ..." filters, so the cursor is always an index condition on (entity_id,
-- created_at, id).
-- name: ListDriftAlertsDesc :many
SELECT id::integer AS id, created_at, entity_name, alert, active
FROM scouter.drift_alert
WHERE entity_id = @entity_id
  AND (sqlc.narg(active)::boolean IS NULL OR active = sqlc.narg(active)::boolean)
  AND (sqlc.narg(start_at)::timestamptz IS NULL OR created_at >= sqlc.narg(start_at)::timestamptz)
  AND (sqlc.narg(end_at)::timestamptz IS NULL OR created_at < sqlc.narg(end_at)::timestamptz)
ORDER BY created_at DESC, id DESC
LIMIT @row_limit;

-- ListDriftAlertsDescBefore is the page after a cursor, newest first. A NULL
-- cursor_id compares as SQL NULL, as upstream's row comparison does.
-- name: ListDriftAlertsDescBefore :many
SELECT id::integer AS id, created_at, entity_name, alert, active
FROM scouter.drift_alert
WHERE entity_id = @entity_id
  AND (created_at, id) < (@cursor_created_at::timestamptz, sqlc.narg(cursor_id)::integer)
  AND (sqlc.narg(active)::boolean IS NULL OR active = sqlc.narg(active)::boolean)
  AND (sqlc.narg(start_at)::timestamptz IS NULL OR created_at >= sqlc.narg(start_at)::timestamptz)
  AND (sqlc.narg(end_at)::timestamptz IS NULL OR created_at < sqlc.narg(end_at)::timestamptz)
ORDER BY created_at DESC, id DESC
LIMIT @row_limit;

-- ListDriftAlertsAsc is the oldest page ("previous" without a cursor).
-- name: ListDriftAlertsAsc :many
SELECT id::integer AS id, created_at, entity_name, alert, active
FROM scouter.drift_alert
WHERE entity_id = @entity_id
  AND (sqlc.narg(active)::boolean IS NULL OR active = sqlc.narg(active)::boolean)
  AND (sqlc.narg(start_at)::timestamptz IS NULL OR created_at >= sqlc.narg(start_at)::timestamptz)
  AND (sqlc.narg(end_at)::timestamptz IS NULL OR created_at < sqlc.narg(end_at)::timestamptz)
ORDER BY created_at ASC, id ASC
LIMIT @row_limit;

-- ListDriftAlertsAscAfter is the page before a cursor, oldest first (the
-- caller reverses it).
-- name: ListDriftAlertsAscAfter :many
SELECT id::integer AS id, created_at, entity_name, alert, active
FROM scouter.drift_alert
WHERE entity_id = @entity_id
  AND (created_at, id) > (@cursor_created_at::timestamptz, sqlc.narg(cursor_id)::integer)
  AND (sqlc.narg(active)::boolean IS NULL OR active = sqlc.narg(active)::boolean)
  AND (sqlc.narg(start_at)::timestamptz IS NULL OR created_at >= sqlc.narg(start_at)::timestamptz)
  AND (sqlc.narg(end_at)::timestamptz IS NULL OR created_at < sqlc.narg(end_at)::timestamptz)
ORDER BY created_at ASC, id ASC
LIMIT @row_limit;

-- UpdateDriftAlertStatus acknowledges (active = false) or re-opens an alert.
-- name: UpdateDriftAlertStatus :one
UPDATE scouter.drift_alert
SET active = @active,
    updated_at = now()
WHERE id = @id::integer
RETURNING id::integer AS id, entity_id, active, updated_at;

-- UpsertAlertDelivery creates the delivery record of one message of a run
-- on one channel, or returns the existing one (its status tells whether the
-- message was already delivered).
-- name: UpsertAlertDelivery :one
INSERT INTO scouter.alert_delivery (run_id, entity_id, channel, message_key)
VALUES (@run_id, @entity_id, @channel, @message_key)
ON CONFLICT ON CONSTRAINT alert_delivery_key
DO UPDATE SET updated_at = now()
RETURNING id, status, attempts;

-- MarkAlertDelivered records a successful send after @attempts attempts.
-- name: MarkAlertDelivered :exec
UPDATE scouter.alert_delivery
SET status = 'delivered',
    attempts = GREATEST(attempts, @attempts::integer),
    last_error = NULL,
    delivered_at = now(),
    updated_at = now()
WHERE id = @id;

-- RecordAlertDeliveryFailure records a failed attempt: status stays
-- 'pending' while retries remain and becomes 'failed' for a rejection or
-- the last attempt. A delivered record is never downgraded.
-- name: RecordAlertDeliveryFailure :exec
UPDATE scouter.alert_delivery
SET status = @status,
    attempts = GREATEST(attempts, @attempts::integer),
    last_error = @last_error,
    updated_at = now()
WHERE id = @id
  AND status <> 'delivered';

-- ListAlertDeliveries returns the delivery records of a run.
-- name: ListAlertDeliveries :many
SELECT id, run_id, entity_id, channel, message_key, status, attempts,
       last_error, created_at, updated_at, delivered_at
FROM scouter.alert_delivery
WHERE run_id = @run_id
ORDER BY channel, message_key;
