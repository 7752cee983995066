-- Schema, pg_partman, and the partition/maintenance helpers later migrations use.
--
-- Everything the server owns lives in schema "scouter" (goose's version table too).
-- pg_partman is installed into "scouter" so its objects (create_parent, part_config,
-- run_maintenance_proc, template_scouter_<table>) sit next to ours. Both partman 4.x
-- (Debian postgresql-NN-partman) and 5.x are supported: the helper below detects the
-- installed major version at run time.

-- +goose Up
-- Guarded rather than CREATE SCHEMA IF NOT EXISTS: that statement checks the
-- CREATE privilege on the database even when the schema exists, and a
-- non-superuser deployment pre-creates the schema and grants only on it.
-- +goose StatementBegin
DO $do$
BEGIN
    IF to_regnamespace('scouter') IS NULL THEN
        CREATE SCHEMA scouter;
    END IF;
END
$do$;
-- +goose StatementEnd

CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA scouter;

-- scouter.register_time_partitions registers a table that was created
-- PARTITION BY RANGE (<p_control>) with pg_partman for daily partitions, and sets
-- its retention. Idempotent: when the table is already registered only the
-- settings are (re)applied, so calling it twice with the same arguments changes
-- nothing, and a later migration can call it again to change the retention.
-- Returns true when the table was registered by this call.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION scouter.register_time_partitions(
    p_table regclass,
    p_control text,
    p_retention interval,
    p_premake int DEFAULT 4,
    p_keep_table boolean DEFAULT false
) RETURNS boolean
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_parent text;
    v_partman_schema text;
    v_partman_version text;
    v_major int;
    v_registered boolean;
BEGIN
    IF p_table IS NULL OR p_control IS NULL OR p_control = '' THEN
        RAISE EXCEPTION 'register_time_partitions: table and control column are required';
    END IF;
    IF p_premake IS NULL OR p_premake < 1 THEN
        RAISE EXCEPTION 'register_time_partitions: premake must be >= 1, got %', p_premake;
    END IF;
    IF p_retention IS NOT NULL AND p_retention <= interval '0' THEN
        RAISE EXCEPTION 'register_time_partitions: retention must be positive, got %', p_retention;
    END IF;

    -- partman identifies a partition set by the unquoted "schema.table" text.
    SELECT n.nspname || '.' || c.relname
      INTO v_parent
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = p_table;

    IF NOT EXISTS (
        SELECT 1
          FROM pg_catalog.pg_partitioned_table p
          JOIN pg_catalog.pg_attribute a
            ON a.attrelid = p.partrelid AND a.attnum = ANY (p.partattrs::int2[])
         WHERE p.partrelid = p_table AND p.partstrat = 'r' AND a.attname = p_control
    ) THEN
        RAISE EXCEPTION 'register_time_partitions: % is not partitioned by range on column %', v_parent, p_control;
    END IF;

    SELECT n.nspname, e.extversion
      INTO v_partman_schema, v_partman_version
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_partman';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'register_time_partitions: extension pg_partman is not installed';
    END IF;
    v_major := split_part(v_partman_version, '.', 1)::int;

    -- Serialise concurrent registrations of the same table.
    PERFORM pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtext('scouter.register_time_partitions'), pg_catalog.hashtext(v_parent));

    -- Dynamic SQL: partman's schema is only known at run time, and the two
    -- create_parent signatures cannot both be planned on one server.
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.part_config WHERE parent_table = $1)', v_partman_schema)
       INTO v_registered
      USING v_parent;

    IF NOT v_registered THEN
        IF v_major = 4 THEN
            EXECUTE format(
                'SELECT %I.create_parent(p_parent_table := $1, p_control := $2, p_type := %L, p_interval := %L, p_premake := $3)',
                v_partman_schema, 'native', 'daily')
              USING v_parent, p_control, p_premake;
        ELSIF v_major >= 5 THEN
            EXECUTE format(
                'SELECT %I.create_parent(p_parent_table := $1, p_control := $2, p_interval := %L, p_premake := $3)',
                v_partman_schema, '1 day')
              USING v_parent, p_control, p_premake;
        ELSE
            RAISE EXCEPTION 'register_time_partitions: unsupported pg_partman version % (need 4.x or 5.x)', v_partman_version;
        END IF;
    END IF;

    EXECUTE format(
        'UPDATE %I.part_config
            SET retention = $2, retention_keep_table = $3, premake = $4, infinite_time_partitions = true
          WHERE parent_table = $1
            AND (retention IS DISTINCT FROM $2 OR retention_keep_table IS DISTINCT FROM $3
                 OR premake IS DISTINCT FROM $4 OR infinite_time_partitions IS DISTINCT FROM true)',
        v_partman_schema)
      USING v_parent, p_retention::text, p_keep_table, p_premake;

    RETURN NOT v_registered;
