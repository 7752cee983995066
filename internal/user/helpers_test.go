package user_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/user"
)

var testSecrets = auth.Secrets{
	Access:    []byte("user-test-access-secret-0123456789abcdef"),
	Refresh:   []byte("user-test-refresh-secret-0123456789abcdef"),
	Bootstrap: []byte("user-test-bootstrap-key-0123456789abcdef"),
}

// clock is a settable, goroutine-safe clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	svc    *user.Service
	pool   *pgxpool.Pool
	store  *user.PGStore
	tokens *auth.Manager
	clock  *clock // drives the rate limiter
}

// newFixture returns a service on a fresh database holding the default users.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := pgtest.New(t)
	return newFixtureOn(t, pool, true)
}

func newFixtureOn(t *testing.T, pool *pgxpool.Pool, defaults bool) *fixture {
	t.Helper()
	tokens, err := auth.NewManager(testSecrets, nil)
	require.NoError(t, err)
	clk := newClock()
	store := user.NewPGStore(pool)
	svc, err := user.New(user.Options{
		Store:   store,
		Tokens:  tokens,
		Limiter: auth.NewLimiter(auth.LimiterOptions{Now: clk.Now}),
	})
	require.NoError(t, err)
	if defaults {
		created, err := svc.EnsureDefaultUsers(context.Background(), user.Defaults{AdminUsername: "admin", AdminPassword: "admin"})
		require.NoError(t, err)
		require.True(t, created)
	}
	return &fixture{svc: svc, pool: pool, store: store, tokens: tokens, clock: clk}
}

// pastManager issues tokens as if it were `ago` in the past.
func pastManager(t *testing.T, secrets auth.Secrets, ago time.Duration) *auth.Manager {
	t.Helper()
	m, err := auth.NewManager(secrets, func() time.Time { return time.Now().Add(-ago) })
	require.NoError(t, err)
	return m
}

func adminID() auth.Identity {
	return auth.Identity{Username: "admin", Permissions: []string{"read:all", "write:all"}, GroupPermissions: []string{"admin"}}
}

func ptr[T any](v T) *T { return &v }
