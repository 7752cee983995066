package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type level string

func (l *level) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "low", "high":
		*l = level(s)
		return nil
	}
	return fmt.Errorf("unknown level %q", s)
}

type inner struct {
	Count int `json:"count"`
}

type bindReq struct {
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	Inner inner    `json:"inner"`
	Level level    `json:"level"`
}

func (r *bindReq) Validate() error {
	switch r.Name {
	case "":
		return errors.New("missing field `name`")
	case "forbidden":
		return NewError(http.StatusForbidden, "Permission denied")
	}
	return nil
}

func TestBindJSON(t *testing.T) {
	var got bindReq
	h := NewRouter(Deps{Routes: []Registrar{RegistrarFunc(func(public, _ *gin.RouterGroup) {
		public.POST("/bind", func(c *gin.Context) {
			got = bindReq{}
			if !BindJSON(c, &got) {
				return
			}
			c.JSON(http.StatusOK, got)
		})
		public.POST("/bind-nonpointer", func(c *gin.Context) {
			var v bindReq
			if !BindJSON(c, v) {
				return
			}
			c.Status(http.StatusOK)
		})
	})}})

	const jsonCT = "application/json"
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		wantStatus  int
		wantError   string // exact "error" value when set
		wantContain string // substring of "error" when set
	}{
		{name: "ok", contentType: jsonCT, body: `{"name":"a","tags":["x"],"inner":{"count":2},"level":"low"}`, wantStatus: 200},
		{name: "no content type is accepted", body: `{"name":"a"}`, wantStatus: 200},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: `{"name":"a"}`, wantStatus: 200},
		{name: "structured json suffix", contentType: "application/problem+json", body: `{"name":"a"}`, wantStatus: 200},
		{name: "unknown fields ignored", contentType: jsonCT, body: `{"name":"a","extra":1}`, wantStatus: 200},
		{name: "whitespace after value", contentType: jsonCT, body: "{\"name\":\"a\"}\n  ", wantStatus: 200},
		{name: "wrong content type", contentType: "text/plain", body: `{"name":"a"}`, wantStatus: 415,
			wantError: "Expected request with `Content-Type: application/json`"},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: `name=a`, wantStatus: 415},
		{name: "malformed content type", contentType: "application/json; =", body: `{"name":"a"}`, wantStatus: 415},
		{name: "bad json", contentType: jsonCT, body: `{"name":`, wantStatus: 400,
			wantError: "Invalid JSON body: unexpected end of input"},
		{name: "bad json syntax", contentType: jsonCT, body: `{"name" "a"}`, wantStatus: 400, wantContain: "Invalid JSON body: invalid character"},
		{name: "empty body", contentType: jsonCT, body: ``, wantStatus: 400, wantError: "Request body is empty"},
		{name: "trailing data", contentType: jsonCT, body: `{"name":"a"} {"name":"b"}`, wantStatus: 400,
			wantError: "Invalid JSON body: trailing data after the JSON value"},
		{name: "trailing garbage", contentType: jsonCT, body: `{"name":"a"} x`, wantStatus: 400},
		{name: "wrong type top-level field", contentType: jsonCT, body: `{"name":5}`, wantStatus: 422,
			wantError: `Invalid type for field "name": expected string, got number`},
		{name: "wrong type nested field", contentType: jsonCT, body: `{"name":"a","inner":{"count":"two"}}`, wantStatus: 422,
			wantError: `Invalid type for field "inner.count": expected integer, got string`},
		{name: "wrong type array", contentType: jsonCT, body: `{"name":"a","tags":"x"}`, wantStatus: 422,
			wantError: `Invalid type for field "tags": expected array, got string`},
		{name: "wrong top-level type", contentType: jsonCT, body: `[1,2]`, wantStatus: 422,
			wantError: `Invalid JSON body: expected object, got array`},
		{name: "custom unmarshal error", contentType: jsonCT, body: `{"name":"a","level":"mid"}`, wantStatus: 422,
			wantError: `Invalid JSON body: unknown level "mid"`},
		{name: "validate error", contentType: jsonCT, body: `{"tags":[]}`, wantStatus: 422, wantError: "missing field `name`"},
		{name: "validate status error", contentType: jsonCT, body: `{"name":"forbidden"}`, wantStatus: 403, wantError: "Permission denied"},
		{name: "non-pointer destination", path: "/scouter/bind-nonpointer", contentType: jsonCT, body: `{}`, wantStatus: 500,
			wantError: "Internal server error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/scouter/bind"
			}
			headers := map[string]string{}
			if tt.contentType != "" {
				headers["Content-Type"] = tt.contentType
			}
			rec := do(t, h, http.MethodPost, path, strings.NewReader(tt.body), headers)
			require.Equal(t, tt.wantStatus, rec.Code, "body %s", rec.Body.String())
			if tt.wantStatus == 200 {
				assert.Equal(t, "a", got.Name)
				return
			}
			var body ErrorResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "body %q", rec.Body.String())
			assert.NotEmpty(t, body.Error)
			if tt.wantError != "" {
				assert.Equal(t, tt.wantError, body.Error)
			}
			if tt.wantContain != "" {
				assert.Contains(t, body.Error, tt.wantContain)
			}
		})
	}
}

