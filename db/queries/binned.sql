-- Binned reads of the drift tables for GET /scouter/drift/{spc,psi,custom}
-- (internal/driftread). Every query bins created_at with
--   date_bin(<bin_us> * 1 microsecond, created_at, '1970-01-01 00:00:00+00')
-- so bins are aligned to the Unix epoch whatever the session time zone is
-- (date_bin on timestamptz works on absolute time; the origin is spelled
-- with an explicit +00 offset). The bin width comes in whole microseconds
-- (bin_us >= 1), which is Postgres' interval resolution.
--
-- The window is [start_at, end_at); end_at NULL means no upper bound (the
-- preset intervals read "everything since now - interval", as upstream).
-- One row per (series, bin), newest bin first within a series, so a part
-- read from the archive later can be merged row by row.

-- name: ListBinnedSpcValues :many
SELECT
    feature,
    date_bin((sqlc.arg(bin_us)::bigint) * '1 microsecond'::interval, created_at,
             '1970-01-01 00:00:00+00'::timestamptz)::timestamptz AS bin_start,
    avg(value)::double precision AS value
FROM scouter.spc_drift
WHERE entity_id = @entity_id
  AND created_at >= @start_at::timestamptz
  AND created_at < coalesce(sqlc.narg(end_at)::timestamptz, 'infinity'::timestamptz)
GROUP BY 1, 2
ORDER BY 1, 2 DESC;

-- ListBinnedPsiCounts returns, per feature and time bin, each PSI bin's
-- summed count, keeping only time bins whose total count over all PSI bins
-- exceeds @min_total (upstream: 100) and only the listed features (those of
-- the stored profile).
-- name: ListBinnedPsiCounts :many
WITH counts AS (
    SELECT
        feature,
        date_bin((sqlc.arg(bin_us)::bigint) * '1 microsecond'::interval, created_at,
                 '1970-01-01 00:00:00+00'::timestamptz)::timestamptz AS bin_start,
        bin_id,
        sum(bin_count)::bigint AS bin_total
    FROM scouter.psi_drift
    WHERE entity_id = @entity_id
      AND feature = ANY(@features::text[])
      AND created_at >= @start_at::timestamptz
      AND created_at < coalesce(sqlc.narg(end_at)::timestamptz, 'infinity'::timestamptz)
    GROUP BY 1, 2, 3
), totals AS (
    SELECT
        feature,
        bin_start,
        bin_id,
        bin_total,
        (sum(bin_total) OVER (PARTITION BY feature, bin_start))::bigint AS feature_total
    FROM counts
)
SELECT feature, bin_start, bin_id, bin_total
FROM totals
WHERE feature_total > @min_total::bigint
ORDER BY feature, bin_start DESC, bin_id;

-- ListBinnedCustomStats returns per metric and bin the average and the
-- sample standard deviation (0 when a bin holds a single value).
-- name: ListBinnedCustomStats :many
SELECT
    metric,
    date_bin((sqlc.arg(bin_us)::bigint) * '1 microsecond'::interval, created_at,
             '1970-01-01 00:00:00+00'::timestamptz)::timestamptz AS bin_start,
    avg(value)::double precision AS avg,
    coalesce(stddev_samp(value), 0)::double precision AS stddev
FROM scouter.custom_drift
WHERE entity_id = @entity_id
  AND created_at >= @start_at::timestamptz
  AND created_at < coalesce(sqlc.narg(end_at)::timestamptz, 'infinity'::timestamptz)
GROUP BY 1, 2
ORDER BY 1, 2 DESC;

-- GetLatestProfileJSON returns the newest stored profile of an entity (the
-- PSI read needs its reference bins).
-- name: GetLatestProfileJSON :one
SELECT profile
FROM scouter.drift_profile
WHERE entity_id = @entity_id
ORDER BY created_at DESC, uid DESC
LIMIT 1;
