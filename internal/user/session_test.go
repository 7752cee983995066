package user_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/user"
)

func TestLogin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)

	tok, err := f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "admin", ClientAddr: "10.0.0.1"})
	require.NoError(t, err)
	claims, err := f.tokens.ValidateAccess(tok)
	require.NoError(t, err)
	assert.Equal(t, "admin", claims.Subject)
	assert.Equal(t, []string{"admin"}, claims.GroupPermissions)

	u, err := f.store.Get(ctx, "admin")
	require.NoError(t, err)
	require.NotEmpty(t, u.RefreshToken, "login stores a refresh token")
	_, err = f.tokens.ValidateRefresh(u.RefreshToken)
	require.NoError(t, err)
	first := u.RefreshToken

	// A second login keeps the still-valid refresh token.
	_, err = f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "admin"})
	require.NoError(t, err)
	u, err = f.store.Get(ctx, "admin")
	require.NoError(t, err)
	assert.Equal(t, first, u.RefreshToken)

	// An expired stored refresh token is replaced.
	stale, err := pastManager(t, testSecrets, 48*time.Hour).NewRefreshToken(u.Identity())
	require.NoError(t, err)
	require.NoError(t, f.store.SetRefreshToken(ctx, "admin", stale))
	_, err = f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "admin"})
	require.NoError(t, err)
	u, err = f.store.Get(ctx, "admin")
	require.NoError(t, err)
	assert.NotEqual(t, stale, u.RefreshToken)
	_, err = f.tokens.ValidateRefresh(u.RefreshToken)
	assert.NoError(t, err)

	// Inactive users can still log in (upstream).
	_, err = f.svc.Update(ctx, adminID(), "guest", user.UpdateInput{Active: ptr(false)})
	require.NoError(t, err)
	_, err = f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "guest"})
	assert.NoError(t, err)
}

func TestLoginFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tests := []struct {
		name string
		c    user.Credentials
		want error
	}{
		{"unknown user", user.Credentials{Username: "nobody", Password: "x"}, user.ErrNotFound},
		{"wrong password", user.Credentials{Username: "admin", Password: "nope"}, user.ErrInvalidCredentials},
		{"empty password", user.Credentials{Username: "admin", Password: ""}, user.ErrInvalidCredentials},
		{"SQL-looking username", user.Credentials{Username: "admin' OR '1'='1", Password: "x"}, user.ErrNotFound},
		{"impossible username", user.Credentials{Username: "a\x00b", Password: "x"}, user.ErrNotFound},
		{"huge username", user.Credentials{Username: strings.Repeat("a", 64<<10), Password: "x"}, user.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Login(ctx, tt.c)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestLoginWithUpstreamHash(t *testing.T) {
	// A PHC string as upstream's password-auth writes it must verify.
	ctx := context.Background()
	f := newFixture(t)
	hash, err := auth.HashPassword("legacy-pass")
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `UPDATE scouter."user" SET password_hash = $1 WHERE username = 'guest'`, hash)
	require.NoError(t, err)
	_, err = f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "legacy-pass"})
	require.NoError(t, err)

	// A corrupt stored hash is a refusal, not a failure.
	_, err = f.pool.Exec(ctx, `UPDATE scouter."user" SET password_hash = 'garbage' WHERE username = 'guest'`)
	require.NoError(t, err)
	_, err = f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "legacy-pass"})
	assert.ErrorIs(t, err, user.ErrInvalidCredentials)
}

