package user_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/user"
)

func TestEnsureDefaultUsers(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	f := newFixtureOn(t, pool, false)

	created, err := f.svc.EnsureDefaultUsers(ctx, user.Defaults{AdminUsername: "root", AdminPassword: "s3cret"})
	require.NoError(t, err)
	require.True(t, created)

	users, err := f.store.List(ctx)
	require.NoError(t, err)
	require.Len(t, users, 2)
	admin, guest := users[0], users[1]

	assert.Equal(t, "root", admin.Username)
	assert.Equal(t, "admin", admin.Email)
	assert.Equal(t, []string{"read:all", "write:all"}, admin.Permissions)
	assert.Equal(t, []string{"admin"}, admin.GroupPermissions)
	assert.Equal(t, "admin", admin.Role)
	assert.True(t, admin.Active)

	assert.Equal(t, "guest", guest.Username)
	assert.Equal(t, "default", guest.Email)
	assert.Equal(t, []string{"read:all", "write:all", "delete:all"}, guest.Permissions)
	assert.Equal(t, []string{"user"}, guest.GroupPermissions)
	assert.Equal(t, "guest", guest.Role)
	assert.True(t, guest.Active)

	for _, u := range users {
		assert.Empty(t, u.FavoriteSpaces, "%s favorite_spaces", u.Username)
		assert.Empty(t, u.RefreshToken, "%s refresh token", u.Username)
		assert.Len(t, u.HashedRecoveryCodes, 1, "%s recovery codes", u.Username)
		assert.True(t, strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$"), "got %q", u.PasswordHash)
	}
	ok, err := auth.VerifyPassword(admin.PasswordHash, "s3cret")
	require.NoError(t, err)
	assert.True(t, ok, "admin password")
	ok, err = auth.VerifyPassword(guest.PasswordHash, "guest")
	require.NoError(t, err)
	assert.True(t, ok, "guest password")

	// A populated table is left alone.
	created, err = f.svc.EnsureDefaultUsers(ctx, user.Defaults{AdminUsername: "other", AdminPassword: "x"})
	require.NoError(t, err)
	assert.False(t, created)
	users, err = f.store.List(ctx)
	require.NoError(t, err)
	assert.Len(t, users, 2)
}

func TestEnsureDefaultUsersOnlyWhenEmpty(t *testing.T) {
	ctx := context.Background()
	f := newFixtureOn(t, pgtest.New(t), false)
	_, err := f.store.Insert(ctx, &user.User{Username: "someone", Email: "s@x", Role: "user", PasswordHash: "x", Active: true})
	require.NoError(t, err)
	created, err := f.svc.EnsureDefaultUsers(ctx, user.Defaults{AdminUsername: "admin", AdminPassword: "admin"})
	require.NoError(t, err)
	assert.False(t, created)
	_, err = f.store.Get(ctx, "admin")
	assert.ErrorIs(t, err, user.ErrNotFound)
}

func TestEnsureDefaultUsersConcurrentServers(t *testing.T) {
	// Two "servers", each with its own pool, start at once on one database.
	ctx := context.Background()
	uri := pgtest.NewURI(t)
	const servers = 4
	fixtures := make([]*fixture, servers)
	for i := range fixtures {
		fixtures[i] = newFixtureOn(t, pgtest.Connect(t, uri), false)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		errs    []error
	)
	for _, f := range fixtures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.svc.EnsureDefaultUsers(ctx, user.Defaults{AdminUsername: "admin", AdminPassword: "admin"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	require.Empty(t, errs)
	assert.Equal(t, 1, created, "servers that created the users")
	users, err := fixtures[0].store.List(ctx)
	require.NoError(t, err)
	assert.Len(t, users, 2)
}

func TestEnsureDefaultUsersRejectsBadDefaults(t *testing.T) {
	f := newFixtureOn(t, pgtest.New(t), false)
	for _, d := range []user.Defaults{{}, {AdminUsername: "a"}, {AdminPassword: "a"}, {AdminUsername: "guest", AdminPassword: "x"}} {
		_, err := f.svc.EnsureDefaultUsers(context.Background(), d)
		assert.Error(t, err, "%+v", d)
	}
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)

	got, err := f.svc.Create(ctx, adminID(), user.CreateInput{
		Username: "test_user", Password: "test_password", Email: "test_user@example.com",
		Permissions: ptr([]string{"read:all", "write:all", "read:all"}), GroupPermissions: ptr([]string{"user"}),
		Role: ptr("user"), Active: ptr(true),
	})
	require.NoError(t, err)
	assert.Equal(t, "test_user", got.User.Username)
	assert.Equal(t, []string{"read:all", "write:all"}, got.User.Permissions, "order kept, duplicates dropped")
	assert.Equal(t, []string{"user"}, got.User.GroupPermissions)
	require.Len(t, got.RecoveryCodes, user.RecoveryCodeCount)
	require.Len(t, got.User.HashedRecoveryCodes, user.RecoveryCodeCount)
	for i, code := range got.RecoveryCodes {
		assert.Len(t, code, auth.RecoveryCodeLen)
		ok, err := auth.VerifyPassword(got.User.HashedRecoveryCodes[i], code)
		require.NoError(t, err)
		assert.True(t, ok, "recovery code %d matches its hash", i)
	}
	ok, err := auth.VerifyPassword(got.User.PasswordHash, "test_password")
	require.NoError(t, err)
	assert.True(t, ok)

	// Defaults for absent optional fields.
	got, err = f.svc.Create(ctx, adminID(), user.CreateInput{Username: "plain", Password: "pw", Email: "plain@x"})
	require.NoError(t, err)
	assert.Equal(t, []string{"read:all"}, got.User.Permissions)
	assert.Equal(t, []string{"user"}, got.User.GroupPermissions)
	assert.Equal(t, "user", got.User.Role)
	assert.True(t, got.User.Active)
	assert.Equal(t, []string{}, got.User.FavoriteSpaces)

	// The bootstrap identity is an admin.
	_, err = f.svc.Create(ctx, auth.BootstrapIdentity(), user.CreateInput{Username: "synced", Password: "pw", Email: "synced@x"})
	require.NoError(t, err)
}

func TestCreateUserErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	guest := auth.Identity{Username: "guest", Permissions: []string{"read:all", "write:all", "delete:all"}, GroupPermissions: []string{"user"}}
	long := strings.Repeat("a", 64<<10)
	tests := []struct {
		name   string
		caller auth.Identity
		in     user.CreateInput
		want   error
	}{
		{"not admin", guest, user.CreateInput{Username: "x", Password: "x", Email: "x"}, user.ErrNeedAdmin},
		{"existing user", adminID(), user.CreateInput{Username: "guest", Password: "x", Email: "new@x"}, user.ErrExists},
		{"existing email", adminID(), user.CreateInput{Username: "newbie", Password: "x", Email: "default"}, user.ErrEmailTaken},
		{"empty username", adminID(), user.CreateInput{Username: "", Password: "x"}, user.ErrInvalidInput},
		{"non-ASCII username", adminID(), user.CreateInput{Username: "józef", Password: "x"}, user.ErrInvalidInput},
		{"slash in username", adminID(), user.CreateInput{Username: "a/b", Password: "x"}, user.ErrInvalidInput},
		{"padded username", adminID(), user.CreateInput{Username: " bob", Password: "x"}, user.ErrInvalidInput},
		{"huge username", adminID(), user.CreateInput{Username: long, Password: "x"}, user.ErrInvalidInput},
		{"empty password", adminID(), user.CreateInput{Username: "bob", Password: ""}, user.ErrInvalidInput},
		{"non-ASCII password", adminID(), user.CreateInput{Username: "bob", Password: "pässword"}, user.ErrInvalidInput},
		{"huge password", adminID(), user.CreateInput{Username: "bob", Password: long}, user.ErrInvalidInput},
		{"NUL in email", adminID(), user.CreateInput{Username: "bob", Password: "x", Email: "a\x00b"}, user.ErrInvalidInput},
		{"NUL in permission", adminID(), user.CreateInput{Username: "bob", Password: "x", Permissions: ptr([]string{"read:\x00"})}, user.ErrInvalidInput},
		{"empty permission", adminID(), user.CreateInput{Username: "bob", Password: "x", Permissions: ptr([]string{""})}, user.ErrInvalidInput},
		{"huge role", adminID(), user.CreateInput{Username: "bob", Password: "x", Role: ptr(long)}, user.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Create(ctx, tt.caller, tt.in)
			require.ErrorIs(t, err, tt.want)
			_, failed := user.FailedOp(err)
			assert.False(t, failed, "got an unexpected failure %v, want a client error", err)
		})
	}
	// SQL-looking usernames are plain data.
	sqlish := "admin' OR '1'='1"
	_, err := f.svc.Create(ctx, adminID(), user.CreateInput{Username: sqlish, Password: "x", Email: "sql@x"})
	require.NoError(t, err)
	u, err := f.svc.Get(ctx, adminID(), sqlish)
	require.NoError(t, err)
	assert.Equal(t, sqlish, u.Username)
}

func TestGetAndListRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	guest := auth.Identity{Username: "guest", GroupPermissions: []string{"user"}}

	u, err := f.svc.Get(ctx, guest, "guest")
	require.NoError(t, err, "self")
	assert.Equal(t, "guest", u.Username)
	_, err = f.svc.Get(ctx, guest, "admin")
	assert.ErrorIs(t, err, user.ErrPermissionDenied)
	_, err = f.svc.Get(ctx, adminID(), "nobody")
	assert.ErrorIs(t, err, user.ErrNotFound)
	_, err = f.svc.Get(ctx, adminID(), "bad\x00name")
	assert.ErrorIs(t, err, user.ErrNotFound)

	_, err = f.svc.List(ctx, guest)
	assert.ErrorIs(t, err, user.ErrNeedAdmin)
	all, err := f.svc.List(ctx, adminID())
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "admin", all[0].Username)
	assert.Equal(t, "guest", all[1].Username)
}

func TestUpdateRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	guest := auth.Identity{Username: "guest", GroupPermissions: []string{"user"}}

	// Self, not admin: password and favorites change, the rest is ignored.
	u, err := f.svc.Update(ctx, guest, "guest", user.UpdateInput{
		Password:         ptr("new-guest"),
		FavoriteSpaces:   ptr([]string{"b", "a", "b"}),
		Permissions:      ptr([]string{"read:all"}),
		GroupPermissions: ptr([]string{"admin"}),
		Active:           ptr(false),
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, u.FavoriteSpaces)
	assert.Equal(t, []string{"read:all", "write:all", "delete:all"}, u.Permissions)
	assert.Equal(t, []string{"user"}, u.GroupPermissions)
	assert.True(t, u.Active)
	ok, err := auth.VerifyPassword(u.PasswordHash, "new-guest")
	require.NoError(t, err)
	assert.True(t, ok)

	// Not self, not admin.
	_, err = f.svc.Update(ctx, guest, "admin", user.UpdateInput{Password: ptr("x")})
	assert.ErrorIs(t, err, user.ErrPermissionDenied)

	// Admin: everything, deduplicated.
	u, err = f.svc.Update(ctx, adminID(), "guest", user.UpdateInput{
		Permissions:      ptr([]string{"write:all", "read:all", "execute:all", "read:all"}),
		GroupPermissions: ptr([]string{"user", "developer"}),
		Active:           ptr(false),
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"execute:all", "read:all", "write:all"}, u.Permissions)
	assert.Equal(t, []string{"developer", "user"}, u.GroupPermissions)
	assert.False(t, u.Active)
	assert.Equal(t, []string{"a", "b"}, u.FavoriteSpaces, "untouched")

	_, err = f.svc.Update(ctx, adminID(), "nobody", user.UpdateInput{Active: ptr(true)})
	assert.ErrorIs(t, err, user.ErrNotFound)
	_, err = f.svc.Update(ctx, adminID(), "guest", user.UpdateInput{Password: ptr("")})
	assert.ErrorIs(t, err, user.ErrInvalidInput)
	_, err = f.svc.Update(ctx, adminID(), "guest", user.UpdateInput{FavoriteSpaces: ptr([]string{"x\x00"})})
	assert.ErrorIs(t, err, user.ErrInvalidInput)
}

func TestDeleteRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	guest := auth.Identity{Username: "guest", GroupPermissions: []string{"user"}}

	assert.ErrorIs(t, f.svc.Delete(ctx, guest, "guest"), user.ErrNeedAdmin)
	assert.ErrorIs(t, f.svc.Delete(ctx, adminID(), "admin"), user.ErrLastAdmin)
	require.NoError(t, f.svc.Delete(ctx, adminID(), "nobody"), "missing user")
	require.NoError(t, f.svc.Delete(ctx, adminID(), "bad\x00name"), "impossible name")

	// Group admin without role admin does not count as an admin for the
	// last-admin rule, and a role-admin user does.
	_, err := f.svc.Create(ctx, adminID(), user.CreateInput{Username: "boss", Password: "x", Email: "boss@x", Role: ptr("admin")})
	require.NoError(t, err)
	require.NoError(t, f.svc.Delete(ctx, adminID(), "admin"), "another role admin exists")
	assert.ErrorIs(t, f.svc.Delete(ctx, adminID(), "boss"), user.ErrLastAdmin)
	require.NoError(t, f.svc.Delete(ctx, adminID(), "guest"))
	_, err = f.store.Get(ctx, "guest")
	assert.ErrorIs(t, err, user.ErrNotFound)
}

func TestDeleteLastAdminRace(t *testing.T) {
	// Two admins deleted at once: exactly one delete may succeed.
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.svc.Create(ctx, adminID(), user.CreateInput{Username: "boss", Password: "x", Email: "boss@x", Role: ptr("admin")})
	require.NoError(t, err)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"admin", "boss"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.svc.Delete(ctx, adminID(), name)
		}()
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		if errors.Is(err, user.ErrLastAdmin) {
			refused++
		} else {
			require.NoError(t, err)
		}
	}
	assert.Equal(t, 1, refused)
}
