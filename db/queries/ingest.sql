-- Batch inserts of the ingest pipeline (internal/ingest). Each query writes
-- many rows in one statement from parallel arrays (one array per column,
-- same length): the pipeline collects a whole group commit's records per
-- table and sends one statement per table.
--
-- Drift rows are idempotent: a redelivered message stores nothing twice.
-- Each drift table has two inserts. InsertNew*Batch is a plain INSERT that
-- fails (unique_violation) when a row exists already. The pipeline writes a
-- batch with it first, because ON CONFLICT's speculative insertion makes an
-- insert about 40% slower (measured: BenchmarkInsertSPC in internal/ingest).
-- Only when that transaction fails on a duplicate (a redelivered message)
-- does it write the batch again with Insert*Batch, which skips duplicates
-- (ON CONFLICT DO NOTHING). :execrows returns the rows inserted.

-- name: InsertNewSpcDriftBatch :execrows
INSERT INTO scouter.spc_drift (created_at, entity_id, feature, value)
SELECT
    unnest(@created_at::timestamptz[]),
    unnest(@entity_id::integer[]),
    unnest(@feature::text[]),
    unnest(@value::double precision[]);

-- name: InsertSpcDriftBatch :execrows
INSERT INTO scouter.spc_drift (created_at, entity_id, feature, value)
SELECT
    unnest(@created_at::timestamptz[]),
    unnest(@entity_id::integer[]),
    unnest(@feature::text[]),
    unnest(@value::double precision[])
ON CONFLICT DO NOTHING;

-- name: InsertNewPsiDriftBatch :execrows
INSERT INTO scouter.psi_drift (created_at, entity_id, feature, bin_id, bin_count)
SELECT
    unnest(@created_at::timestamptz[]),
    unnest(@entity_id::integer[]),
    unnest(@feature::text[]),
    unnest(@bin_id::integer[]),
    unnest(@bin_count::integer[]);

-- name: InsertPsiDriftBatch :execrows
INSERT INTO scouter.psi_drift (created_at, entity_id, feature, bin_id, bin_count)
SELECT
    unnest(@created_at::timestamptz[]),
    unnest(@entity_id::integer[]),
    unnest(@feature::text[]),
    unnest(@bin_id::integer[]),
    unnest(@bin_count::integer[])
ON CONFLICT DO NOTHING;

-- name: InsertNewCustomDriftBatch :execrows
INSERT INTO scouter.custom_drift (created_at, entity_id, metric, value)
SELECT
    unnest(@created_at::timestamptz[]),
    unnest(@entity_id::integer[]),
    unnest(@metric::text[]),
    unnest(@value::double precision[]);

-- name: InsertCustomDriftBatch :execrows
INSERT INTO scouter.custom_drift (created_at, entity_id, metric, value)
SELECT
    unnest(@created_at::timestamptz[]),
    unnest(@entity_id::integer[]),
    unnest(@metric::text[]),
    unnest(@value::double precision[])
ON CONFLICT DO NOTHING;

-- Observability records carry no timestamp: created_at is the insert time
-- (the column default). The table has no natural key, so no conflict target.
-- name: InsertObservabilityMetricBatch :execrows
INSERT INTO scouter.observability_metric (entity_id, request_count, error_count, route_metrics)
SELECT
    unnest(@entity_id::integer[]),
    unnest(@request_count::bigint[]),
    unnest(@error_count::bigint[]),
    unnest(@route_metrics::jsonb[]);

-- A tag that exists already only has its updated_at bumped. The arrays must
-- not hold the same (entity_type, entity_id, key, value) twice: DO UPDATE
-- cannot touch one row twice in a statement (the pipeline deduplicates).
-- name: UpsertTagBatch :execrows
INSERT INTO scouter.tags (entity_type, entity_id, key, value)
SELECT
    unnest(@entity_type::text[]),
    unnest(@entity_id::text[]),
    unnest(@key::text[]),
    unnest(@value::text[])
ON CONFLICT ON CONSTRAINT tags_pkey DO UPDATE SET updated_at = now();
