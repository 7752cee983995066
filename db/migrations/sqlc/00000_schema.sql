-- Read by sqlc only (sqlc.yaml lists it before db/migrations); goose never
-- sees it (subdirectory). Migration 00001 creates the schema at run time only
-- when it is missing, because CREATE SCHEMA IF NOT EXISTS needs the CREATE
-- privilege on the database even when the schema exists; sqlc cannot see a
-- schema created inside a DO block.
CREATE SCHEMA scouter;
