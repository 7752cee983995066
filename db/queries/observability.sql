-- Binned read of observability snapshots for GET /scouter/observability/metrics
-- (internal/driftread). Bins as in binned.sql (epoch-aligned date_bin with a
-- bin width in microseconds). Each snapshot's route_metrics array is
-- expanded; per (route, bin): averages of the latency percentiles and of
-- error_latency, sums of request and error counts, and the status-code
-- counts summed per code. One row per (route, bin), newest bin first.
-- Values missing from a stored element count as absent (avg/sum skip NULL;
-- an all-absent group reads 0).

-- name: ListBinnedObservabilityMetrics :many
WITH routes AS (
    SELECT
        date_bin((sqlc.arg(bin_us)::bigint) * '1 microsecond'::interval, o.created_at,
                 '1970-01-01 00:00:00+00'::timestamptz)::timestamptz AS bin_start,
        r.elem AS rm
    FROM scouter.observability_metric o
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(o.route_metrics) = 'array' THEN o.route_metrics ELSE '[]'::jsonb END
    ) AS r(elem)
    WHERE o.entity_id = @entity_id
      AND o.created_at >= @start_at::timestamptz
      AND jsonb_typeof(r.elem) = 'object'
), stats AS (
    SELECT
        coalesce(rm->>'route_name', '')::text AS route_name,
        bin_start,
        coalesce(avg((rm->'metrics'->>'p5')::double precision), 0)::double precision AS p5,
        coalesce(avg((rm->'metrics'->>'p25')::double precision), 0)::double precision AS p25,
        coalesce(avg((rm->'metrics'->>'p50')::double precision), 0)::double precision AS p50,
        coalesce(avg((rm->'metrics'->>'p95')::double precision), 0)::double precision AS p95,
        coalesce(avg((rm->'metrics'->>'p99')::double precision), 0)::double precision AS p99,
        coalesce(sum((rm->>'request_count')::numeric), 0)::bigint AS total_request_count,
        coalesce(sum((rm->>'error_count')::numeric), 0)::bigint AS total_error_count,
        coalesce(avg((rm->>'error_latency')::double precision), 0)::double precision AS error_latency
    FROM routes
    GROUP BY 1, 2
), codes AS (
    SELECT
        coalesce(rm->>'route_name', '')::text AS route_name,
        bin_start,
        s.key AS code,
        sum(s.value::numeric)::bigint AS n
    FROM routes
    CROSS JOIN LATERAL jsonb_each_text(
        CASE WHEN jsonb_typeof(rm->'status_codes') = 'object' THEN rm->'status_codes' ELSE '{}'::jsonb END
    ) AS s(key, value)
    GROUP BY 1, 2, 3
), code_maps AS (
    SELECT route_name, bin_start, jsonb_object_agg(code, n) AS status_counts
    FROM codes
    GROUP BY 1, 2
)
SELECT
    s.route_name,
    s.bin_start,
    s.p5,
    s.p25,
    s.p50,
    s.p95,
    s.p99,
    s.total_request_count,
    s.total_error_count,
    s.error_latency,
    coalesce(c.status_counts, '{}'::jsonb)::jsonb AS status_counts
FROM stats s
LEFT JOIN code_maps c ON c.route_name = s.route_name AND c.bin_start = s.bin_start
ORDER BY s.route_name, s.bin_start DESC;
