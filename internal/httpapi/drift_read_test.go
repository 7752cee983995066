package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/driftread"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
)

// drTagWriter is a minimal real TagWriter (one upsert statement).
type drTagWriter struct{ pool *pgxpool.Pool }

func (w drTagWriter) StoreTags(ctx context.Context, tags []record.TagRecord) (int64, error) {
	var et, eid, k, v []string
	for _, t := range tags {
		et, eid, k, v = append(et, t.EntityType), append(eid, t.EntityID), append(k, t.Key), append(v, t.Value)
	}
	tag, err := w.pool.Exec(ctx, `INSERT INTO scouter.tags (entity_type, entity_id, key, value)
		SELECT unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[])
		ON CONFLICT ON CONSTRAINT tags_pkey DO UPDATE SET updated_at = now()`, et, eid, k, v)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// drPermsAuth authenticates every request that carries X-Test-Perms (a
// comma-separated permission list; "admin" is the admin group) and rejects
// the others with 401.
func drPermsAuth(c *gin.Context) {
	perms, ok := c.Request.Header["X-Test-Perms"]
	if !ok {
		AbortUnauthorized(c, "Invalid token")
		return
	}
	id := auth.Identity{Username: "tester"}
	for _, p := range strings.Split(strings.Join(perms, ","), ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case "admin":
			id.GroupPermissions = append(id.GroupPermissions, p)
		default:
			id.Permissions = append(id.Permissions, p)
		}
	}
	c.Request = c.Request.WithContext(auth.WithIdentity(c.Request.Context(), id))
	c.Next()
}

// drEnv is the real router with the read handlers over a fresh database.
type drEnv struct {
	pool *pgxpool.Pool
	h    http.Handler
}

func newDrEnv(t *testing.T) *drEnv {
	t.Helper()
	pool := pgtest.New(t)
	res, err := entity.NewResolver(pool, 100)
	require.NoError(t, err)
	svc, err := driftread.New(driftread.Deps{DB: pool, Entities: res})
	require.NoError(t, err)
	tags, err := driftread.NewTags(pool, drTagWriter{pool})
	require.NoError(t, err)
	h := NewRouter(Deps{
		Auth:   drPermsAuth,
		Routes: []Registrar{NewDriftReadHandler(svc), NewObservabilityHandler(svc), NewTagsHandler(tags)},
	})
	return &drEnv{pool: pool, h: h}
}

