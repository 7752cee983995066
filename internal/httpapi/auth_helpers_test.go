package httpapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/httpapi"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/user"
)

var authTestSecrets = auth.Secrets{
	Access:    []byte("http-test-access-secret-0123456789abcdef"),
	Refresh:   []byte("http-test-refresh-secret-0123456789abcdef"),
	Bootstrap: []byte("http-test-bootstrap-key-0123456789abcdef"),
}

// authClock is a settable clock for the login rate limiter.
type authClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *authClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *authClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// authEnv is a real HTTP server with the real router, the auth and user
// routes and the auth middleware, on a fresh database holding the default
// users (admin/admin, guest/guest).
type authEnv struct {
	url    string
	svc    *user.Service
	tokens *auth.Manager
	clock  *authClock
	client *http.Client
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	pool := pgtest.New(t)
	tokens, err := auth.NewManager(authTestSecrets, nil)
	require.NoError(t, err)
	clk := &authClock{now: time.Now()}
	svc, err := user.New(user.Options{
		Store:   user.NewPGStore(pool),
		Tokens:  tokens,
		Limiter: auth.NewLimiter(auth.LimiterOptions{Now: clk.Now}),
	})
	require.NoError(t, err)
	_, err = svc.EnsureDefaultUsers(context.Background(), user.Defaults{AdminUsername: "admin", AdminPassword: "admin"})
	require.NoError(t, err)

	router := httpapi.NewRouter(httpapi.Deps{
		Auth:   httpapi.NewAuthMiddleware(svc),
		Routes: []httpapi.Registrar{httpapi.NewAuthHandler(svc), httpapi.NewUserHandler(svc)},
	})
	srv := httptest.NewUnstartedServer(router)
	srv.Config = httpapi.NewHTTPServer("", router)
	srv.Start()
	t.Cleanup(srv.Close)
	return &authEnv{url: srv.URL, svc: svc, tokens: tokens, clock: clk, client: &http.Client{Timeout: 30 * time.Second}}
}

type reply struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into a generic value.
func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &m), "body %q", r.body)
	return m
}

// do sends a request; body is sent as JSON unless it is a string.
func (e *authEnv) do(t *testing.T, method, path string, body any, header http.Header) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// login returns an access token for the user.
func (e *authEnv) login(t *testing.T, username, password string) string {
	t.Helper()
	r := e.do(t, http.MethodGet, "/scouter/auth/login", nil, creds(username, password))
	require.Equal(t, http.StatusOK, r.status, "login %s: %s", username, r.body)
	tok, _ := r.json(t)["token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

func creds(username, password string) http.Header {
	return http.Header{"Username": {username}, "Password": {password}}
}

func bearerHeader(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// pastTokens issues tokens under the test secrets as if it were `ago` ago.
func pastTokens(t *testing.T, ago time.Duration) *auth.Manager {
	t.Helper()
	m, err := auth.NewManager(authTestSecrets, func() time.Time { return time.Now().Add(-ago) })
	require.NoError(t, err)
	return m
}

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hs256 signs header.claims with key.
func hs256(header, claims string, key []byte) string {
	in := seg(header) + "." + seg(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// badTokens are access tokens this server must refuse.
func badTokens(t *testing.T) map[string]string {
	t.Helper()
	exp := time.Now().Add(time.Hour).Unix()
	claims := `{"sub":"admin","exp":` + itoa(exp) + `,"permissions":["read:all"],"group_permissions":["admin"],"salt":"abc"}`
	hdr := `{"alg":"HS256","typ":"JWT"}`
	good := hs256(hdr, claims, authTestSecrets.Access)
	parts := strings.Split(good, ".")
	refresh, err := auth.NewManager(auth.Secrets{Access: authTestSecrets.Refresh, Refresh: authTestSecrets.Refresh}, nil)
	require.NoError(t, err)
	refreshTok, err := refresh.NewAccessToken(auth.Identity{Username: "admin", GroupPermissions: []string{"admin"}})
	require.NoError(t, err)
	return map[string]string{
		"garbage":               "not-a-jwt",
		"two segments":          parts[0] + "." + parts[1],
		"four segments":         good + "." + parts[2],
		"bad base64":            "!!!." + parts[1] + "." + parts[2],
		"claims not JSON":       hs256(hdr, "nope", authTestSecrets.Access),
		"missing exp":           hs256(hdr, `{"sub":"admin","permissions":[],"group_permissions":["admin"],"salt":"x"}`, authTestSecrets.Access),
		"alg none":              seg(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".",
		"alg RS256":             hs256(`{"alg":"RS256","typ":"JWT"}`, claims, authTestSecrets.Access),
		"foreign key":           hs256(hdr, claims, []byte("a-key-that-is-not-ours-0123456789abcdef")),
		"refresh-secret token":  refreshTok,
		"tampered claims":       parts[0] + "." + seg(strings.Replace(claims, "read:all", "write:all", 1)) + "." + parts[2],
		"signed with no secret": hs256(hdr, claims, nil),
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
