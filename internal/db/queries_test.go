package db_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/pgtest"
)

func newUser(username, role string) dbsqlc.InsertUserParams {
	return dbsqlc.InsertUserParams{
		Username:            username,
		PasswordHash:        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		HashedRecoveryCodes: json.RawMessage(`["h1","h2","h3","h4"]`),
		Permissions:         json.RawMessage(`["read:all","write:all"]`),
		GroupPermissions:    json.RawMessage(`["user"]`),
		Role:                role,
		FavoriteSpaces:      json.RawMessage(`[]`),
		Active:              true,
		Email:               username + "@example.com",
	}
}

func TestUserQueries(t *testing.T) {
	pool := pgtest.New(t)
	ctx := t.Context()
	q := dbsqlc.New(pool)

	n, err := q.CountUsers(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	users, err := q.ListUsers(ctx)
	require.NoError(t, err)
	assert.NotNil(t, users, "emit_empty_slices: empty list is [] not nil")
	assert.Empty(t, users)

	admin, err := q.InsertUser(ctx, newUser("admin", "admin"))
	require.NoError(t, err)
	assert.NotZero(t, admin.ID)
	assert.Equal(t, "admin", admin.Username)
	assert.Equal(t, "admin@example.com", admin.Email)
	assert.JSONEq(t, `["read:all","write:all"]`, string(admin.Permissions))
	assert.Nil(t, admin.RefreshToken)
	assert.WithinDuration(t, time.Now(), admin.CreatedAt, time.Minute)

	_, err = q.InsertUser(ctx, newUser("alice", "user"))
	require.NoError(t, err)

	got, err := q.GetUserByUsername(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, "user", got.Role)
	assert.True(t, got.Active)
	assert.JSONEq(t, `["h1","h2","h3","h4"]`, string(got.HashedRecoveryCodes))
	assert.JSONEq(t, `["user"]`, string(got.GroupPermissions))

	_, err = q.GetUserByUsername(ctx, "nobody")
	assert.ErrorIs(t, db.MapError(err), db.ErrNotFound)

	updated, err := q.UpdateUser(ctx, dbsqlc.UpdateUserParams{
		Username:            "alice",
		Active:              false,
		PasswordHash:        "new-hash",
		HashedRecoveryCodes: got.HashedRecoveryCodes,
		Permissions:         json.RawMessage(`["read:space-a"]`),
		GroupPermissions:    json.RawMessage(`["user","admin"]`),
		FavoriteSpaces:      json.RawMessage(`["space-a"]`),
	})
	require.NoError(t, err)
	assert.False(t, updated.Active)
	assert.Equal(t, "new-hash", updated.PasswordHash)
	assert.JSONEq(t, `["read:space-a"]`, string(updated.Permissions))
	assert.JSONEq(t, `["space-a"]`, string(updated.FavoriteSpaces))
	assert.Equal(t, "user", updated.Role, "role is not updatable")
	assert.False(t, updated.UpdatedAt.Before(got.UpdatedAt), "updated_at moved back")

	_, err = q.UpdateUser(ctx, dbsqlc.UpdateUserParams{Username: "nobody", HashedRecoveryCodes: json.RawMessage(`[]`),
		Permissions: json.RawMessage(`[]`), GroupPermissions: json.RawMessage(`[]`), FavoriteSpaces: json.RawMessage(`[]`)})
	assert.ErrorIs(t, db.MapError(err), db.ErrNotFound)

	// Refresh token: set, read back, clear.
	token := "refresh-token-1"
	rows, err := q.UpdateRefreshToken(ctx, dbsqlc.UpdateRefreshTokenParams{Username: "alice", RefreshToken: &token})
	require.NoError(t, err)
	assert.EqualValues(t, 1, rows)
	got, err = q.GetUserByUsername(ctx, "alice")
	require.NoError(t, err)
	require.NotNil(t, got.RefreshToken)
	assert.Equal(t, token, *got.RefreshToken)
	rows, err = q.UpdateRefreshToken(ctx, dbsqlc.UpdateRefreshTokenParams{Username: "alice", RefreshToken: nil})
	require.NoError(t, err)
	assert.EqualValues(t, 1, rows)
	got, err = q.GetUserByUsername(ctx, "alice")
	require.NoError(t, err)
	assert.Nil(t, got.RefreshToken, "logout clears the token")
	rows, err = q.UpdateRefreshToken(ctx, dbsqlc.UpdateRefreshTokenParams{Username: "nobody", RefreshToken: &token})
	require.NoError(t, err)
	assert.Zero(t, rows)

	admins, err := q.ListAdminUsernames(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"admin"}, admins, "only role=admin counts, not group permissions")

	users, err = q.ListUsers(ctx)
	require.NoError(t, err)
	require.Len(t, users, 2)
	assert.Equal(t, "admin", users[0].Username)
	assert.Equal(t, "alice", users[1].Username)

	n, err = q.CountUsers(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)

	rows, err = q.DeleteUser(ctx, "alice")
	require.NoError(t, err)
	assert.EqualValues(t, 1, rows)
	rows, err = q.DeleteUser(ctx, "alice")
	require.NoError(t, err)
	assert.Zero(t, rows, "deleting a missing user deletes nothing")
	n, err = q.CountUsers(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

func TestUserUniqueConstraints(t *testing.T) {
	pool := pgtest.New(t)
	ctx := t.Context()
	q := dbsqlc.New(pool)
	_, err := q.InsertUser(ctx, newUser("bob", "user"))
	require.NoError(t, err)

	sameName := newUser("bob", "user")
	sameName.Email = "other@example.com"
	sameEmail := newUser("robert", "user")
	sameEmail.Email = "bob@example.com"

	tests := []struct {
		name       string
		arg        dbsqlc.InsertUserParams
		constraint string
	}{
		{"same username", sameName, "user_username_key"},
		{"same email", sameEmail, "user_email_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := q.InsertUser(ctx, tt.arg)
			err = db.MapError(err)
			require.ErrorIs(t, err, db.ErrConflict)
			assert.Contains(t, err.Error(), tt.constraint)
		})
	}
}

func TestEntityQueries(t *testing.T) {
	pool := pgtest.New(t)
	ctx := t.Context()
	q := dbsqlc.New(pool)

	key := dbsqlc.GetEntityByKeyParams{Space: "space", Name: "model", Version: "1.0.0", DriftType: "spc"}
	_, err := q.GetEntityByKey(ctx, key)
	require.ErrorIs(t, db.MapError(err), db.ErrNotFound)

	uid1 := uuid.Must(uuid.NewV7()).String()
	e1, err := q.UpsertEntity(ctx, dbsqlc.UpsertEntityParams{UID: uid1, Space: key.Space, Name: key.Name, Version: key.Version, DriftType: key.DriftType})
	require.NoError(t, err)
	assert.Equal(t, uid1, e1.UID)
	assert.NotZero(t, e1.ID)

	got, err := q.GetEntityByKey(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, e1, got)

	id, err := q.GetEntityIDByUID(ctx, uid1)
	require.NoError(t, err)
	assert.Equal(t, e1.ID, id)

	// Another drift type is another entity.
	psi, err := q.UpsertEntity(ctx, dbsqlc.UpsertEntityParams{UID: uuid.Must(uuid.NewV7()).String(), Space: key.Space, Name: key.Name, Version: key.Version, DriftType: "psi"})
	require.NoError(t, err)
	assert.NotEqual(t, e1.ID, psi.ID)

	// Re-registering the same key keeps the id and takes the new uid (upstream).
	uid2 := uuid.Must(uuid.NewV7()).String()
	e2, err := q.UpsertEntity(ctx, dbsqlc.UpsertEntityParams{UID: uid2, Space: key.Space, Name: key.Name, Version: key.Version, DriftType: key.DriftType})
	require.NoError(t, err)
	assert.Equal(t, e1.ID, e2.ID)
	assert.Equal(t, uid2, e2.UID)
	_, err = q.GetEntityIDByUID(ctx, uid1)
	assert.ErrorIs(t, db.MapError(err), db.ErrNotFound, "old uid is gone")

	// A uid already used by another key is a conflict.
	_, err = q.UpsertEntity(ctx, dbsqlc.UpsertEntityParams{UID: uid2, Space: "other", Name: key.Name, Version: key.Version, DriftType: key.DriftType})
	assert.ErrorIs(t, db.MapError(err), db.ErrConflict)
}

func TestDriftProfileQueries(t *testing.T) {
	pool := pgtest.New(t)
	ctx := t.Context()
	q := dbsqlc.New(pool)

	_, err := q.GetDriftProfileByEntityID(ctx, 12345)
	require.ErrorIs(t, db.MapError(err), db.ErrNotFound)

	insert := func(name string, active bool) dbsqlc.DriftProfile {
		t.Helper()
		e, err := q.UpsertEntity(ctx, dbsqlc.UpsertEntityParams{UID: uuid.Must(uuid.NewV7()).String(), Space: "space", Name: name, Version: "0.1.0", DriftType: "spc"})
		require.NoError(t, err)
		now := time.Now().UTC().Truncate(time.Microsecond)
		next := now.Add(time.Hour)
		p, err := q.InsertDriftProfile(ctx, dbsqlc.InsertDriftProfileParams{
			UID: e.UID, EntityID: e.ID, Name: name, Space: "space", Version: "0.1.0", DriftType: "spc",
			Minor: 1, Profile: json.RawMessage(`{"config": {"uid": "` + e.UID + `"}, "features": {}}`),
			Active: active, Schedule: "0 0 * * * *", NextRun: &next, PreviousRun: &now,
			ScouterVersion: "0.25.0", CreatedAt: now,
		})
		require.NoError(t, err)
		assert.Equal(t, "pending", p.Status)
		assert.Nil(t, p.StatusReason)
		assert.Nil(t, p.LastErrorAt)
		assert.Nil(t, p.PreTag)
		require.NotNil(t, p.NextRun)
		assert.True(t, next.Equal(*p.NextRun), "next_run got %v, want %v", *p.NextRun, next)
		assert.True(t, now.Equal(p.UpdatedAt), "updated_at = created_at")
		return p
	}
	a := insert("model-a", true)
	b := insert("model-b", false)
	c := insert("model-c", true)

	got, err := q.GetDriftProfileByEntityID(ctx, b.EntityID)
	require.NoError(t, err)
	assert.Equal(t, b.UID, got.UID)
	assert.False(t, got.Active)
	assert.JSONEq(t, string(b.Profile), string(got.Profile))

	active, err := q.ListActiveProfiles(ctx)
	require.NoError(t, err)
	var uids []string
	for _, p := range active {
		uids = append(uids, p.UID)
	}
	assert.Equal(t, []string{a.UID, c.UID}, uids)
}