func TestLoginRateLimitPerUsername(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range auth.DefaultMaxFailures {
		// Different addresses: only the username key accumulates.
		_, err := f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "wrong", ClientAddr: fmt.Sprintf("10.0.0.%d", i)})
		require.ErrorIs(t, err, user.ErrInvalidCredentials, "attempt %d", i+1)
	}
	// Locked out, even with the right password.
	_, err := f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "admin", ClientAddr: "10.0.1.1"})
	var rl *user.RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.ErrorIs(t, err, user.ErrRateLimited)
	assert.Equal(t, auth.DefaultBlockFor, rl.RetryAfter)

	// Other users are not affected.
	_, err = f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "guest", ClientAddr: "10.0.1.1"})
	require.NoError(t, err)

	f.clock.Advance(auth.DefaultBlockFor / 2)
	_, err = f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "admin"})
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, auth.DefaultBlockFor/2, rl.RetryAfter)

	f.clock.Advance(auth.DefaultBlockFor / 2)
	_, err = f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "admin"})
	require.NoError(t, err, "unlocked after the lockout")
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range auth.DefaultMaxFailures {
		// Unknown users count too, so usernames cannot be sprayed.
		_, err := f.svc.Login(ctx, user.Credentials{Username: fmt.Sprintf("probe%d", i), Password: "x", ClientAddr: "192.0.2.7"})
		require.ErrorIs(t, err, user.ErrNotFound)
	}
	_, err := f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "guest", ClientAddr: "192.0.2.7"})
	require.ErrorIs(t, err, user.ErrRateLimited)
	_, err = f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "guest", ClientAddr: "192.0.2.8"})
	require.NoError(t, err, "another address")
}

func TestLoginSuccessResetsUsernameFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for range auth.DefaultMaxFailures - 1 {
		_, err := f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "typo"})
		require.ErrorIs(t, err, user.ErrInvalidCredentials)
	}
	_, err := f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "admin"})
	require.NoError(t, err)
	_, err = f.svc.Login(ctx, user.Credentials{Username: "admin", Password: "typo"})
	require.ErrorIs(t, err, user.ErrInvalidCredentials, "count restarted")
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tok, err := f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "guest"})
	require.NoError(t, err)
	before, err := f.store.Get(ctx, "guest")
	require.NoError(t, err)

	// Expired access tokens are accepted by the refresh route.
	expired, err := pastManager(t, testSecrets, 3*time.Hour).NewAccessToken(before.Identity())
	require.NoError(t, err)
	for _, in := range []string{tok, expired} {
		got, err := f.svc.Refresh(ctx, in)
		require.NoError(t, err)
		_, err = f.tokens.ValidateAccess(got)
		require.NoError(t, err)
	}
	after, err := f.store.Get(ctx, "guest")
	require.NoError(t, err)
	assert.NotEqual(t, before.RefreshToken, after.RefreshToken, "refresh rotates the stored refresh token")

	// Bad tokens.
	refreshTok, err := f.tokens.NewRefreshToken(before.Identity())
	require.NoError(t, err)
	foreign := pastManager(t, auth.Secrets{Access: []byte("another-secret-another-secret-xx"), Refresh: []byte("r")}, 0)
	foreignTok, err := foreign.NewAccessToken(before.Identity())
	require.NoError(t, err)
	for name, bad := range map[string]string{
		"empty": "", "garbage": "a.b.c", "refresh secret": refreshTok, "foreign key": foreignTok,
	} {
		_, err := f.svc.Refresh(ctx, bad)
		assert.ErrorIs(t, err, user.ErrInvalidToken, name)
	}

	// A deleted user's token is refused.
	require.NoError(t, f.svc.Delete(ctx, adminID(), "guest"))
	_, err = f.svc.Refresh(ctx, tok)
	assert.ErrorIs(t, err, user.ErrNotFound)
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tok, err := f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "guest"})
	require.NoError(t, err)
	c, err := f.svc.Validate(tok)
	require.NoError(t, err)
	assert.Equal(t, "guest", c.Subject)

	expired, err := pastManager(t, testSecrets, 2*time.Hour).NewAccessToken(auth.Identity{Username: "guest"})
	require.NoError(t, err)
	_, err = f.svc.Validate(expired)
	assert.ErrorIs(t, err, user.ErrTokenExpired)
	_, err = f.svc.Validate("x.y.z")
	assert.ErrorIs(t, err, user.ErrInvalidToken)
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tok, err := f.svc.Login(ctx, user.Credentials{Username: "guest", Password: "guest"})
	require.NoError(t, err)

	s, err := f.svc.Authenticate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "guest", s.Identity.Username)
	assert.Empty(t, s.RefreshedToken, "a valid token is not refreshed")

	// Change the user's permissions: a valid token keeps its snapshot, a
	// refreshed one carries the row's current permissions.
	_, err = f.svc.Update(ctx, adminID(), "guest", user.UpdateInput{Permissions: ptr([]string{"read:space1"})})
	require.NoError(t, err)
	s, err = f.svc.Authenticate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, []string{"read:all", "write:all", "delete:all"}, s.Identity.Permissions)

	old, err := f.store.Get(ctx, "guest")
	require.NoError(t, err)
	expired, err := pastManager(t, testSecrets, 2*time.Hour).NewAccessToken(auth.Identity{Username: "guest", Permissions: []string{"read:all"}})
	require.NoError(t, err)
	s, err = f.svc.Authenticate(ctx, expired)
	require.NoError(t, err)
	assert.Equal(t, []string{"read:space1"}, s.Identity.Permissions, "identity from the row")
	require.NotEmpty(t, s.RefreshedToken)
	claims, err := f.tokens.ValidateAccess(s.RefreshedToken)
	require.NoError(t, err)
	assert.Equal(t, "guest", claims.Subject)
	now, err := f.store.Get(ctx, "guest")
	require.NoError(t, err)
	assert.NotEqual(t, old.RefreshToken, now.RefreshToken, "refresh token rotated")

	// Within the 60 s leeway a token is still valid.
	justExpired, err := pastManager(t, testSecrets, auth.AccessTokenTTL+30*time.Second).NewAccessToken(auth.Identity{Username: "guest"})
	require.NoError(t, err)
	s, err = f.svc.Authenticate(ctx, justExpired)
	require.NoError(t, err)
	assert.Empty(t, s.RefreshedToken)
}

func TestAuthenticateFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	id := auth.Identity{Username: "guest"}
	past := pastManager(t, testSecrets, 2*time.Hour)
	expired, err := past.NewAccessToken(id)
	require.NoError(t, err)

	// The user never logged in: no stored refresh token.
	_, err = f.svc.Authenticate(ctx, expired)
	assert.ErrorIs(t, err, user.ErrRefreshTokenMissing)

	// A stored refresh token that has expired.
	staleRefresh, err := pastManager(t, testSecrets, 48*time.Hour).NewRefreshToken(id)
	require.NoError(t, err)
	require.NoError(t, f.store.SetRefreshToken(ctx, "guest", staleRefresh))
	_, err = f.svc.Authenticate(ctx, expired)
	assert.ErrorIs(t, err, user.ErrRefreshTokenInvalid)

	// Tokens that are not access tokens of this server.
	refreshTok, err := f.tokens.NewRefreshToken(id)
	require.NoError(t, err)
	foreign, err := pastManager(t, auth.Secrets{Access: []byte("other-access-secret-other-access"), Refresh: testSecrets.Refresh}, 0).NewAccessToken(id)
	require.NoError(t, err)
	for name, tok := range map[string]string{
		"refresh token as access": refreshTok,
		"foreign key":             foreign,
		"two segments":            "a.b",
		"bad base64":              "!!!.???.***",
		"empty":                   "",
	} {
		_, err := f.svc.Authenticate(ctx, tok)
		assert.ErrorIs(t, err, user.ErrInvalidToken, name)
	}

	// The user was deleted.
	gone, err := past.NewAccessToken(auth.Identity{Username: "ghost"})
	require.NoError(t, err)
	_, err = f.svc.Authenticate(ctx, gone)
	assert.ErrorIs(t, err, user.ErrNotFound)

	// Cancelled context on the refresh path.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.svc.Authenticate(cctx, expired)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}