END
$fn$;
-- +goose StatementEnd

-- scouter.ensure_partition_maintenance schedules the hourly pg_cron job
-- "partition-maintenance" (CALL <partman schema>.run_maintenance_proc()) when
-- pg_cron can run in this database: pg_cron is in shared_preload_libraries and
-- cron.database_name names the current database. Otherwise it raises a NOTICE
-- and does nothing. Idempotent; returns what it did ("scheduled", "exists" or
-- "skipped: <reason>"). db.Migrate calls it after every migration run.
--
-- Both settings are readable only by superusers and pg_read_all_settings
-- members. For other roles the catalog decides: pg_cron can only be installed
-- in its own database, so an installed pg_cron means "this is the one".
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION scouter.ensure_partition_maintenance() RETURNS text
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_cron_db text;
    v_preload text[];
    v_settings_readable boolean := true;
    v_partman_schema text;
    v_reason text;
    v_exists boolean;
BEGIN
    BEGIN
        v_cron_db := current_setting('cron.database_name', true);
        v_preload := string_to_array(replace(replace(
            coalesce(current_setting('shared_preload_libraries', true), ''), ' ', ''), '"', ''), ',');
    EXCEPTION WHEN insufficient_privilege THEN
        v_settings_readable := false;
    END;

    IF v_settings_readable THEN
        IF NOT ('pg_cron' = ANY (v_preload)) THEN
            v_reason := 'pg_cron is not in shared_preload_libraries';
        ELSIF v_cron_db IS DISTINCT FROM current_database() THEN
            v_reason := format('pg_cron runs in database %s, not %s', coalesce(v_cron_db, '(unset)'), current_database());
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        v_reason := 'pg_cron is not installed in this database (and this role cannot read the pg_cron settings)';
    END IF;
    IF v_reason IS NOT NULL THEN
        RAISE NOTICE 'partition maintenance job not scheduled: %; run CALL scouter.run_maintenance_proc() periodically yourself', v_reason;
        RETURN 'skipped: ' || v_reason;
    END IF;

    SELECT n.nspname INTO v_partman_schema
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_partman';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ensure_partition_maintenance: extension pg_partman is not installed';
    END IF;

    -- Serialise replicas that migrate at the same time.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('scouter.ensure_partition_maintenance'));

    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
        -- Dynamic SQL: the cron schema exists only once pg_cron is installed.
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1)'
           INTO v_exists
          USING 'partition-maintenance';
        IF v_exists THEN
            RETURN 'exists';
        END IF;
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
          USING 'partition-maintenance', '0 * * * *',
                format('CALL %I.run_maintenance_proc()', v_partman_schema);
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'partition maintenance job not scheduled: %', SQLERRM;
        RETURN 'skipped: ' || SQLERRM;
    END;
    RETURN 'scheduled';
END
$fn$;
-- +goose StatementEnd

SELECT scouter.ensure_partition_maintenance();

-- +goose Down
-- +goose StatementBegin
DO $do$
BEGIN
    IF to_regclass('cron.job') IS NOT NULL THEN
        EXECUTE 'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1 AND database = current_database()'
          USING 'partition-maintenance';
    END IF;
END
$do$;
-- +goose StatementEnd
DROP FUNCTION IF EXISTS scouter.ensure_partition_maintenance();
DROP FUNCTION IF EXISTS scouter.register_time_partitions(regclass, text, interval, int, boolean);
DROP EXTENSION IF EXISTS pg_partman;
