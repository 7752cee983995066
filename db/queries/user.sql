-- name: GetUserByUsername :one
SELECT id, created_at, updated_at, active, username, password_hash, hashed_recovery_codes,
       permissions, group_permissions, role, favorite_spaces, refresh_token, email
FROM scouter."user"
WHERE username = @username;

-- name: ListUsers :many
SELECT id, created_at, updated_at, active, username, password_hash, hashed_recovery_codes,
       permissions, group_permissions, role, favorite_spaces, refresh_token, email
FROM scouter."user"
ORDER BY id;

-- name: InsertUser :one
INSERT INTO scouter."user" (
    username, password_hash, hashed_recovery_codes, permissions, group_permissions,
    role, favorite_spaces, active, email
) VALUES (
    @username, @password_hash, @hashed_recovery_codes, @permissions, @group_permissions,
    @role, @favorite_spaces, @active, @email
)
RETURNING id, created_at, updated_at, active, username, password_hash, hashed_recovery_codes,
          permissions, group_permissions, role, favorite_spaces, refresh_token, email;

-- UpdateUser writes the mutable fields of a user; the caller reads the user,
-- applies the change, and writes all of them back.
-- name: UpdateUser :one
UPDATE scouter."user"
SET active = @active,
    password_hash = @password_hash,
    hashed_recovery_codes = @hashed_recovery_codes,
    permissions = @permissions,
    group_permissions = @group_permissions,
    favorite_spaces = @favorite_spaces,
    updated_at = now()
WHERE username = @username
RETURNING id, created_at, updated_at, active, username, password_hash, hashed_recovery_codes,
          permissions, group_permissions, role, favorite_spaces, refresh_token, email;

-- name: DeleteUser :execrows
DELETE FROM scouter."user"
WHERE username = @username;

-- name: CountUsers :one
SELECT count(*)
FROM scouter."user";

-- name: ListAdminUsernames :many
SELECT username
FROM scouter."user"
WHERE role = 'admin'
ORDER BY username;

-- UpdateRefreshToken stores the user's one current refresh token; NULL clears
-- it (logout).
-- name: UpdateRefreshToken :execrows
UPDATE scouter."user"
SET refresh_token = sqlc.narg(refresh_token),
    updated_at = now()
WHERE username = @username;

-- GetUserByUsernameForUpdate reads a user and locks the row until the end of
-- the transaction (read-modify-write of UpdateUser).
-- name: GetUserByUsernameForUpdate :one
SELECT id, created_at, updated_at, active, username, password_hash, hashed_recovery_codes,
       permissions, group_permissions, role, favorite_spaces, refresh_token, email
FROM scouter."user"
WHERE username = @username
FOR UPDATE;

-- LockUsers takes a transaction-scoped advisory lock that serialises the
-- user-table changes which must see a consistent set of users across server
-- replicas: creating the first-start users and the last-admin check of a
-- delete.
-- name: LockUsers :exec
SELECT pg_advisory_xact_lock(@lock_key::bigint);
