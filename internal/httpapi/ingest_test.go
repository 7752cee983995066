package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/ingest"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
)

const ingestUID = "0199aaaa-0000-7000-8000-000000000001"

// ingestTestAuth is a stand-in for the auth middleware (tested elsewhere):
// "X-Test-User: admin" is a group admin, any other value a plain user,
// no header a 401.
func ingestTestAuth(c *gin.Context) {
	user := c.GetHeader("X-Test-User")
	if user == "" {
		AbortUnauthorized(c, "No access token provided")
		return
	}
	id := auth.Identity{Username: user}
	if user == "admin" {
		id.GroupPermissions = []string{auth.GroupAdmin}
	}
	c.Request = c.Request.WithContext(auth.WithIdentity(c.Request.Context(), id))
	c.Next()
}

// newIngestRouter returns the real router with the ingest routes, a
// pipeline writing through writeDB (pool when nil) and entity ingestUID.
func newIngestRouter(t *testing.T, pool *pgxpool.Pool, writeDB db.TxStarter) http.Handler {
	t.Helper()
	err := db.InTx(t.Context(), pool, func(q *dbsqlc.Queries) error {
		_, err := q.UpsertEntity(t.Context(), dbsqlc.UpsertEntityParams{
			UID: ingestUID, Space: "s", Name: "n", Version: "1.0.0", DriftType: "Spc"})
		return err
	})
	require.NoError(t, err)
	res, err := entity.NewResolver(pool, 10)
	require.NoError(t, err)
	if writeDB == nil {
		writeDB = pool
	}
	p, err := ingest.New(ingest.Options{DB: writeDB, Entities: res, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	dl, err := ingest.NewDeadLetters(pool)
	require.NoError(t, err)
	return NewRouter(Deps{Auth: ingestTestAuth, Routes: []Registrar{NewIngestHandler(p, dl)}})
}

func ingestSpcElem(uid, feature string, value float64) string {
	return fmt.Sprintf(`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":%q,"value":%v,"entity_id":0}}`, uid, feature, value)
}

func ingestRecordsBody(elems ...string) string {
	return `{"records":[` + strings.Join(elems, ",") + `]}`
}

func ingestCaller(name string) map[string]string {
	return map[string]string{"X-Test-User": name, "Content-Type": "application/json"}
}

func TestIngestRoutes(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	h := newIngestRouter(t, pool, nil)
	workflow := fmt.Sprintf(`{"GenAIWorkflowRecord":{"created_at":"2026-03-26T12:00:00Z","record_uid":"r","total_tasks":1,
		"passed_tasks":1,"failed_tasks":0,"pass_rate":1,"duration_ms":1,"entity_uid":%q,"execution_plan":{"stages":[],"nodes":{}}}}`, ingestUID)

	tests := []struct {
		name       string
		path       string
		body       string
		headers    map[string]string
		wantStatus int
		wantBody   string // JSON, compared exactly
		wantError  string // substring of "error" when wantBody is empty
		wantSpc    int    // spc_drift rows after the request (cumulative)
		chunked    bool   // send without a Content-Length
	}{
		{name: "message", path: "/scouter/message", body: ingestRecordsBody(ingestSpcElem(ingestUID, "a", 1)),
			wantStatus: 200, wantBody: `{"status":"success","message":"Message queued for processing"}`, wantSpc: 1},
		{name: "drift", path: "/scouter/drift", body: ingestRecordsBody(ingestSpcElem(ingestUID, "b", 2)),
			wantStatus: 200, wantBody: `{"status":"success","message":"Drift records queued for processing"}`, wantSpc: 2},
		{name: "tag", path: "/scouter/message", body: `{"entity_type":"trace","entity_id":"t","key":"k","value":"v"}`,
			wantStatus: 200, wantBody: `{"status":"success","message":"Message queued for processing"}`, wantSpc: 2},
		{name: "genai is kept for later", path: "/scouter/message", body: ingestRecordsBody(workflow),
			wantStatus: 200, wantBody: `{"status":"success","message":"Message queued for processing"}`, wantSpc: 2},
		{name: "unauthenticated", path: "/scouter/message", body: ingestRecordsBody(ingestSpcElem(ingestUID, "c", 1)),
			headers: map[string]string{}, wantStatus: 401, wantError: "Unauthorized", wantSpc: 2},
		{name: "bad json", path: "/scouter/message", body: `{"records":[`, wantStatus: 400, wantError: "Invalid JSON body", wantSpc: 2},
		{name: "empty body", path: "/scouter/message", body: ``, wantStatus: 400, wantError: "Request body is empty", wantSpc: 2},
		{name: "not json content type", path: "/scouter/drift", body: `{}`,
			headers: map[string]string{"X-Test-User": "u", "Content-Type": "text/plain"}, wantStatus: 415, wantSpc: 2},
		{name: "wrong shape", path: "/scouter/message", body: `{"records":{"Spc":{}}}`,
			wantStatus: 422, wantError: "records: expected array", wantSpc: 2},
		{name: "no variant", path: "/scouter/message", body: `{"foo":1}`, wantStatus: 422, wantError: `"records"`, wantSpc: 2},
		{name: "too large", path: "/scouter/message",
			body:       ingestRecordsBody(ingestSpcElem(ingestUID, strings.Repeat("x", record.MaxMessageSize), 1)),
			wantStatus: 413, wantError: "too large", wantSpc: 2},
		{name: "too large without length", path: "/scouter/message", chunked: true,
			body:       ingestRecordsBody(ingestSpcElem(ingestUID, strings.Repeat("x", record.MaxMessageSize), 1)),
			wantStatus: 413, wantError: "Request body too large (limit 10485760 bytes)", wantSpc: 2},
		{name: "partly invalid", path: "/scouter/message",
			body: ingestRecordsBody(ingestSpcElem(ingestUID, "d", 1), `{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"`+ingestUID+`","feature":"e","value":"x"}}`,
				ingestSpcElem("no-such-uid", "f", 1), ingestSpcElem(ingestUID, "g", 1)),
			wantStatus: 422,
			wantBody: `{"error":"2 of 4 records rejected, 2 stored","stored":2,"deferred":0,"rejected":[
				{"index":1,"reason":"records[1].Spc.value: expected number, got string"},
				{"index":2,"reason":"records[2].Spc.uid: unknown profile uid \"no-such-uid\""}]}`,
			wantSpc: 4},
		{name: "unknown uid only", path: "/scouter/drift", body: ingestRecordsBody(ingestSpcElem("no-such-uid", "h", 1)),
			wantStatus: 422, wantError: "1 of 1 records rejected, 0 stored", wantSpc: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := tt.headers
			if headers == nil {
				headers = ingestCaller("someone")
			}
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body)
			}
			rec := do(t, h, http.MethodPost, tt.path, body, headers)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantBody != "" {
				assert.JSONEq(t, tt.wantBody, rec.Body.String())
			} else {
				var body map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
				if tt.wantError != "" {
					assert.Contains(t, body["error"], tt.wantError)
				}
			}
			var n int
			require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM scouter.spc_drift").Scan(&n))
			assert.Equal(t, tt.wantSpc, n, "spc_drift rows")
		})
	}
}

