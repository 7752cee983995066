-- One index per drift row instead of two.
--
-- Each drift table had a unique key leading with created_at (for idempotent
-- inserts) and a second btree on (entity_id, created_at) for reads. Every
-- read (binned drift routes, drift checks) filters on entity_id and a
-- created_at range, and inserts never name a conflict target, so the key
-- can lead with (entity_id, created_at) and serve both: each inserted row
-- then updates one btree instead of two. Retention and archival work on
-- whole daily partitions and need no created_at-first index.
--
-- On a partitioned table the new constraint builds an index on every
-- partition: on a large existing data set this migration takes a while
-- and holds the tables' write lock meanwhile (run it in a quiet hour).

-- +goose Up
ALTER TABLE scouter.spc_drift DROP CONSTRAINT IF EXISTS spc_drift_key;
ALTER TABLE scouter.spc_drift ADD CONSTRAINT spc_drift_key UNIQUE (entity_id, created_at, feature, value);
DROP INDEX IF EXISTS scouter.idx_spc_drift_entity_time;

ALTER TABLE scouter.psi_drift DROP CONSTRAINT IF EXISTS psi_drift_key;
ALTER TABLE scouter.psi_drift ADD CONSTRAINT psi_drift_key UNIQUE (entity_id, created_at, feature, bin_id);
DROP INDEX IF EXISTS scouter.idx_psi_drift_entity_time;

ALTER TABLE scouter.custom_drift DROP CONSTRAINT IF EXISTS custom_drift_key;
ALTER TABLE scouter.custom_drift ADD CONSTRAINT custom_drift_key UNIQUE (entity_id, created_at, metric);
DROP INDEX IF EXISTS scouter.idx_custom_drift_entity_time;

-- +goose Down
CREATE INDEX IF NOT EXISTS idx_custom_drift_entity_time ON scouter.custom_drift (entity_id, created_at);
ALTER TABLE scouter.custom_drift DROP CONSTRAINT IF EXISTS custom_drift_key;
ALTER TABLE scouter.custom_drift ADD CONSTRAINT custom_drift_key UNIQUE (created_at, entity_id, metric);

CREATE INDEX IF NOT EXISTS idx_psi_drift_entity_time ON scouter.psi_drift (entity_id, created_at);
ALTER TABLE scouter.psi_drift DROP CONSTRAINT IF EXISTS psi_drift_key;
ALTER TABLE scouter.psi_drift ADD CONSTRAINT psi_drift_key UNIQUE (created_at, entity_id, feature, bin_id);

CREATE INDEX IF NOT EXISTS idx_spc_drift_entity_time ON scouter.spc_drift (entity_id, created_at);
ALTER TABLE scouter.spc_drift DROP CONSTRAINT IF EXISTS spc_drift_key;
ALTER TABLE scouter.spc_drift ADD CONSTRAINT spc_drift_key UNIQUE (created_at, entity_id, feature, value);
