package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/alertapi"
	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/pgtest"
)

// alertsAuth accepts requests carrying "X-Test-User" and puts an identity
// without permissions in the context (the alert routes need none).
func alertsAuth(c *gin.Context) {
	user := c.GetHeader("X-Test-User")
	if user == "" {
		AbortUnauthorized(c, "Invalid token")
		return
	}
	c.Request = c.Request.WithContext(auth.WithIdentity(c.Request.Context(), auth.Identity{Username: user}))
	c.Next()
}

type alertsEnv struct {
	pool *pgxpool.Pool
	h    http.Handler
}

func newAlertsEnv(t *testing.T) *alertsEnv {
	t.Helper()
	pool := pgtest.New(t)
	res, err := entity.NewResolver(pool, 100)
	require.NoError(t, err)
	svc, err := alertapi.New(pool, res)
	require.NoError(t, err)
	return &alertsEnv{pool: pool, h: NewRouter(Deps{Auth: alertsAuth, Routes: []Registrar{NewAlertsHandler(svc)}})}
}

func (e *alertsEnv) do(t *testing.T, method, body string, authed bool) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "/scouter/alerts", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authed {
		req.Header.Set("X-Test-User", "tester")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func (e *alertsEnv) entity(t *testing.T, uid, driftType string) int32 {
	t.Helper()
	var id int32
	require.NoError(t, e.pool.QueryRow(t.Context(), `INSERT INTO scouter.drift_entities (uid, space, name, version, drift_type)
		VALUES ($1, 'repo_1', $1, '1.0.0', $2) RETURNING id`, uid, driftType).Scan(&id))
	return id
}

// alert inserts one alert and returns its id.
func (e *alertsEnv) alert(t *testing.T, entityID int32, at time.Time, name, alert string, active bool) int32 {
	t.Helper()
	var id int32
	require.NoError(t, e.pool.QueryRow(t.Context(), `INSERT INTO scouter.drift_alert
		(created_at, entity_id, entity_name, alert, active, alert_key) VALUES ($1, $2, $3, $4::jsonb, $5, $6)
		RETURNING id`, at, entityID, name, []byte(alert), active, fmt.Sprintf("%s-%d", name, at.UnixNano())).Scan(&id))
	return id
}

type alertsPage struct {
	Items []struct {
		CreatedAt  string          `json:"created_at"`
		EntityName string          `json:"entity_name"`
		Alert      json.RawMessage `json:"alert"`
		ID         int32           `json:"id"`
		Active     bool            `json:"active"`
	} `json:"items"`
	HasNext        bool            `json:"has_next"`
	NextCursor     *alertsCursor   `json:"next_cursor"`
	HasPrevious    bool            `json:"has_previous"`
	PreviousCursor *alertsCursor   `json:"previous_cursor"`
	Raw            json.RawMessage `json:"-"`
}

type alertsCursor struct {
	CreatedAt string `json:"created_at"`
	ID        int64  `json:"id"`
}

func (p alertsPage) ids() []int32 {
	out := make([]int32, len(p.Items))
	for i, it := range p.Items {
		out[i] = it.ID
	}
	return out
}

func (e *alertsEnv) list(t *testing.T, body string) alertsPage {
	t.Helper()
	code, resp := e.do(t, http.MethodPost, body, true)
	require.Equal(t, http.StatusOK, code, resp)
	var p alertsPage
	require.NoError(t, json.Unmarshal([]byte(resp), &p), resp)
	p.Raw = json.RawMessage(resp)
	return p
}

func cursorBody(uid string, limit int, c *alertsCursor, direction string) string {
	return fmt.Sprintf(`{"uid": %q, "limit": %d, "cursor_created_at": %q, "cursor_id": %d, "direction": %q}`,
		uid, limit, c.CreatedAt, c.ID, direction)
}

const spcAlert = `{"Spc": {"feature": "col_1", "kind": "OutOfBounds", "zone": "Zone4"}}`

// TestAlertPagination walks 7 alerts in pages of 3 forward and back. Two
// alerts share a created_at, so the id breaks the tie.
func TestAlertPagination(t *testing.T) {
	env := newAlertsEnv(t)
	a := env.entity(t, "uid-a", "Spc")
	b := env.entity(t, "uid-b", "Spc")
	base := time.Date(2026, 3, 26, 12, 0, 0, 123456000, time.UTC)
	var ids []int32 // oldest first
	for i := range 6 {
		ids = append(ids, env.alert(t, a, base.Add(time.Duration(i)*time.Minute), "col_1", spcAlert, true))
	}
	// same created_at as the newest: ordered after it by id
	ids = append(ids, env.alert(t, a, base.Add(5*time.Minute), "col_2", spcAlert, true))
	env.alert(t, b, base, "other", spcAlert, true) // another entity, never listed

	newestFirst := func(idx ...int) []int32 {
		out := make([]int32, len(idx))
		for i, j := range idx {
			out[i] = ids[j]
		}
		return out
	}

	p1 := env.list(t, `{"uid": "uid-a", "limit": 3}`)
	assert.Equal(t, newestFirst(6, 5, 4), p1.ids())
	assert.True(t, p1.HasNext)
	assert.False(t, p1.HasPrevious, "no cursor was given")
	require.NotNil(t, p1.NextCursor)
	assert.Equal(t, alertsCursor{CreatedAt: "2026-03-26T12:04:00.123456Z", ID: int64(ids[4])}, *p1.NextCursor)
	require.NotNil(t, p1.PreviousCursor, "previous_cursor is the first item, always")
	assert.Equal(t, int64(ids[6]), p1.PreviousCursor.ID)
	assert.Equal(t, "2026-03-26T12:05:00.123456Z", p1.Items[0].CreatedAt)
	assert.JSONEq(t, spcAlert, string(p1.Items[0].Alert))

	p2 := env.list(t, cursorBody("uid-a", 3, p1.NextCursor, "next"))
	assert.Equal(t, newestFirst(3, 2, 1), p2.ids())
	assert.True(t, p2.HasNext)
	assert.True(t, p2.HasPrevious)
	require.NotNil(t, p2.NextCursor)

	p3 := env.list(t, cursorBody("uid-a", 3, p2.NextCursor, "next"))
	assert.Equal(t, newestFirst(0), p3.ids())
	assert.False(t, p3.HasNext)
	assert.Nil(t, p3.NextCursor)
	assert.True(t, p3.HasPrevious)
	require.NotNil(t, p3.PreviousCursor)
	assert.Equal(t, int64(ids[0]), p3.PreviousCursor.ID)

	// Back: previous from page 3 gives page 2, then page 1.
	b2 := env.list(t, cursorBody("uid-a", 3, p3.PreviousCursor, "previous"))
	assert.Equal(t, p2.ids(), b2.ids(), "page returned in newest-first order")
	assert.True(t, b2.HasPrevious)
	assert.True(t, b2.HasNext, "a cursor was given")
	require.NotNil(t, b2.PreviousCursor)
	assert.Equal(t, int64(ids[3]), b2.PreviousCursor.ID)
	require.NotNil(t, b2.NextCursor)
	assert.Equal(t, int64(ids[1]), b2.NextCursor.ID)

	b1 := env.list(t, cursorBody("uid-a", 3, b2.PreviousCursor, "previous"))
	assert.Equal(t, p1.ids(), b1.ids())
	assert.False(t, b1.HasPrevious)
	assert.Nil(t, b1.PreviousCursor, "no more pages before")
	assert.True(t, b1.HasNext)
	require.NotNil(t, b1.NextCursor)
	assert.Equal(t, int64(ids[4]), b1.NextCursor.ID)

	// The tie at 12:05: a cursor on the later id still returns the earlier one.
	tie := env.list(t, cursorBody("uid-a", 1, &alertsCursor{CreatedAt: "2026-03-26T12:05:00.123456Z", ID: int64(ids[6])}, "next"))
	assert.Equal(t, newestFirst(5), tie.ids())

	// "previous" without a cursor is the oldest page.
	oldest := env.list(t, `{"uid": "uid-a", "limit": 2, "direction": "previous"}`)
	assert.Equal(t, newestFirst(1, 0), oldest.ids())
	assert.True(t, oldest.HasPrevious)
	assert.False(t, oldest.HasNext)

	// Any other direction means next; the default limit is 50.
	all := env.list(t, `{"uid": "uid-a", "direction": "sideways"}`)
	assert.Equal(t, newestFirst(6, 5, 4, 3, 2, 1, 0), all.ids())
	assert.False(t, all.HasNext)
	assert.Nil(t, all.NextCursor)

	empty := env.list(t, `{"uid": "uid-a", "cursor_created_at": "2020-01-01T00:00:00Z", "cursor_id": 1}`)
	assert.JSONEq(t, `{"items": [], "has_next": false, "next_cursor": null, "has_previous": true, "previous_cursor": null}`, string(empty.Raw))
}

func TestAlertFilters(t *testing.T) {
	env := newAlertsEnv(t)
	a := env.entity(t, "uid-a", "Psi")
	base := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	var ids []int32
	for i := range 5 {
		ids = append(ids, env.alert(t, a, base.Add(time.Duration(i)*time.Hour), "f", spcAlert, i%2 == 0))
	}
	tests := []struct {
		name string
		body string
		want []int32
	}{
		{"active only", `{"uid": "uid-a", "active": true}`, []int32{ids[4], ids[2], ids[0]}},
		{"acknowledged only", `{"uid": "uid-a", "active": false}`, []int32{ids[3], ids[1]}},
		{"all", `{"uid": "uid-a", "active": null}`, []int32{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"start inclusive", `{"uid": "uid-a", "start_datetime": "2026-03-26T14:00:00Z"}`, []int32{ids[4], ids[3], ids[2]}},
		{"end exclusive", `{"uid": "uid-a", "end_datetime": "2026-03-26T14:00:00Z"}`, []int32{ids[1], ids[0]}},
		{"window and active, other offset", `{"uid": "uid-a", "active": true, "start_datetime": "2026-03-26T13:00:00+01:00", "end_datetime": "2026-03-26T16:00:00Z"}`,
			[]int32{ids[2], ids[0]}},
		{"filters with previous", `{"uid": "uid-a", "active": true, "limit": 1, "direction": "previous"}`, []int32{ids[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, env.list(t, tt.body).ids())
		})
	}
}

// TestAlertJSON: every AlertMap variant round-trips; an unreadable one is "None".
func TestAlertJSON(t *testing.T) {
	env := newAlertsEnv(t)
	a := env.entity(t, "uid-a", "Custom")
	base := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	alerts := []struct{ stored, want string }{
		{spcAlert, spcAlert},
		{`{"Psi": {"feature": "feature_1", "drift": 0.31, "threshold": 0.042}}`, `{"Psi": {"feature": "feature_1", "drift": 0.31, "threshold": 0.042}}`},
		{`{"Custom": {"metric_name": "mse", "baseline_value": 12.02, "observed_value": 14.0, "delta": 1.0, "alert_threshold": "Above"}}`,
			`{"Custom": {"metric_name": "mse", "baseline_value": 12.02, "observed_value": 14.0, "delta": 1.0, "alert_threshold": "Above"}}`},
		{`{"GenAI": {"metric_name": "genai_workflow_metric", "baseline_value": 0.8, "observed_value": 0.33, "delta": null, "alert_threshold": "Below"}}`,
			`{"GenAI": {"metric_name": "genai_workflow_metric", "baseline_value": 0.8, "observed_value": 0.33, "delta": null, "alert_threshold": "Below"}}`},
		{`{}`, `"None"`},
		{`{"Unknown": {"x": 1}}`, `"None"`},
		{`"None"`, `"None"`},
	}
	for i, al := range alerts {
		env.alert(t, a, base.Add(time.Duration(len(alerts)-i)*time.Second), "n", al.stored, true)
	}
	p := env.list(t, `{"uid": "uid-a"}`)
	require.Len(t, p.Items, len(alerts))
	for i, al := range alerts {
		assert.JSONEq(t, al.want, string(p.Items[i].Alert), "alert %d (%s)", i, al.stored)
	}
}

// TestAlertRoutesUpstreamR05 is upstream's alert.rs scenario: three Custom
// alerts on an SPC entity, listed with every optional field null, then the
// first one acknowledged.
func TestAlertRoutesUpstreamR05(t *testing.T) {
	env := newAlertsEnv(t)
	a := env.entity(t, "uid-spc", "Spc")
	custom := `{"Custom": {"metric_name": "test_metric", "baseline_value": 5.0, "observed_value": 10.0, "delta": 1.0, "alert_threshold": "Above"}}`
	for i := range 3 {
		env.alert(t, a, time.Now().Add(time.Duration(i)*time.Millisecond), "test_metric", custom, true)
	}
	p := env.list(t, `{"uid": "uid-spc", "active": true, "limit": null, "cursor_created_at": null, "cursor_id": null,
		"direction": null, "start_datetime": null, "end_datetime": null}`)
	require.Len(t, p.Items, 3)
	var item map[string]json.RawMessage
	var raw struct{ Items []json.RawMessage }
	require.NoError(t, json.Unmarshal(p.Raw, &raw))
	require.NoError(t, json.Unmarshal(raw.Items[0], &item))
	assert.ElementsMatch(t, []string{"created_at", "entity_name", "alert", "id", "active"}, keys(item))

	code, body := env.do(t, http.MethodPut, fmt.Sprintf(`{"id": %d, "active": false, "space": "repo_1"}`, p.Items[0].ID), true)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"updated": true}`, body)

	left := env.list(t, `{"uid": "uid-spc", "active": true}`)
	assert.Equal(t, p.ids()[1:], left.ids(), "the acknowledged alert is no longer active")
	acked := env.list(t, `{"uid": "uid-spc", "active": false}`)
	assert.Equal(t, p.ids()[:1], acked.ids())

	code, body = env.do(t, http.MethodPut, fmt.Sprintf(`{"id": %d, "active": true, "space": "repo_1"}`, p.Items[0].ID), true)
	require.Equal(t, http.StatusOK, code, body)
	assert.Len(t, env.list(t, `{"uid": "uid-spc", "active": true}`).Items, 3, "re-opened")
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAlertRouteErrors(t *testing.T) {
	env := newAlertsEnv(t)
	env.entity(t, "uid-a", "Spc")
	tests := []struct {
		name     string
		method   string
		body     string
		authed   bool
		wantCode int
		wantMsg  string
	}{
		{"list unauthenticated", http.MethodPost, `{"uid": "uid-a"}`, false, http.StatusUnauthorized, "Unauthorized"},
		{"update unauthenticated", http.MethodPut, `{"id": 1, "active": false, "space": "s"}`, false, http.StatusUnauthorized, "Unauthorized"},
		{"unknown uid", http.MethodPost, `{"uid": "nope"}`, true, http.StatusNotFound, "Failed to get entity ID from UID: "},
		{"missing uid", http.MethodPost, `{"limit": 3}`, true, http.StatusUnprocessableEntity, "uid: required"},
		{"zero limit", http.MethodPost, `{"uid": "uid-a", "limit": 0}`, true, http.StatusUnprocessableEntity, "limit: must be between 1 and 1000"},
		{"huge limit", http.MethodPost, `{"uid": "uid-a", "limit": 1001}`, true, http.StatusUnprocessableEntity, "limit: must be between 1 and 1000"},
		{"bad cursor time", http.MethodPost, `{"uid": "uid-a", "cursor_created_at": "yesterday"}`, true, http.StatusUnprocessableEntity, "cursor_created_at"},
		{"bad json", http.MethodPost, `{"uid": `, true, http.StatusBadRequest, "Invalid JSON body"},
		{"unknown alert id", http.MethodPut, `{"id": 424242, "active": false, "space": "s"}`, true, http.StatusNotFound,
			"Failed to update drift alert status: alert 424242: alert not found"},
		{"update without space", http.MethodPut, `{"id": 1, "active": false}`, true, http.StatusUnprocessableEntity, "space: required"},
		{"update without active", http.MethodPut, `{"id": 1, "space": "s"}`, true, http.StatusUnprocessableEntity, "active: required"},
		{"update without id", http.MethodPut, `{"active": true, "space": "s"}`, true, http.StatusUnprocessableEntity, "id: required"},
		{"update with a string id", http.MethodPut, `{"id": "1", "active": true, "space": "s"}`, true, http.StatusUnprocessableEntity, "id"},
		{"get is not routed", http.MethodGet, ``, true, http.StatusMethodNotAllowed, "Method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.do(t, tt.method, tt.body, tt.authed)
			require.Equal(t, tt.wantCode, code, body)
			var e map[string]string
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Contains(t, e["error"]+" "+e["message"], tt.wantMsg)
		})
	}
}

// fakeAlerts returns fixed errors, for the mappings the database cannot
// produce on demand.
type fakeAlerts struct{ err error }

func (f fakeAlerts) List(context.Context, alertapi.PageRequest) (*alertapi.Page, error) {
	return nil, f.err
}
func (f fakeAlerts) SetActive(context.Context, int32, bool) error { return f.err }

func TestAlertErrorMapping(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		method   string
		wantCode int
		wantMsg  string
	}{
		{"not updated", fmt.Errorf("alert 1: %w", alertapi.ErrNotUpdated), http.MethodPut, http.StatusBadRequest,
			"Failed to update drift alert status"},
		{"lookup failed", fmt.Errorf("%w: boom", alertapi.ErrEntityLookup), http.MethodPost, http.StatusInternalServerError,
			"Failed to get entity ID from UID: lookup failed"},
		{"query failed", errors.New("connection reset"), http.MethodPost, http.StatusInternalServerError,
			"Failed to query alerts: internal error"},
		{"update failed", errors.New("connection reset"), http.MethodPut, http.StatusInternalServerError,
			"Failed to update drift alert status: internal error"},
		{"client gone", context.Canceled, http.MethodPost, StatusClientClosedRequest, "Client closed request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewRouter(Deps{Auth: alertsAuth, Routes: []Registrar{NewAlertsHandler(fakeAlerts{tt.err})}})
			env := &alertsEnv{h: h}
			body := `{"uid": "u"}`
			if tt.method == http.MethodPut {
				body = `{"id": 1, "active": false, "space": "s"}`
			}
			code, resp := env.do(t, tt.method, body, true)
			assert.Equal(t, tt.wantCode, code, resp)
			assert.JSONEq(t, fmt.Sprintf(`{"error": %q}`, tt.wantMsg), resp)
			assert.NotContains(t, resp, "connection reset", "database details stay in the log")
		})
	}
}