func TestIngestDatabaseDown(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	down := pgtest.Connect(t, "postgres://postgres@"+addr+"/scouter?sslmode=disable&connect_timeout=2")
	h := newIngestRouter(t, pool, down)

	rec := do(t, h, http.MethodPost, "/scouter/message", strings.NewReader(ingestRecordsBody(ingestSpcElem(ingestUID, "a", 1))), ingestCaller("u"))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"error":"Database unavailable, retry"}`, rec.Body.String())
}

func TestDeadLettersRoute(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	h := newIngestRouter(t, pool, nil)
	_, err := pool.Exec(t.Context(), `INSERT INTO scouter.dead_letter (transport, source, reason, record_index, payload) VALUES
		('kafka', 'kafka:t/0@1', 'malformed', NULL, '\xff00'::bytea),
		('redis', 'redis:c', 'unknown uid', 3, convert_to('{"records":[]}', 'UTF8')),
		('rabbitmq', 'rabbitmq:q', 'too large', NULL, convert_to('{}', 'UTF8'))`)
	require.NoError(t, err)

	rec := do(t, h, http.MethodGet, "/scouter/dead-letters?limit=2", nil, ingestCaller("admin"))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var page DeadLetterPage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Items, 2)
	assert.Equal(t, "rabbitmq", page.Items[0].Transport, "newest first")
	assert.Equal(t, "{}", page.Items[0].Payload)
	assert.False(t, page.Items[0].PayloadBase64)
	assert.Nil(t, page.Items[0].RecordIndex)
	assert.Equal(t, "redis:c", page.Items[1].Source)
	assert.Equal(t, int32(3), *page.Items[1].RecordIndex)
	_, err = time.Parse(time.RFC3339Nano, page.Items[0].CreatedAt)
	require.NoError(t, err)
	require.NotNil(t, page.NextBeforeID)
	assert.Equal(t, page.Items[1].ID, *page.NextBeforeID)

	rec = do(t, h, http.MethodGet, fmt.Sprintf("/scouter/dead-letters?limit=2&before_id=%d", *page.NextBeforeID), nil, ingestCaller("admin"))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var last DeadLetterPage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &last))
	require.Len(t, last.Items, 1)
	assert.Nil(t, last.NextBeforeID)
	assert.True(t, last.Items[0].PayloadBase64)
	raw, err := base64.StdEncoding.DecodeString(last.Items[0].Payload)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xff, 0x00}, raw)
	assert.Contains(t, rec.Body.String(), `"next_before_id":null`)

	for _, tt := range []struct {
		name, query, user string
		wantStatus        int
		wantError         string
	}{
		{"not admin", "", "someone", 403, "Need admin permission"},
		{"limit zero", "?limit=0", "admin", 400, "Invalid limit"},
		{"limit too big", "?limit=1001", "admin", 400, "Invalid limit"},
		{"limit not a number", "?limit=x", "admin", 400, "Invalid limit"},
		{"bad before_id", "?before_id=-1", "admin", 400, "Invalid before_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, http.MethodGet, "/scouter/dead-letters"+tt.query, nil, ingestCaller(tt.user))
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tt.wantError)
		})
	}
}
