package httpapi

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTagRoutesUpstreamR06 is upstream's tags.rs scenario.
func TestTagRoutesUpstreamR06(t *testing.T) {
	env := newDrEnv(t)
	authed := drPerms("")
	uid := "019ae1b4-3003-77c1-8eed-2ec005e85963"

	code, body := env.do(t, http.MethodPost, "/scouter/tags", `{"tags": [
		{"entity_type": "service", "entity_id": "`+uid+`", "key": "env", "value": "production"},
		{"entity_type": "service", "entity_id": "`+uid+`", "key": "version", "value": "1.0.0"}]}`, authed)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"status": "success", "message": "Inserted 2 tags"}`, body)

	code, body = env.do(t, http.MethodGet, "/scouter/tags?entity_type=service&entity_id="+uid, "", authed)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"tags": [
		{"entity_type": "service", "entity_id": "`+uid+`", "key": "env", "value": "production"},
		{"entity_type": "service", "entity_id": "`+uid+`", "key": "version", "value": "1.0.0"}]}`, body)

	code, body = env.do(t, http.MethodPost, "/scouter/tags/entity",
		`{"entity_type": "service", "tags": [{"key": "env", "value": "production"}], "match_all": true}`, authed)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"entity_id": ["`+uid+`"]}`, body)

	code, body = env.do(t, http.MethodGet, "/scouter/tags?entity_type=service&entity_id=unknown", "", authed)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"tags": []}`, body)
}

// TestTagSearchMatchAllSameKey pins the fix of upstream's match_all bug
// (it counted distinct keys, so two values of one key never matched).
func TestTagSearchMatchAllSameKey(t *testing.T) {
	env := newDrEnv(t)
	authed := drPerms("")
	code, body := env.do(t, http.MethodPost, "/scouter/tags", `{"tags": [
		{"entity_type": "model", "entity_id": "both", "key": "env", "value": "staging"},
		{"entity_type": "model", "entity_id": "both", "key": "env", "value": "production"},
		{"entity_type": "model", "entity_id": "one", "key": "env", "value": "production"},
		{"entity_type": "model", "entity_id": "one", "key": "env", "value": "production"}]}`, authed)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"status": "success", "message": "Inserted 3 tags"}`, body, "a repeated tag is written once")

	search := `{"entity_type": "model", "tags": [{"key": "env", "value": "staging"}, {"key": "env", "value": "production"}], "match_all": %s}`
	for matchAll, want := range map[string]string{"true": `["both"]`, "false": `["both", "one"]`} {
		code, body := env.do(t, http.MethodPost, "/scouter/tags/entity", fmt.Sprintf(search, matchAll), authed)
		require.Equal(t, http.StatusOK, code, body)
		assert.JSONEq(t, `{"entity_id": `+want+`}`, body, "match_all %s", matchAll)
	}
}

func TestTagRouteErrors(t *testing.T) {
	env := newDrEnv(t)
	authed := drPerms("")
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		perms    *string
		wantCode int
		wantMsg  string
	}{
		{"unauthenticated get", http.MethodGet, "/scouter/tags?entity_type=a&entity_id=b", "", nil, http.StatusUnauthorized, "Unauthorized"},
		{"unauthenticated post", http.MethodPost, "/scouter/tags", `{"tags": []}`, nil, http.StatusUnauthorized, "Unauthorized"},
		{"missing entity_type", http.MethodGet, "/scouter/tags?entity_id=b", "", authed, http.StatusBadRequest, "entity_type: required"},
		{"missing entity_id", http.MethodGet, "/scouter/tags?entity_type=a", "", authed, http.StatusBadRequest, "entity_id: required"},
		{"no tags field", http.MethodPost, "/scouter/tags", `{}`, authed, http.StatusUnprocessableEntity, "tags: required"},
		{"tag without key", http.MethodPost, "/scouter/tags", `{"tags": [{"entity_type": "a", "entity_id": "b", "value": "v"}]}`, authed, http.StatusUnprocessableEntity, "tags[0].key"},
		{"tag with a number", http.MethodPost, "/scouter/tags", `{"tags": [{"entity_type": "a", "entity_id": 7, "key": "k", "value": "v"}]}`, authed, http.StatusUnprocessableEntity, "entity_id"},
		{"bad json", http.MethodPost, "/scouter/tags", `{"tags": [`, authed, http.StatusBadRequest, "Invalid JSON body"},
		{"search without match_all", http.MethodPost, "/scouter/tags/entity", `{"entity_type": "a", "tags": []}`, authed, http.StatusUnprocessableEntity, "match_all"},
		{"search without entity_type", http.MethodPost, "/scouter/tags/entity", `{"tags": [], "match_all": true}`, authed, http.StatusUnprocessableEntity, "entity_type"},
		{"search tag without value", http.MethodPost, "/scouter/tags/entity", `{"entity_type": "a", "tags": [{"key": "k"}], "match_all": true}`, authed, http.StatusUnprocessableEntity, "tags[0].value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.do(t, tt.method, tt.path, tt.body, tt.perms)
			require.Equal(t, tt.wantCode, code, body)
			assert.Contains(t, drErr(t, body), tt.wantMsg)
		})
	}

	t.Run("empty tag list", func(t *testing.T) {
		code, body := env.do(t, http.MethodPost, "/scouter/tags", `{"tags": []}`, authed)
		require.Equal(t, http.StatusOK, code, body)
		assert.JSONEq(t, `{"status": "success", "message": "Inserted 0 tags"}`, body)
	})
}
