package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUserCRUDScenario is upstream's test_server_user_crud.
func TestUserCRUDScenario(t *testing.T) {
	e := newAuthEnv(t)
	h := bearerHeader(e.login(t, "admin", "admin"))

	// 1. create
	r := e.do(t, http.MethodPost, "/scouter/user", map[string]any{
		"username": "test_user", "password": "test_password", "email": "test_user@example.com",
		"permissions": []string{"read:all", "write:all"}, "group_permissions": []string{"user"},
		"role": "user", "active": true,
	}, h)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var created struct {
		User struct {
			Username         string   `json:"username"`
			Permissions      []string `json:"permissions"`
			GroupPermissions []string `json:"group_permissions"`
			Active           bool     `json:"active"`
		} `json:"user"`
		RecoveryCodes []string `json:"recovery_codes"`
		Message       string   `json:"message"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &created))
	assert.Equal(t, "test_user", created.User.Username)
	assert.Equal(t, []string{"read:all", "write:all"}, created.User.Permissions)
	assert.Equal(t, []string{"user"}, created.User.GroupPermissions)
	assert.True(t, created.User.Active)
	assert.Len(t, created.RecoveryCodes, 4)
	assert.Equal(t, "Save these recovery codes securely. They cannot be shown again!", created.Message)
	assertKeys(t, r.body, "user", "recovery_codes", "message")
	assertKeys(t, mustField(t, r.body, "user"), "username", "email", "active", "role", "permissions", "group_permissions", "favorite_spaces")

	// 2. get
	r = e.do(t, http.MethodGet, "/scouter/user/test_user", nil, h)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"username":"test_user","email":"test_user@example.com","active":true,"role":"user",
		"permissions":["read:all","write:all"],"group_permissions":["user"],"favorite_spaces":[]}`, r.body)

	// 3. update
	r = e.do(t, http.MethodPut, "/scouter/user/test_user", map[string]any{
		"password": "new_password", "permissions": []string{"read:all", "write:all", "execute:all"},
		"group_permissions": []string{"user", "developer"}, "active": true, "favorite_spaces": nil,
	}, h)
	require.Equal(t, http.StatusOK, r.status, r.body)
	got := r.json(t)
	perms := strs(got["permissions"])
	groups := strs(got["group_permissions"])
	slices.Sort(perms)
	slices.Sort(groups)
	assert.Equal(t, []string{"execute:all", "read:all", "write:all"}, perms)
	assert.Equal(t, []string{"developer", "user"}, groups)
	e.login(t, "test_user", "new_password")

	// 4. list
	r = e.do(t, http.MethodGet, "/scouter/user", nil, h)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var list struct {
		Users []struct {
			Username string `json:"username"`
		} `json:"users"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	names := []string{}
	for _, u := range list.Users {
		names = append(names, u.Username)
	}
	assert.Equal(t, []string{"admin", "guest", "test_user"}, names)

	// 5. delete
	r = e.do(t, http.MethodDelete, "/scouter/user/test_user", nil, h)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, `{"status":"success","message":"User test_user deleted successfully"}`, r.body)

	// 6. gone
	r = e.do(t, http.MethodGet, "/scouter/user/test_user", nil, h)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, `{"error":"User not found"}`, r.body)
}

func TestUserRouteErrors(t *testing.T) {
	e := newAuthEnv(t)
	admin := bearerHeader(e.login(t, "admin", "admin"))
	guest := bearerHeader(e.login(t, "guest", "guest"))
	newUser := map[string]any{"username": "bob", "password": "pw", "email": "bob@example.com"}
	withCT := func(h http.Header, ct string) http.Header {
		c := h.Clone()
		c.Set("Content-Type", ct)
		return c
	}
	tests := []struct {
		name, method, path string
		body               any
		header             http.Header
		wantStatus         int
		wantBody           string // exact, or a prefix when it ends with "*"
	}{
		{"create as non-admin", "POST", "/scouter/user", newUser, guest, 403, `{"error":"Need admin permission"}`},
		{"create existing", "POST", "/scouter/user", map[string]any{"username": "guest", "password": "x", "email": "x@y"}, admin, 409, `{"error":"User already exists"}`},
		{"create with a taken email", "POST", "/scouter/user", map[string]any{"username": "bob2", "password": "x", "email": "default"}, admin, 409, `{"error":"Email already in use"}`},
		{"create without username", "POST", "/scouter/user", map[string]any{"password": "x", "email": "x"}, admin, 422, `{"error":"missing field ` + "`username`" + `"}`},
		{"create without email", "POST", "/scouter/user", map[string]any{"username": "x", "password": "x"}, admin, 422, `{"error":"missing field ` + "`email`" + `"}`},
		{"create with wrong type", "POST", "/scouter/user", `{"username":1,"password":"x","email":"x"}`, admin, 422, `{"error":"Invalid type for field \"username\"*`},
		{"create with bad JSON", "POST", "/scouter/user", `{"username":`, admin, 400, `{"error":"Invalid JSON body*`},
		{"create with empty body", "POST", "/scouter/user", "", admin, 400, `{"error":"Request body is empty"}`},
		{"create with a non-JSON content type", "POST", "/scouter/user", "x", withCT(admin, "text/plain"), 415, `*`},
		{"create with non-ASCII username", "POST", "/scouter/user", map[string]any{"username": "bøb", "password": "x", "email": "x"}, admin, 422, `{"error":"Invalid field username: *`},
		{"create with a slash in the username", "POST", "/scouter/user", map[string]any{"username": "a/b", "password": "x", "email": "x"}, admin, 422, `{"error":"Invalid field username: *`},
		{"create with a 64 KiB username", "POST", "/scouter/user", map[string]any{"username": strings.Repeat("u", 64<<10), "password": "x", "email": "x"}, admin, 422, `{"error":"Invalid field username: *`},
		{"create with NUL in email", "POST", "/scouter/user", map[string]any{"username": "z", "password": "x", "email": "a\x00b"}, admin, 422, `{"error":"Invalid field email: *`},
		{"list as non-admin", "GET", "/scouter/user", nil, guest, 403, `{"error":"Need admin permission"}`},
		{"get someone else", "GET", "/scouter/user/admin", nil, guest, 403, `{"error":"Permission denied"}`},
		{"get missing", "GET", "/scouter/user/nobody", nil, admin, 404, `{"error":"User not found"}`},
		{"get SQL-looking name", "GET", "/scouter/user/x'%3B%20DROP%20TABLE%20scouter.user%3B--", nil, admin, 404, `{"error":"User not found"}`},
		{"get NUL name", "GET", "/scouter/user/a%00b", nil, admin, 404, `{"error":"User not found"}`},
		{"update someone else", "PUT", "/scouter/user/admin", map[string]any{"password": "x"}, guest, 403, `{"error":"Permission denied"}`},
		{"update missing", "PUT", "/scouter/user/nobody", map[string]any{"active": true}, admin, 404, `{"error":"User not found"}`},
		{"update with empty password", "PUT", "/scouter/user/guest", map[string]any{"password": ""}, admin, 422, `{"error":"Invalid field password: *`},
		{"update with wrong type", "PUT", "/scouter/user/guest", `{"active":"yes"}`, admin, 422, `{"error":"Invalid type for field \"active\"*`},
		{"delete as non-admin", "DELETE", "/scouter/user/guest", nil, guest, 403, `{"error":"Need admin permission"}`},
		{"delete the last admin", "DELETE", "/scouter/user/admin", nil, admin, 403, `{"error":"Cannot delete the last admin user"}`},
		{"delete missing", "DELETE", "/scouter/user/nobody", nil, admin, 200, `{"status":"success","message":"User nobody deleted successfully"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, tt.body, tt.header)
			assert.Equal(t, tt.wantStatus, r.status, r.body)
			if prefix, ok := strings.CutSuffix(tt.wantBody, "*"); ok {
				assert.True(t, strings.HasPrefix(r.body, prefix), "got %s, want prefix %s", r.body, prefix)
			} else {
				assert.Equal(t, tt.wantBody, r.body)
			}
		})
	}
}

func TestUserSelfService(t *testing.T) {
	e := newAuthEnv(t)
	guest := bearerHeader(e.login(t, "guest", "guest"))

	r := e.do(t, http.MethodGet, "/scouter/user/guest", nil, guest)
	require.Equal(t, http.StatusOK, r.status, r.body)

	// A non-admin can change their password and favorites; the admin-only
	// fields are ignored silently.
	r = e.do(t, http.MethodPut, "/scouter/user/guest", map[string]any{
		"password": "guest2", "favorite_spaces": []string{"b", "a", "b"},
		"permissions": []string{"read:x"}, "group_permissions": []string{"admin"}, "active": false,
	}, guest)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"username":"guest","email":"default","active":true,"role":"guest",
		"permissions":["read:all","write:all","delete:all"],"group_permissions":["user"],"favorite_spaces":["a","b"]}`, r.body)
	e.login(t, "guest", "guest2")

	// An admin-created user with group admin can manage users.
	admin := bearerHeader(e.login(t, "admin", "admin"))
	r = e.do(t, http.MethodPost, "/scouter/user", map[string]any{
		"username": "ops", "password": "pw", "email": "ops@x", "group_permissions": []string{"admin"},
	}, admin)
	require.Equal(t, http.StatusOK, r.status, r.body)
	ops := bearerHeader(e.login(t, "ops", "pw"))
	r = e.do(t, http.MethodGet, "/scouter/user", nil, ops)
	assert.Equal(t, http.StatusOK, r.status)
	// ...but its role is "user", so the role-admin "admin" is still the last admin.
	r = e.do(t, http.MethodDelete, "/scouter/user/admin", nil, ops)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, `{"error":"Cannot delete the last admin user"}`, r.body)
}

func assertKeys(t *testing.T, body string, want ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	assert.ElementsMatch(t, want, got)
}

func mustField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	raw, ok := m[field]
	require.True(t, ok, "field %s in %s", field, body)
	return string(raw)
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