// do sends a request; perms nil means unauthenticated.
func (e *drEnv) do(t *testing.T, method, target, body string, perms *string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if perms != nil {
		req.Header.Set("X-Test-Perms", *perms)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func (e *drEnv) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := e.pool.Exec(t.Context(), sql, args...)
	require.NoError(t, err, sql)
}

func (e *drEnv) entity(t *testing.T, uid string) int32 {
	t.Helper()
	var id int32
	require.NoError(t, e.pool.QueryRow(t.Context(),
		`INSERT INTO scouter.drift_entities (uid, space, name, version, drift_type)
		 VALUES ($1, 'space', $1, '1.0.0', 'Spc') RETURNING id`, uid).Scan(&id))
	return id
}

func drPerms(p string) *string { return &p }

func drErr(t *testing.T, body string) string {
	t.Helper()
	var e ErrorResponse
	require.NoError(t, json.Unmarshal([]byte(body), &e), "error body %s", body)
	return e.Error
}

// drQuery builds a DriftRequest query string.
func drQuery(uid, extra string) string {
	q := "uid=" + url.QueryEscape(uid) + "&space=space&max_data_points=4"
	if extra != "" {
		q += "&" + extra
	}
	return q
}

const drWindow = "start_custom_datetime=2025-03-01T00%3A00%3A00Z&end_custom_datetime=2025-03-01T01%3A00%3A00Z"

func TestDriftReadRoutes(t *testing.T) {
	env := newDrEnv(t)
	id := env.entity(t, "uid-1")
	for _, r := range []struct {
		at string
		v  float64
	}{{"2025-03-01T00:01:00.5Z", 1}, {"2025-03-01T00:02:00Z", 3}, {"2025-03-01T00:20:00Z", 10}} {
		env.exec(t, `INSERT INTO scouter.spc_drift (created_at, entity_id, feature, value) VALUES ($1, $2, 'f', $3)`, r.at, id, r.v)
		env.exec(t, `INSERT INTO scouter.custom_drift (created_at, entity_id, metric, value) VALUES ($1, $2, 'm', $3)`, r.at, id, r.v)
	}
	env.exec(t, `INSERT INTO scouter.drift_profile (uid, entity_id, name, space, version, drift_type, profile, schedule)
		VALUES ('uid-1', $1, 'n', 'space', '1.0.0', 'Psi', $2::jsonb, '0 0 0 * * *')`, id, `{
		"features": {"f": {"id": "f", "timestamp": "2025-01-01T00:00:00Z", "bin_type": "Numeric", "bins": [
			{"id": 1, "lower_limit": "-inf", "upper_limit": 0, "proportion": 0.5},
			{"id": 2, "lower_limit": 0, "upper_limit": "inf", "proportion": 0.5}]}},
		"config": {"space": "space", "name": "n", "version": "1.0.0", "uid": "uid-1",
			"alert_config": {"schedule": "0 0 0 * * *", "features_to_monitor": ["f"],
				"dispatch_config": {"Console": {"enabled": true}}, "threshold": {"ChiSquare": {"alpha": 0.05}}},
			"feature_map": {"features": {}}, "drift_type": "Psi", "categorical_features": null,
			"binning_strategy": {"QuantileBinning": {"num_bins": 2}}},
		"scouter_version": "0.25.0"}`)
	env.exec(t, `INSERT INTO scouter.psi_drift (created_at, entity_id, feature, bin_id, bin_count) VALUES
		('2025-03-01T00:05:00Z', $1, 'f', 1, 75), ('2025-03-01T00:05:00Z', $1, 'f', 2, 25)`, id)
	env.exec(t, `INSERT INTO scouter.psi_drift (created_at, entity_id, feature, bin_id, bin_count) VALUES
		('2025-03-01T00:06:00Z', $1, 'f', 1, 75), ('2025-03-01T00:06:00Z', $1, 'f', 2, 25)`, id)

	read := drPerms("read:space")
	tests := []struct {
		path string
		want string
	}{
		{"/scouter/drift/spc", `{"features": {"f": {
			"created_at": ["2025-03-01T00:15:00Z", "2025-03-01T00:00:00Z"], "values": [10, 2]}}}`},
		{"/scouter/drift/custom", `{"metrics": {"m": {"metric": "m",
			"created_at": ["2025-03-01T00:15:00Z", "2025-03-01T00:00:00Z"],
			"stats": [{"avg": 10, "lower_bound": 10, "upper_bound": 10},
			          {"avg": 2, "lower_bound": 0.5857864376269049, "upper_bound": 3.414213562373095}]}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := env.do(t, http.MethodGet, tt.path+"?"+drQuery("uid-1", "time_interval=FourHours&"+drWindow), "", read)
			require.Equal(t, http.StatusOK, code, body)
			assert.JSONEq(t, tt.want, body)
		})
	}

	t.Run("/scouter/drift/psi", func(t *testing.T) {
		code, body := env.do(t, http.MethodGet, "/scouter/drift/psi?"+drQuery("uid-1", drWindow), "", read)
		require.Equal(t, http.StatusOK, code, body)
		var got struct {
			Features map[string]struct {
				CreatedAt  []string           `json:"created_at"`
				Psi        []float64          `json:"psi"`
				OverallPsi float64            `json:"overall_psi"`
				Bins       map[string]float64 `json:"bins"`
			} `json:"features"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		f := got.Features["f"]
		assert.Equal(t, []string{"2025-03-01T00:00:00Z"}, f.CreatedAt)
		// q = 0.75, 0.25 against p = 0.5, 0.5: 0.25·ln(3) ≈ 0.274653.
		require.Len(t, f.Psi, 1)
		assert.InDelta(t, 0.2746530721670274, f.Psi[0], 1e-9)
		assert.InDelta(t, 0.2746530721670274, f.OverallPsi, 1e-9)
		assert.Equal(t, map[string]float64{"1": 0.75, "2": 0.25}, f.Bins)
	})

	t.Run("empty data", func(t *testing.T) {
		env.entity(t, "uid-empty")
		for path, want := range map[string]string{
			"/scouter/drift/spc":    `{"features":{}}`,
			"/scouter/drift/custom": `{"metrics":{}}`,
		} {
			code, body := env.do(t, http.MethodGet, path+"?"+drQuery("uid-empty", "time_interval=SevenDays"), "", read)
			require.Equal(t, http.StatusOK, code, body)
			assert.JSONEq(t, want, body)
		}
	})
}

func TestDriftReadErrors(t *testing.T) {
	env := newDrEnv(t)
	env.entity(t, "uid-1")
	read := drPerms("read:space")
	tests := []struct {
		name     string
		query    string
		perms    *string
		wantCode int
		wantMsg  string // substring of the error message
	}{
		{"unauthenticated", drQuery("uid-1", ""), nil, http.StatusUnauthorized, "Unauthorized"},
		{"no read permission", drQuery("uid-1", ""), drPerms("write:space"), http.StatusForbidden, "Permission denied"},
		{"read on another space", drQuery("uid-1", ""), drPerms("read:other"), http.StatusForbidden, "Permission denied"},
		{"unknown uid", drQuery("nope", ""), read, http.StatusNotFound, "Failed to get entity ID from UID: "},
		{"missing uid", "space=space&max_data_points=4", read, http.StatusBadRequest, "uid: required"},
		{"missing space", "uid=uid-1&max_data_points=4", read, http.StatusBadRequest, "space: required"},
		{"missing max_data_points", "uid=uid-1&space=space", read, http.StatusBadRequest, "max_data_points: required"},
		{"non-numeric max_data_points", "uid=uid-1&space=space&max_data_points=lots", read, http.StatusBadRequest, "max_data_points: expected a 32-bit integer"},
		{"zero max_data_points", "uid=uid-1&space=space&max_data_points=0", read, http.StatusBadRequest, "max_data_points: must be > 0"},
		{"negative max_data_points", "uid=uid-1&space=space&max_data_points=-3", read, http.StatusBadRequest, "max_data_points: must be > 0"},
		{"max_data_points overflows i32", "uid=uid-1&space=space&max_data_points=4294967296", read, http.StatusBadRequest, "max_data_points"},
		{"unknown time_interval", drQuery("uid-1", "time_interval=Fortnight"), read, http.StatusBadRequest, `time_interval: unknown time interval "Fortnight"`},
		{"lower-case time_interval", drQuery("uid-1", "time_interval=onehour"), read, http.StatusBadRequest, "time_interval"},
		{"bad start datetime", drQuery("uid-1", "start_custom_datetime=yesterday&end_custom_datetime=2025-03-01T00%3A00%3A00Z"), read, http.StatusBadRequest, "start_custom_datetime: expected an RFC3339 datetime"},
		{"bad end datetime", drQuery("uid-1", "start_custom_datetime=2025-03-01T00%3A00%3A00Z&end_custom_datetime=2025-13-01T00%3A00%3A00Z"), read, http.StatusBadRequest, "end_custom_datetime"},
		{"start equals end", drQuery("uid-1", "start_custom_datetime=2025-03-01T00%3A00%3A00Z&end_custom_datetime=2025-03-01T00%3A00%3A00Z"), read, http.StatusBadRequest, "must be before end_custom_datetime"},
		{"start after end", drQuery("uid-1", "start_custom_datetime=2025-03-02T00%3A00%3A00Z&end_custom_datetime=2025-03-01T00%3A00%3A00Z"), read, http.StatusBadRequest, "must be before end_custom_datetime"},
		{"Custom without a range", drQuery("uid-1", "time_interval=Custom"), read, http.StatusBadRequest, "Custom needs start_custom_datetime"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/scouter/drift/spc", "/scouter/drift/psi", "/scouter/drift/custom"} {
			t.Run(tt.name+path, func(t *testing.T) {
				code, body := env.do(t, http.MethodGet, path+"?"+tt.query, "", tt.perms)
				require.Equal(t, tt.wantCode, code, body)
				assert.Contains(t, drErr(t, body), tt.wantMsg)
				if tt.wantCode == http.StatusBadRequest {
					assert.True(t, strings.HasPrefix(drErr(t, body), "Failed to deserialize query string: "), body)
				}
			})
		}
	}

	t.Run("psi without a stored profile", func(t *testing.T) {
		code, body := env.do(t, http.MethodGet, "/scouter/drift/psi?"+drQuery("uid-1", ""), "", read)
		require.Equal(t, http.StatusNotFound, code, body)
		assert.Equal(t, "Failed to query records: No Profile found", drErr(t, body))
	})

	t.Run("database failure is 500 without details", func(t *testing.T) {
		env.exec(t, `ALTER TABLE scouter.custom_drift RENAME TO custom_drift_gone`)
		t.Cleanup(func() {
			_, _ = env.pool.Exec(context.Background(), `ALTER TABLE scouter.custom_drift_gone RENAME TO custom_drift`)
		})
		code, body := env.do(t, http.MethodGet, "/scouter/drift/custom?"+drQuery("uid-1", ""), "", read)
		require.Equal(t, http.StatusInternalServerError, code, body)
		assert.Equal(t, "Failed to query records: internal error", drErr(t, body))
	})
}

// TestDriftReadPresetWindow reads through the router with the real clock.
func TestDriftReadPresetWindow(t *testing.T) {
	env := newDrEnv(t)
	id := env.entity(t, "uid-now")
	now := time.Now().UTC()
	env.exec(t, `INSERT INTO scouter.spc_drift (created_at, entity_id, feature, value) VALUES ($1, $2, 'f', 1), ($3, $2, 'f', 100)`,
		now.Add(-time.Minute), id, now.Add(-20*time.Minute))
	code, body := env.do(t, http.MethodGet, "/scouter/drift/spc?"+drQuery("uid-now", "time_interval=FifteenMinutes"), "", drPerms("read:all"))
	require.Equal(t, http.StatusOK, code, body)
	var got struct {
		Features map[string]struct {
			Values []float64 `json:"values"`
		} `json:"features"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, []float64{1}, got.Features["f"].Values, "the 20-minute-old record is outside FifteenMinutes")
}
