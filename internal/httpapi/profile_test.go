package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/profileapi"
)

// profileIdentities are the callers of the profile tests, by bearer token.
var profileIdentities = map[string]auth.Identity{
	"admin":  {Username: "admin", Permissions: []string{"read:all", "write:all"}, GroupPermissions: []string{"admin"}},
	"reader": {Username: "reader", Permissions: []string{"read:all"}, GroupPermissions: []string{"user"}},
	"nobody": {Username: "nobody", GroupPermissions: []string{"user"}},
}

// identityAuth authenticates "Bearer <name>" as profileIdentities[name].
func identityAuth(c *gin.Context) {
	id, ok := profileIdentities[strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")]
	if !ok {
		AbortUnauthorized(c, "Invalid token")
		return
	}
	c.Request = c.Request.WithContext(auth.WithIdentity(c.Request.Context(), id))
	c.Next()
}

type profileEnv struct {
	t      *testing.T
	srv    *httptest.Server
	pool   *pgxpool.Pool
	client *http.Client
}

func newProfileEnv(t *testing.T) *profileEnv {
	t.Helper()
	pool := pgtest.New(t)
	svc, err := profileapi.New(profileapi.Options{DB: pool})
	require.NoError(t, err)
	srv := httptest.NewServer(NewRouter(Deps{Auth: identityAuth, Routes: []Registrar{NewProfileHandler(svc)}}))
	t.Cleanup(srv.Close)
	return &profileEnv{t: t, srv: srv, pool: pool, client: srv.Client()}
}

// call sends body (any value is JSON-encoded, a json.RawMessage or string is
// sent as is) as caller and returns the status and the body.
func (e *profileEnv) call(caller, method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd *strings.Reader
	switch b := body.(type) {
	case nil:
		rd = strings.NewReader("")
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+caller)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, out
}

// rows returns the number of entity and profile rows.
func (e *profileEnv) rows() [2]int {
	e.t.Helper()
	var n [2]int
	require.NoError(e.t, e.pool.QueryRow(e.t.Context(),
		`SELECT (SELECT count(*) FROM scouter.drift_entities), (SELECT count(*) FROM scouter.drift_profile)`).
		Scan(&n[0], &n[1]))
	return n
}

// testProfile loads the profile package's testdata/<kind>.json with
// config.space and config.name replaced, then applies edit.
func testProfile(t *testing.T, kind, space, name string, edit func(m map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "profile", "testdata", kind+".json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	cfg := m["config"].(map[string]any)
	cfg["space"], cfg["name"] = space, name
	if edit != nil {
		edit(m)
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return string(out)
}

func profileReq(space, driftType, prof string, version any) map[string]any {
	return map[string]any{
		"space": space, "drift_type": driftType, "profile": prof,
		"version_request":   map[string]any{"version": version, "version_type": "Minor", "pre_tag": nil, "build_tag": nil},
		"active":            false,
		"deactivate_others": false,
	}
}

type registered struct {
	Space   string `json:"space"`
	Name    string `json:"name"`
	Version string `json:"version"`
	UID     string `json:"uid"`
	Status  string `json:"status"`
	Active  bool   `json:"active"`
}

func (e *profileEnv) register(body map[string]any) registered {
	e.t.Helper()
	status, resp := e.call("admin", http.MethodPost, "/scouter/profile", body)
	require.Equal(e.t, http.StatusOK, status, "register: %s", resp)
	var r registered
	require.NoError(e.t, json.Unmarshal(resp, &r))
	var keys map[string]any
	require.NoError(e.t, json.Unmarshal(resp, &keys))
	assert.Len(e.t, keys, 6, "RegisteredProfileResponse has exactly its six fields: %s", resp)
	return r
}

func getQuery(name, space, version, dt string) string {
	q := url.Values{"name": {name}, "space": {space}, "version": {version}, "drift_type": {dt}}
	return "/scouter/profile?" + q.Encode()
}

func errorBody(t *testing.T, body []byte) string {
	t.Helper()
	var e ErrorResponse
	require.NoError(t, json.Unmarshal(body, &e), "error body %s", body)
	return e.Error
}

func TestProfileRegisterAndGetEveryDriftType(t *testing.T) {
	env := newProfileEnv(t)
	for _, kind := range []struct{ variant, file string }{
		{"Spc", "spc"}, {"Psi", "psi"}, {"Custom", "custom"}, {"GenAI", "genai"},
	} {
		t.Run(kind.variant, func(t *testing.T) {
			prof := testProfile(t, kind.file, "space", "model", nil)
			r := env.register(profileReq("space", kind.variant, prof, nil))
			assert.Equal(t, registered{Space: "space", Name: "model", Version: "0.1.0", UID: r.UID, Status: "success"}, r)
			require.Len(t, r.UID, 36)

			status, body := env.call("reader", http.MethodGet, getQuery("model", "space", "0.1.0", kind.variant), nil)
			require.Equal(t, http.StatusOK, status, "%s", body)
			var tagged map[string]map[string]any
			require.NoError(t, json.Unmarshal(body, &tagged))
			require.Len(t, tagged, 1)
			inner, ok := tagged[kind.variant]
			require.True(t, ok, "externally tagged with %q: %s", kind.variant, body)
			cfg := inner["config"].(map[string]any)
			assert.Equal(t, r.UID, cfg["uid"], "config.uid is the returned uid")
			assert.Equal(t, "0.1.0", cfg["version"])
			assert.Equal(t, kind.variant, cfg["drift_type"])

			// Everything else round-trips.
			var sent map[string]any
			require.NoError(t, json.Unmarshal([]byte(prof), &sent))
			sentCfg := sent["config"].(map[string]any)
			sentCfg["uid"], sentCfg["version"] = r.UID, "0.1.0"
			assert.Equal(t, sent, inner)

			// drift_type in the query is case-insensitive.
			status, _ = env.call("reader", http.MethodGet, getQuery("model", "space", "0.1.0", strings.ToLower(kind.variant)), nil)
			assert.Equal(t, http.StatusOK, status)
		})
	}
}

// TestProfileUpstreamR03 follows upstream's test_create_spc_profile.
func TestProfileUpstreamR03(t *testing.T) {
	env := newProfileEnv(t)
	prof := testProfile(t, "spc", "space", "name", func(m map[string]any) {
		m["config"].(map[string]any)["sample_size"] = 100
	})
	r := env.register(profileReq("space", "Spc", prof, "1.0.0"))
	assert.Equal(t, "1.0.0", r.Version)
	assert.False(t, r.Active)

	status, body := env.call("admin", http.MethodGet, "/scouter/profile?name=name&space=space&version=1.0.0&drift_type=Spc", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), `"sample_size":100`)

	status, body = env.call("admin", http.MethodPut, "/scouter/profile/status", map[string]any{
		"name": "name", "space": "space", "version": "1.0.0", "active": true, "drift_type": nil, "deactivate_others": true,
	})
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.JSONEq(t, `{"status":"success","message":"Monitor profile status updated to true for name space 1.0.0"}`, string(body))
	var active bool
	require.NoError(t, env.pool.QueryRow(t.Context(), `SELECT active FROM scouter.drift_profile WHERE uid = $1`, r.UID).Scan(&active))
	assert.True(t, active)
}

// TestProfileUpstreamR04 follows upstream's test_profile_versions.
func TestProfileUpstreamR04(t *testing.T) {
	env := newProfileEnv(t)
	prof := testProfile(t, "custom", "space", "name", func(m map[string]any) {
		ac := m["config"].(map[string]any)["alert_config"].(map[string]any)
		ac["alert_conditions"] = map[string]any{"mae": map[string]any{"baseline_value": 10.0, "alert_threshold": "Below", "delta": nil}}
		m["metrics"] = map[string]any{"mae": 10.0}
	})
	first := env.register(profileReq("space", "Custom", prof, "1.0.0"))
	assert.Equal(t, "1.0.0", first.Version)

	req := profileReq("space", "Custom", prof, "1.0.0")
	req["active"], req["deactivate_others"] = true, true
	second := env.register(req)
	assert.Equal(t, "1.1.0", second.Version)
	assert.True(t, second.Active)

	status, body := env.call("admin", http.MethodPost, "/scouter/profiles", map[string]any{"space": "space", "name": "name", "version": "1.1.0"})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var listed []struct {
		Profile map[string]json.RawMessage `json:"profile"`
		Active  bool                       `json:"active"`
	}
	require.NoError(t, json.Unmarshal(body, &listed))
	require.Len(t, listed, 1)
	assert.True(t, listed[0].Active)
	require.Contains(t, listed[0].Profile, "Custom")
	assert.Contains(t, string(listed[0].Profile["Custom"]), second.UID)
}

func TestProfileDeactivateOthersAndStatus(t *testing.T) {
	env := newProfileEnv(t)
	prof := testProfile(t, "psi", "space", "model", nil)
	reg := func(active, deactivate bool) registered {
		req := profileReq("space", "Psi", prof, nil)
		req["active"], req["deactivate_others"] = active, deactivate
		return env.register(req)
	}
	listActive := func(version string) bool {
		t.Helper()
		status, body := env.call("reader", http.MethodPost, "/scouter/profiles", map[string]any{"space": "space", "name": "model", "version": version})
		require.Equal(t, http.StatusOK, status, "%s", body)
		var l []struct {
			Active bool `json:"active"`
		}
		require.NoError(t, json.Unmarshal(body, &l))
		require.Len(t, l, 1)
		return l[0].Active
	}
	v1 := reg(true, false)
	v2 := reg(true, true)
	assert.Equal(t, []string{"0.1.0", "0.2.0"}, []string{v1.Version, v2.Version})
	assert.False(t, listActive("0.1.0"), "deactivated by the second registration")
	assert.True(t, listActive("0.2.0"))

	setStatus := func(version string, active, deactivate bool, dt any) (int, []byte) {
		return env.call("admin", http.MethodPut, "/scouter/profile/status", map[string]any{
			"name": "model", "space": "space", "version": version, "active": active, "drift_type": dt, "deactivate_others": deactivate,
		})
	}
	status, body := setStatus("0.1.0", true, false, "Psi")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.True(t, listActive("0.1.0") && listActive("0.2.0"), "both active")

	status, body = setStatus("0.1.0", true, true, nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.True(t, listActive("0.1.0"))
	assert.False(t, listActive("0.2.0"), "deactivate_others switched 0.2.0 off")

	status, body = setStatus("0.1.0", false, false, "Psi")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.JSONEq(t, `{"status":"success","message":"Monitor profile status updated to false for model space 0.1.0"}`, string(body))
	assert.False(t, listActive("0.1.0"))

	status, body = setStatus("0.1.0", true, false, "Spc")
	assert.Equal(t, http.StatusNotFound, status, "no Spc profile: %s", body)
	assert.Equal(t, "Drift profile not found", errorBody(t, body))
	assert.False(t, listActive("0.1.0"), "nothing changed")
}

func TestProfileUpdateRoute(t *testing.T) {
	env := newProfileEnv(t)
	r := env.register(profileReq("space", "Custom", testProfile(t, "custom", "space", "model", nil), "2.0.0"))

	updated := testProfile(t, "custom", "space", "model", func(m map[string]any) {
		cfg := m["config"].(map[string]any)
		cfg["uid"] = r.UID
		cfg["alert_config"].(map[string]any)["schedule"] = "0 */5 * * * *"
		m["metrics"] = map[string]any{"mse": 1.5, "accuracy": 0.75}
	})
	status, body := env.call("admin", http.MethodPut, "/scouter/profile", profileReq("space", "Custom", updated, nil))
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.JSONEq(t, `{"status":"success","message":"Drift profile updated successfully"}`, string(body))

	status, body = env.call("admin", http.MethodGet, getQuery("model", "space", "2.0.0", "Custom"), nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), `"mse":1.5`)
	assert.Contains(t, string(body), `"0 */5 * * * *"`)
	var schedule string
	require.NoError(t, env.pool.QueryRow(t.Context(), `SELECT schedule FROM scouter.drift_profile WHERE uid = $1`, r.UID).Scan(&schedule))
	assert.Equal(t, "0 */5 * * * *", schedule)

	// Re-registering the same key replaces the uid: the old one is unknown.
	again := env.register(profileReq("space", "Custom", testProfile(t, "custom", "space", "model", nil), "1.0.0"))
	assert.Equal(t, "1.0.0", again.Version)
	replaced := env.register(profileReq("space", "Custom", testProfile(t, "custom", "space", "model", nil), "2"))
	assert.Equal(t, "2.1.0", replaced.Version)
	replacing := env.register(profileReq("space", "Custom", testProfile(t, "custom", "space", "model", nil), "2.0"))
	assert.Equal(t, "2.1.0", replacing.Version, "2.0 selects 2.0.x whose newest is 2.0.0")
	assert.NotEqual(t, replaced.UID, replacing.UID)
	status, body = env.call("admin", http.MethodGet, getQuery("model", "space", "2.1.0", "Custom"), nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), replacing.UID)
	assert.NotContains(t, string(body), replaced.UID)

	stale := testProfile(t, "custom", "space", "model", func(m map[string]any) { m["config"].(map[string]any)["uid"] = replaced.UID })
	status, body = env.call("admin", http.MethodPut, "/scouter/profile", profileReq("space", "Custom", stale, nil))
	assert.Equal(t, http.StatusNotFound, status, "%s", body)
	assert.True(t, strings.HasPrefix(errorBody(t, body), "Failed to get entity ID from UID: "), "%s", body)
}

func TestProfileErrors(t *testing.T) {
	env := newProfileEnv(t)
	env.register(profileReq("space", "Spc", testProfile(t, "spc", "space", "model", nil), "1.0.0"))
	good := testProfile(t, "spc", "space", "model", nil)
	withUID := func(uid string) string {
		return testProfile(t, "spc", "space", "model", func(m map[string]any) { m["config"].(map[string]any)["uid"] = uid })
	}
	spcEdit := func(edit func(ac map[string]any)) string {
		return testProfile(t, "spc", "space", "model", func(m map[string]any) {
			edit(m["config"].(map[string]any)["alert_config"].(map[string]any))
		})
	}
	oneBin := testProfile(t, "psi", "space", "model", func(m map[string]any) {
		f := m["features"].(map[string]any)["feature_1"].(map[string]any)
		f["bins"] = f["bins"].([]any)[:1]
	})
	noVersion := profileReq("space", "Spc", good, nil)
	noVersion["version_request"] = nil
	notString := profileReq("space", "Spc", good, nil)
	notString["profile"] = json.RawMessage(good)
	unknownType := profileReq("space", "Spc", good, nil)
	unknownType["drift_type"] = "Kl"

	cases := []struct {
		name        string
		caller      string
		method      string
		path        string
		body        any
		status      int
		errorPrefix string // "" = only the status is checked
	}{
		{"register without write", "reader", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", good, nil), 403, "Permission denied"},
		{"register without version request", "admin", http.MethodPost, "/scouter/profile", noVersion, 400, "Version request is required"},
		{"register bad version", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", good, "1.0.0-rc"), 400, "Invalid version request: "},
		{"profile is not a string", "admin", http.MethodPost, "/scouter/profile", notString, 422, "Invalid type for field \"profile\""},
		{"unknown drift type", "admin", http.MethodPost, "/scouter/profile", unknownType, 422, "Invalid JSON body: drift_type: unknown drift type \"Kl\""},
		{"malformed body", "admin", http.MethodPost, "/scouter/profile", `{"space": "space",`, 400, "Invalid JSON body"},
		{"profile string is not JSON", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", "{not json", nil), 400, "Invalid drift profile: profile: invalid JSON"},
		{"profile of another drift type", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Psi", good, nil), 400, "Invalid drift profile: "},
		{"one-bin PSI feature", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Psi", oneBin, nil), 400, "Invalid drift profile: features.feature_1.bins: need at least 2 bins"},
		{"bad SPC rule", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", spcEdit(func(ac map[string]any) {
			ac["rule"] = map[string]any{"rule": "8 16 x", "zones_to_monitor": []string{"Zone1"}}
		}), nil), 400, "Invalid drift profile: config.alert_config.rule.rule: "},
		{"five-field cron", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", spcEdit(func(ac map[string]any) { ac["schedule"] = "0 0 * * *" }), nil), 400, "Invalid drift profile: config.alert_config.schedule: "},
		{"cron that never fires", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", spcEdit(func(ac map[string]any) { ac["schedule"] = "0 0 0 1 1 * 1999" }), nil), 400, "Invalid drift profile: config.alert_config.schedule: "},
		{"unknown dispatch", "admin", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", spcEdit(func(ac map[string]any) { ac["dispatch_config"] = map[string]any{"Email": map[string]any{}} }), nil), 400, "Invalid drift profile: "},

		{"update without write", "reader", http.MethodPut, "/scouter/profile", profileReq("space", "Spc", good, nil), 403, "Permission denied"},
		{"update unknown uid", "admin", http.MethodPut, "/scouter/profile", profileReq("space", "Spc", withUID("0190e6a4-0000-7000-8000-000000000000"), nil), 404, "Failed to get entity ID from UID: "},
		{"update bad cron", "admin", http.MethodPut, "/scouter/profile", profileReq("space", "Spc", spcEdit(func(ac map[string]any) { ac["schedule"] = "every day" }), nil), 400, "Invalid drift profile: "},

		{"get without read", "nobody", http.MethodGet, getQuery("model", "space", "1.0.0", "Spc"), nil, 403, "Permission denied"},
		{"get unknown version", "admin", http.MethodGet, getQuery("model", "space", "9.9.9", "Spc"), nil, 404, "Drift profile not found"},
		{"get other drift type", "admin", http.MethodGet, getQuery("model", "space", "1.0.0", "Psi"), nil, 404, "Drift profile not found"},
		{"get missing parameter", "admin", http.MethodGet, "/scouter/profile?name=model&space=space&version=1.0.0", nil, 400, "Failed to deserialize query string: drift_type"},
		{"get bad drift type", "admin", http.MethodGet, getQuery("model", "space", "1.0.0", "Nope"), nil, 400, "Failed to deserialize query string: "},

		{"status without write", "reader", http.MethodPut, "/scouter/profile/status", map[string]any{"name": "model", "space": "space", "version": "1.0.0", "active": true, "deactivate_others": false}, 403, "Permission denied"},
		{"status missing key", "admin", http.MethodPut, "/scouter/profile/status", map[string]any{"name": "model", "space": "space", "version": "1.0.0", "active": true}, 422, "Invalid JSON body: deactivate_others"},
		{"status unknown profile", "admin", http.MethodPut, "/scouter/profile/status", map[string]any{"name": "nope", "space": "space", "version": "1.0.0", "active": true, "deactivate_others": false}, 404, "Drift profile not found"},

		{"list without read", "nobody", http.MethodPost, "/scouter/profiles", map[string]any{"space": "space", "name": "model", "version": "1.0.0"}, 403, "Permission denied"},
		{"list nothing", "admin", http.MethodPost, "/scouter/profiles", map[string]any{"space": "space", "name": "model", "version": "7.0.0"}, 404, "No drift profiles found"},
		{"list missing key", "admin", http.MethodPost, "/scouter/profiles", map[string]any{"space": "space", "name": "model"}, 422, "Invalid JSON body: version"},

		{"unauthenticated", "stranger", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", good, nil), 401, "Unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := env.rows()
			var snapshot string
			require.NoError(t, env.pool.QueryRow(t.Context(),
				`SELECT coalesce(string_agg(uid || active::text || profile::text || schedule, ',' ORDER BY uid), '') FROM scouter.drift_profile`).Scan(&snapshot))
			status, body := env.call(tc.caller, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.status, status, "status, body %s", body)
			got := errorBody(t, body)
			assert.True(t, strings.HasPrefix(got, tc.errorPrefix), "error got %q, want prefix %q", got, tc.errorPrefix)
			assert.Equal(t, before, env.rows(), "rows (entities, profiles) unchanged")
			var after string
			require.NoError(t, env.pool.QueryRow(t.Context(),
				`SELECT coalesce(string_agg(uid || active::text || profile::text || schedule, ',' ORDER BY uid), '') FROM scouter.drift_profile`).Scan(&after))
			assert.Equal(t, snapshot, after, "stored profiles unchanged")
		})
	}
}

func TestProfileDatabaseFailures(t *testing.T) {
	env := newProfileEnv(t)
	good := testProfile(t, "spc", "space", "model", nil)
	env.pool.Close() // every query now fails
	for _, tc := range []struct {
		name, method, path string
		body               any
		prefix             string
	}{
		{"register", http.MethodPost, "/scouter/profile", profileReq("space", "Spc", good, nil), "Failed to insert monitor profile: "},
		{"update", http.MethodPut, "/scouter/profile", profileReq("space", "Spc", good, nil), "Failed to update drift profile: "},
		{"get", http.MethodGet, getQuery("model", "space", "1.0.0", "Spc"), nil, "Failed to get entity ID from space, name, version, drift_type: "},
		{"status", http.MethodPut, "/scouter/profile/status", map[string]any{"name": "model", "space": "space", "version": "1.0.0", "active": true, "deactivate_others": false}, "Failed to update drift profile status: "},
		{"list", http.MethodPost, "/scouter/profiles", map[string]any{"space": "space", "name": "model", "version": "1.0.0"}, "Failed to query profile: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := env.call("admin", tc.method, tc.path, tc.body)
			assert.Equal(t, http.StatusInternalServerError, status, "%s", body)
			got := errorBody(t, body)
			assert.True(t, strings.HasPrefix(got, tc.prefix), "error got %q, want prefix %q", got, tc.prefix)
		})
	}
}
