package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
)

func TestAuthLogin(t *testing.T) {
	e := newAuthEnv(t)
	huge := strings.Repeat("a", 64<<10)
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantBody   string
	}{
		{"missing username", http.Header{"Password": {"admin"}}, 400, `{"error":"Username header not found"}`},
		{"missing password", http.Header{"Username": {"admin"}}, 400, `{"error":"Password header not found"}`},
		{"missing both", nil, 400, `{"error":"Username header not found"}`},
		{"empty username", creds("", "admin"), 400, `{"error":"Invalid username format"}`},
		{"empty password", creds("admin", ""), 400, `{"error":"Invalid password format"}`},
		{"non-ASCII username", creds("ädmin", "admin"), 400, `{"error":"Invalid username format"}`},
		{"non-ASCII password", creds("admin", "pässword"), 400, `{"error":"Invalid password format"}`},
		{"repeated username", http.Header{"Username": {"admin", "guest"}, "Password": {"admin"}}, 400, `{"error":"Invalid username format"}`},
		{"repeated password", http.Header{"Username": {"admin"}, "Password": {"admin", "admin"}}, 400, `{"error":"Invalid password format"}`},
		{"unknown user", creds("nobody", "x"), 404, `{"error":"User not found"}`},
		{"SQL-looking username", creds("admin' OR '1'='1' --", "x"), 404, `{"error":"User not found"}`},
		{"64 KiB username", creds(huge, "x"), 404, `{"error":"User not found"}`},
		{"64 KiB password", creds("guest", huge), 401, `{"error":"Unauthorized"}`},
		{"wrong password", creds("admin", "nope"), 401, `{"error":"Unauthorized"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, "/scouter/auth/login", nil, tt.header)
			assert.Equal(t, tt.wantStatus, r.status)
			assert.Equal(t, tt.wantBody, r.body)
		})
	}

	t.Run("success", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/scouter/auth/login", nil, creds("admin", "admin"))
		require.Equal(t, http.StatusOK, r.status, r.body)
		body := r.json(t)
		assert.Len(t, body, 1, "only the token: %s", r.body)
		claims, err := e.tokens.ValidateAccess(body["token"].(string))
		require.NoError(t, err)
		assert.Equal(t, "admin", claims.Subject)
		assert.Equal(t, []string{"read:all", "write:all"}, claims.Permissions)
		assert.Equal(t, []string{"admin"}, claims.GroupPermissions)
		assert.WithinDuration(t, time.Now().Add(auth.AccessTokenTTL), claims.ExpiresAt, 5*time.Second)
	})
	t.Run("wrong method", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/scouter/auth/login", nil, creds("admin", "admin"))
		assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	})
}

func TestAuthLoginRateLimit(t *testing.T) {
	e := newAuthEnv(t)
	for i := range auth.DefaultMaxFailures {
		r := e.do(t, http.MethodGet, "/scouter/auth/login", nil, creds("admin", "wrong"))
		require.Equal(t, http.StatusUnauthorized, r.status, "attempt %d", i+1)
		assert.Empty(t, r.header.Get("Retry-After"))
	}
	r := e.do(t, http.MethodGet, "/scouter/auth/login", nil, creds("admin", "admin"))
	require.Equal(t, http.StatusTooManyRequests, r.status, "locked out even with the right password")
	assert.Equal(t, "300", r.header.Get("Retry-After"))
	assert.Equal(t, `{"error":"Too many failed login attempts, retry after 300 seconds"}`, r.body)

	// The test server's clients all come from 127.0.0.1, so the address
	// key is locked too: guest is refused as well.
	r = e.do(t, http.MethodGet, "/scouter/auth/login", nil, creds("guest", "guest"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)

	e.clock.Advance(auth.DefaultBlockFor - time.Second)
	r = e.do(t, http.MethodGet, "/scouter/auth/login", nil, creds("admin", "admin"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"))

	e.clock.Advance(time.Second)
	r = e.do(t, http.MethodGet, "/scouter/auth/login", nil, creds("admin", "admin"))
	assert.Equal(t, http.StatusOK, r.status, "unlocked after the lockout: %s", r.body)
}

func TestAuthRefresh(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.login(t, "guest", "guest")

	r := e.do(t, http.MethodGet, "/scouter/auth/refresh", nil, bearerHeader(tok))
	require.Equal(t, http.StatusOK, r.status, r.body)
	newTok := r.json(t)["token"].(string)
	_, err := e.tokens.ValidateAccess(newTok)
	require.NoError(t, err)

	// An expired access token is accepted.
	expired, err := pastTokens(t, 5*time.Hour).NewAccessToken(auth.Identity{Username: "guest"})
	require.NoError(t, err)
	r = e.do(t, http.MethodGet, "/scouter/auth/refresh", nil, bearerHeader(expired))
	require.Equal(t, http.StatusOK, r.status, r.body)

	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantBody   string
	}{
		{"no header", nil, 401, `{"error":"No refresh token provided"}`},
		{"not bearer", http.Header{"Authorization": {"Basic Z3Vlc3Q6Z3Vlc3Q="}}, 401, `{"error":"No refresh token provided"}`},
		{"repeated header", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, 401, `{"error":"No refresh token provided"}`},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, 401, `{"error":"No refresh token provided"}`},
	}
	for name, bad := range badTokens(t) {
		tests = append(tests, struct {
			name       string
			header     http.Header
			wantStatus int
			wantBody   string
		}{name, bearerHeader(bad), 401, `{"error":"Failed to decode JWT token"}`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, "/scouter/auth/refresh", nil, tt.header)
			assert.Equal(t, tt.wantStatus, r.status)
			assert.Equal(t, tt.wantBody, r.body)
		})
	}

	t.Run("deleted user", func(t *testing.T) {
		admin := e.login(t, "admin", "admin")
		r := e.do(t, http.MethodDelete, "/scouter/user/guest", nil, bearerHeader(admin))
		require.Equal(t, http.StatusOK, r.status, r.body)
		r = e.do(t, http.MethodGet, "/scouter/auth/refresh", nil, bearerHeader(tok))
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.Equal(t, `{"error":"User not found"}`, r.body)
	})
}

func TestAuthValidate(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.login(t, "guest", "guest")
	r := e.do(t, http.MethodGet, "/scouter/auth/validate", nil, bearerHeader(tok))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, `{"is_authenticated":true}`, r.body)

	r = e.do(t, http.MethodGet, "/scouter/auth/validate", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, `{"error":"Bearer token not found"}`, r.body)

	expired, err := pastTokens(t, 2*time.Hour).NewAccessToken(auth.Identity{Username: "guest"})
	require.NoError(t, err)
	bad := badTokens(t)
	bad["expired"] = expired
	for name, tok := range bad {
		r := e.do(t, http.MethodGet, "/scouter/auth/validate", nil, bearerHeader(tok))
		assert.Equal(t, http.StatusUnauthorized, r.status, name)
		assert.Equal(t, `{"error":"Failed to validate token"}`, r.body, name)
	}
}

func TestAuthMiddleware(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.login(t, "guest", "guest")
	const route = "/scouter/user/guest"

	t.Run("bearer", func(t *testing.T) {
		r := e.do(t, http.MethodGet, route, nil, bearerHeader(tok))
		assert.Equal(t, http.StatusOK, r.status, r.body)
		assert.Empty(t, r.header.Get("Authorization"), "a valid token is not replaced")
	})
	t.Run("cookie", func(t *testing.T) {
		r := e.do(t, http.MethodGet, route, nil, http.Header{"Cookie": {"access_token=" + tok}})
		assert.Equal(t, http.StatusOK, r.status, r.body)
	})
	t.Run("cookie wins over bearer", func(t *testing.T) {
		r := e.do(t, http.MethodGet, route, nil, http.Header{"Cookie": {"access_token=" + tok}, "Authorization": {"Bearer garbage"}})
		assert.Equal(t, http.StatusOK, r.status, r.body)
		r = e.do(t, http.MethodGet, route, nil, http.Header{"Cookie": {"access_token=garbage"}, "Authorization": {"Bearer " + tok}})
		assert.Equal(t, http.StatusUnauthorized, r.status, r.body)
	})
	t.Run("lower-case bearer scheme", func(t *testing.T) {
		r := e.do(t, http.MethodGet, route, nil, http.Header{"Authorization": {"bearer " + tok}})
		assert.Equal(t, http.StatusOK, r.status, r.body)
	})

	noToken := `{"error":"Unauthorized","message":"No access token provided"}`
	invalid := `{"error":"Unauthorized","message":"Invalid token format"}`
	tests := []struct {
		name     string
		header   http.Header
		wantBody string
	}{
		{"no token", nil, noToken},
		{"basic auth", http.Header{"Authorization": {"Basic Z3Vlc3Q6Z3Vlc3Q="}}, noToken},
		{"repeated authorization", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, noToken},
		{"64 KiB token", bearerHeader(strings.Repeat("a", 64<<10)), noToken},
		{"non-ASCII token", bearerHeader("tök.én.x"), noToken},
		{"empty cookie, no bearer", http.Header{"Cookie": {"access_token="}}, noToken},
		{"upstream credentials headers only", creds("guest", "guest"), noToken},
	}
	for name, bad := range badTokens(t) {
		tests = append(tests, struct {
			name     string
			header   http.Header
			wantBody string
		}{name, bearerHeader(bad), invalid})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, route, nil, tt.header)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.Equal(t, tt.wantBody, r.body)
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
		})
	}

	t.Run("auth runs only for matched routes", func(t *testing.T) {
		assert.Equal(t, http.StatusNotFound, e.do(t, http.MethodGet, "/scouter/nope", nil, nil).status)
		assert.Equal(t, http.StatusMethodNotAllowed, e.do(t, http.MethodPatch, "/scouter/user", nil, nil).status)
	})
}

func TestAuthTransparentRefresh(t *testing.T) {
	e := newAuthEnv(t)
	e.login(t, "guest", "guest") // stores guest's refresh token
	expired, err := pastTokens(t, 2*time.Hour).NewAccessToken(auth.Identity{Username: "guest", GroupPermissions: []string{"user"}})
	require.NoError(t, err)
	_, err = e.tokens.ValidateAccess(expired)
	require.ErrorIs(t, err, auth.ErrTokenExpired, "precondition: the token is expired")

	r := e.do(t, http.MethodGet, "/scouter/user/guest", nil, bearerHeader(expired))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "guest", r.json(t)["username"])
	newTok, ok := auth.BearerToken(r.header.Get("Authorization"))
	require.True(t, ok, "response Authorization header %q", r.header.Get("Authorization"))
	assert.True(t, strings.HasPrefix(r.header.Get("Authorization"), "Bearer "))

	// The new token works and is not replaced again.
	r = e.do(t, http.MethodGet, "/scouter/user/guest", nil, bearerHeader(newTok))
	assert.Equal(t, http.StatusOK, r.status, r.body)
	assert.Empty(t, r.header.Get("Authorization"))

	// The header is set whatever the handler answers (403 here).
	r = e.do(t, http.MethodGet, "/scouter/user/admin", nil, bearerHeader(expired))
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, `{"error":"Permission denied"}`, r.body)
	assert.NotEmpty(t, r.header.Get("Authorization"))

	// The same through the cookie.
	r = e.do(t, http.MethodGet, "/scouter/user/guest", nil, http.Header{"Cookie": {"access_token=" + expired}})
	assert.Equal(t, http.StatusOK, r.status)
	assert.NotEmpty(t, r.header.Get("Authorization"))
}

func TestAuthTransparentRefreshRefusals(t *testing.T) {
	e := newAuthEnv(t)
	past := pastTokens(t, 2*time.Hour)

	// admin never logged in: no stored refresh token.
	expired, err := past.NewAccessToken(auth.Identity{Username: "admin", GroupPermissions: []string{"admin"}})
	require.NoError(t, err)
	r := e.do(t, http.MethodGet, "/scouter/user", nil, bearerHeader(expired))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, `{"error":"Unauthorized","message":"No refresh token found"}`, r.body)
	assert.Empty(t, r.header.Get("Authorization"))

	// The user does not exist (any more).
	ghost, err := past.NewAccessToken(auth.Identity{Username: "ghost"})
	require.NoError(t, err)
	r = e.do(t, http.MethodGet, "/scouter/user/ghost", nil, bearerHeader(ghost))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, `{"error":"Unauthorized","message":"User not found"}`, r.body)

	// An expired token of a deleted user is refused even though it was
	// refreshable before.
	e.login(t, "guest", "guest")
	guestExpired, err := past.NewAccessToken(auth.Identity{Username: "guest"})
	require.NoError(t, err)
	admin := e.login(t, "admin", "admin")
	require.Equal(t, http.StatusOK, e.do(t, http.MethodDelete, "/scouter/user/guest", nil, bearerHeader(admin)).status)
	r = e.do(t, http.MethodGet, "/scouter/user/guest", nil, bearerHeader(guestExpired))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, `{"error":"Unauthorized","message":"User not found"}`, r.body)
}

func TestAuthBootstrap(t *testing.T) {
	e := newAuthEnv(t)
	key := string(authTestSecrets.Bootstrap)
	body := map[string]any{"username": "synced", "password": "pw", "email": "synced@example.com"}

	r := e.do(t, http.MethodPost, "/scouter/user", body, http.Header{"X-Bootstrap-Token": {key}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "synced", r.json(t)["user"].(map[string]any)["username"])
	e.login(t, "synced", "pw")

	noToken := `{"error":"Unauthorized","message":"No access token provided"}`
	tests := []struct {
		name, method, path string
		header             http.Header
	}{
		{"wrong key", http.MethodPost, "/scouter/user", http.Header{"X-Bootstrap-Token": {"nope"}}},
		{"empty key", http.MethodPost, "/scouter/user", http.Header{"X-Bootstrap-Token": {""}}},
		{"repeated key", http.MethodPost, "/scouter/user", http.Header{"X-Bootstrap-Token": {key, key}}},
		{"key on list", http.MethodGet, "/scouter/user", http.Header{"X-Bootstrap-Token": {key}}},
		{"key on update", http.MethodPut, "/scouter/user/admin", http.Header{"X-Bootstrap-Token": {key}}},
		{"key on delete", http.MethodDelete, "/scouter/user/admin", http.Header{"X-Bootstrap-Token": {key}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b any
			if tt.method == http.MethodPost || tt.method == http.MethodPut {
				b = map[string]any{"username": "other", "password": "pw", "email": "other@example.com"}
			}
			r := e.do(t, tt.method, tt.path, b, tt.header)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.Equal(t, noToken, r.body)
		})
	}

	// A wrong key falls through to the token.
	admin := e.login(t, "admin", "admin")
	h := bearerHeader(admin)
	h.Set("X-Bootstrap-Token", "nope")
	r = e.do(t, http.MethodPost, "/scouter/user", map[string]any{"username": "viatoken", "password": "pw", "email": "v@x"}, h)
	assert.Equal(t, http.StatusOK, r.status, r.body)
}
