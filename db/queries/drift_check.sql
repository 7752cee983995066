-- Queries of the DriftCheck workflow's activities (activities/drift.go).
--
-- One drift check evaluates the window (window_start, window_end] of a
-- profile's records: window_end is the schedule tick of the run and
-- window_start the previous tick (drift_profile.previous_run). Records are
-- assigned to windows by their own created_at. The aggregation happens here;
-- the maths (zone rules, PSI, thresholds) in internal/drift.

-- GetDriftCheckProfile returns the newest profile row of the entity
-- (space, name, version, drift_type); the drift type matches
-- case-insensitively, as upstream parses it.
-- name: GetDriftCheckProfile :one
SELECT e.id AS entity_id, p.uid, p.drift_type, p.active, p.schedule, p.previous_run
FROM scouter.drift_entities e
JOIN scouter.drift_profile p ON p.entity_id = e.id
WHERE e.space = @space
  AND e.name = @name
  AND e.version = @version
  AND lower(e.drift_type) = lower(@drift_type::text)
ORDER BY p.created_at DESC, p.uid DESC
LIMIT 1;

-- ListSpcWindowSeries returns, per feature, the SPC values (sample means)
-- of the window and their created_at, packed in Postgres' binary send
-- format (created_at: big-endian int64 microseconds since
-- 2000-01-01T00:00:00Z, value: big-endian IEEE 754 float64), 8 bytes per
-- record, both in the same (unspecified) order: the caller orders them
-- newest first. An empty @features means every feature. Ordering inside the
-- aggregate would make Postgres sort the whole window; hash aggregation
-- keeps it a single pass and usually yields insertion (time) order. Packed
-- bytea instead of arrays: no per-element header to write or decode.
-- name: ListSpcWindowSeries :many
SELECT feature,
       string_agg(timestamptz_send(created_at), ''::bytea) AS created_at_packed,
       string_agg(float8send(value), ''::bytea) AS value_packed
FROM scouter.spc_drift
WHERE entity_id = @entity_id
  AND created_at > @window_start::timestamptz
  AND created_at <= @window_end::timestamptz
  AND (cardinality(@features::text[]) = 0 OR feature = ANY (@features::text[]))
GROUP BY feature
ORDER BY feature;

-- ListPsiWindowCounts returns the summed bin_count per (feature, bin_id) of
-- the window for the listed features.
-- name: ListPsiWindowCounts :many
SELECT feature, bin_id, sum(bin_count)::bigint AS bin_total
FROM scouter.psi_drift
WHERE entity_id = @entity_id
  AND created_at > @window_start::timestamptz
  AND created_at <= @window_end::timestamptz
  AND feature = ANY (@features::text[])
GROUP BY feature, bin_id
ORDER BY feature, bin_id;

-- ListCustomWindowAverages returns AVG(value) and the number of records per
-- metric of the window for the listed metrics.
-- name: ListCustomWindowAverages :many
SELECT metric, avg(value)::double precision AS avg_value, count(*) AS samples
FROM scouter.custom_drift
WHERE entity_id = @entity_id
  AND created_at > @window_start::timestamptz
  AND created_at <= @window_end::timestamptz
  AND metric = ANY (@metrics::text[])
GROUP BY metric
ORDER BY metric;

-- InsertDriftAlerts stores the alerts of one run, all with created_at = the
-- run's tick. The arrays are parallel (one element per alert). An alert
-- whose (created_at, entity_id, alert_key) exists already is skipped, so a
-- retried activity stores nothing twice; the result counts new rows.
-- name: InsertDriftAlerts :execrows
INSERT INTO scouter.drift_alert (created_at, entity_id, entity_name, alert, run_id, alert_key, updated_at)
SELECT @created_at::timestamptz,
       @entity_id::integer,
       unnest(@entity_names::text[]),
       unnest(@alerts::text[])::jsonb,
       @run_id::text,
       unnest(@alert_keys::text[]),
       @created_at::timestamptz
ON CONFLICT ON CONSTRAINT drift_alert_key DO NOTHING;

-- CountRunAlerts counts the alerts stored for one run (an entity's alerts
-- created at the run's tick).
-- name: CountRunAlerts :one
SELECT count(*)
FROM scouter.drift_alert
WHERE entity_id = @entity_id
  AND created_at = @created_at::timestamptz;

-- RecordDriftRun writes the outcome of one run on every profile row of the
-- entity: previous_run moves to @tick when @advance (never backwards),
-- next_run is the next tick, and status is 'pending' after a successful run
-- or 'failed' with its reason and time. The run never leaves 'processing'
-- behind: processing_started_at is cleared too.
-- name: RecordDriftRun :execrows
UPDATE scouter.drift_profile
SET previous_run = CASE
        WHEN @advance::boolean THEN greatest(coalesce(previous_run, @tick::timestamptz), @tick::timestamptz)
        ELSE previous_run
    END,
    next_run = sqlc.narg(next_run)::timestamptz,
    status = @status::text,
    status_reason = sqlc.narg(status_reason)::text,
    last_error_at = sqlc.narg(last_error_at)::timestamptz,
    processing_started_at = NULL,
    updated_at = @updated_at::timestamptz
WHERE entity_id = @entity_id;
