-- Entities, users and drift profiles (storage.md §1.4), not partitioned.
--
-- Deliberate differences from upstream v0.25.0:
--  * drift_entities.drift_type is NOT NULL: a NULL would slip past the
--    (space, name, version, drift_type) unique key and duplicate entities.
--  * user.created_at/updated_at/active/role/favorite_spaces are NOT NULL (they
--    all have defaults; upstream allowed NULL only by omission).
--  * drift_profile.entity_id references drift_entities(id) ON DELETE CASCADE;
--    name/space/version/drift_type/profile/schedule are NOT NULL (always set).
--  * No separate idx_entities_lookup: the index behind drift_entities_key
--    covers the same four columns.
--  * drift_profile gains status_reason and last_error_at (failed runs), and an
--    index on entity_id (profiles are looked up by entity).

-- +goose Up
CREATE TABLE IF NOT EXISTS scouter.drift_entities (
    id         serial PRIMARY KEY,
    uid        text NOT NULL DEFAULT gen_random_uuid()::text,
    space      text NOT NULL,
    name       text NOT NULL,
    version    text NOT NULL,
    drift_type text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT drift_entities_uid_key UNIQUE (uid),
    CONSTRAINT drift_entities_key UNIQUE (space, name, version, drift_type)
);

CREATE TABLE IF NOT EXISTS scouter."user" (
    id                    serial PRIMARY KEY,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    active                boolean NOT NULL DEFAULT true,
    username              text NOT NULL,
    password_hash         text NOT NULL,
    hashed_recovery_codes jsonb NOT NULL DEFAULT '[]'::jsonb,
    permissions           jsonb NOT NULL DEFAULT '[]'::jsonb,
    group_permissions     jsonb NOT NULL DEFAULT '[]'::jsonb,
    role                  text NOT NULL DEFAULT 'user',
    favorite_spaces       jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- The one current refresh token of the user (overwritten on login/refresh,
    -- cleared on logout). This column is the refresh-token store.
    refresh_token         text,
    email                 text NOT NULL,
    CONSTRAINT user_username_key UNIQUE (username),
    CONSTRAINT user_email_key UNIQUE (email)
);

CREATE INDEX IF NOT EXISTS idx_user_role ON scouter."user" (role);

CREATE TABLE IF NOT EXISTS scouter.drift_profile (
    uid                   text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    entity_id             integer NOT NULL REFERENCES scouter.drift_entities (id) ON DELETE CASCADE,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    name                  text NOT NULL,
    space                 text NOT NULL,
    version               text NOT NULL,
    drift_type            text NOT NULL,
    major                 integer NOT NULL DEFAULT 0,
    minor                 integer NOT NULL DEFAULT 0,
    patch                 integer NOT NULL DEFAULT 0,
    pre_tag               text,
    build_tag             text,
    profile               jsonb NOT NULL,
    active                boolean NOT NULL DEFAULT true,
    schedule              text NOT NULL,
    next_run              timestamptz,
    previous_run          timestamptz,
    status                text NOT NULL DEFAULT 'pending',
    processing_started_at timestamptz,
    -- Why the last run failed, and when (NULL after a successful run).
    status_reason         text,
    last_error_at         timestamptz,
    scouter_version       text NOT NULL DEFAULT '0.1.0'
);

CREATE INDEX IF NOT EXISTS idx_drift_profile_entity ON scouter.drift_profile (entity_id);
CREATE INDEX IF NOT EXISTS idx_drift_profile_job_queue ON scouter.drift_profile (next_run) WHERE active;
CREATE INDEX IF NOT EXISTS idx_drift_profile_status ON scouter.drift_profile (next_run, status) WHERE active;
CREATE INDEX IF NOT EXISTS idx_drift_profile_space_name ON scouter.drift_profile (space, name, version);

-- +goose Down
DROP TABLE IF EXISTS scouter.drift_profile;
DROP TABLE IF EXISTS scouter."user";
DROP TABLE IF EXISTS scouter.drift_entities;