var errBoom = errors.New("boom")

type domainErr struct{}

func (domainErr) Error() string         { return "profile: version exists (internal detail)" }
func (domainErr) HTTPStatus() int       { return http.StatusConflict }
func (domainErr) PublicMessage() string { return "Profile already exists" }

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantError  string
	}{
		{"plain error hides details", fmt.Errorf("query users: %w", errBoom), 500, "Internal server error"},
		{"nil error", nil, 500, "Internal server error"},
		{"new error", NewError(http.StatusNotFound, "User not found"), 404, "User not found"},
		{"wrapped status error", fmt.Errorf("get user: %w", NewError(http.StatusForbidden, "Permission denied")), 403, "Permission denied"},
		{"wrap keeps cause private", Wrap(http.StatusConflict, "User already exists", errBoom), 409, "User already exists"},
		{"errorf with detail", Errorf(http.StatusInternalServerError, "Failed to query records: %w", errBoom), 500,
			"Failed to query records: boom"},
		{"domain type implementing StatusError", fmt.Errorf("insert: %w", domainErr{}), 409, "Profile already exists"},
		{"out-of-range status", NewError(http.StatusOK, "fine?"), 500, "fine?"},
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413, "Request body too large (limit 10 bytes)"},
		{"client gone", fmt.Errorf("query: %w", context.Canceled), 499, "Client closed request"},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, "Request timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			h := NewRouter(Deps{Logger: newLogger(logs), Routes: []Registrar{RegistrarFunc(func(public, _ *gin.RouterGroup) {
				public.GET("/err", func(c *gin.Context) {
					WriteError(c, tt.err)
				})
			})}})
			rec := do(t, h, http.MethodGet, "/scouter/err", nil, nil)
			assert.Equal(t, tt.wantStatus, rec.Code)
			var body ErrorResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, tt.wantError, body.Error)
			if tt.err != nil {
				lines := logs.lines(t)
				require.Len(t, lines, 1)
				assert.Equal(t, tt.err.Error(), lines[0]["err"], "the cause goes to the access log")
			}
		})
	}
}

func TestErrorChain(t *testing.T) {
	e := Errorf(http.StatusInternalServerError, "Failed to query alerts: %w", errBoom)
	assert.ErrorIs(t, e, errBoom)
	assert.Equal(t, "Failed to query alerts: boom", e.Error())

	w := Wrap(http.StatusNotFound, "User not found", errBoom)
	assert.ErrorIs(t, w, errBoom)
	assert.Equal(t, "User not found: boom", w.Error())
	assert.Equal(t, "User not found", w.PublicMessage())
	assert.Equal(t, http.StatusNotFound, w.HTTPStatus())

	assert.Equal(t, "Permission denied", NewError(http.StatusForbidden, "Permission denied").Error())
}
