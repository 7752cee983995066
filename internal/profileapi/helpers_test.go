package profileapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/profile"
)

var (
	admin  = auth.Identity{Username: "admin", Permissions: []string{"read:all", "write:all"}, GroupPermissions: []string{"admin"}}
	reader = auth.Identity{Username: "reader", Permissions: []string{"read:all"}, GroupPermissions: []string{"user"}}
)

// profileJSON loads testdata/<kind>.json of the profile package with
// config.space and config.name replaced, then applies edit to the decoded
// object.
func profileJSON(t *testing.T, kind profile.DriftType, space, name string, edit func(m map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "profile", "testdata", kind.Lower()+".json"))
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

func versionReq(version *string, vt profile.VersionType, pre, build *string) *profile.VersionRequest {
	return &profile.VersionRequest{Version: version, VersionType: vt, PreTag: pre, BuildTag: build}
}

func ptr[T any](v T) *T { return &v }

// recordingSyncer records the uids it is told about and fails when err is set.
type recordingSyncer struct {
	mu   sync.Mutex
	uids []string
	err  error
}

func (s *recordingSyncer) SyncProfile(ctx context.Context, uid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return errors.New("sync called with a done context")
	}
	s.uids = append(s.uids, uid)
	return s.err
}

func (s *recordingSyncer) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.uids
	s.uids = nil
	return out
}

// counts returns the number of drift_entities and drift_profile rows.
func counts(t *testing.T, pool *pgxpool.Pool) (entities, profiles int) {
	t.Helper()
	require.NoError(t, pool.QueryRow(t.Context(),
		`SELECT (SELECT count(*) FROM scouter.drift_entities), (SELECT count(*) FROM scouter.drift_profile)`).
		Scan(&entities, &profiles))
	return entities, profiles
}
