package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	testAccessKey  = []byte("access-secret-0123456789abcdefghijklmnop")
	testRefreshKey = []byte("refresh-secret-0123456789abcdefghijklmno")
	testBootKey    = []byte("bootstrap-secret-0123456789abcdefghijklm")
	testEpoch      = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestManager(t testing.TB, clock *fakeClock) *Manager {
	t.Helper()
	m, err := NewManager(Secrets{Access: testAccessKey, Refresh: testRefreshKey, Bootstrap: testBootKey}, clock.Now)
	require.NoError(t, err)
	return m
}

var testUser = Identity{Username: "alice", Permissions: []string{"read:space1", "write:all"}, GroupPermissions: []string{"user"}}

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// craft builds a JWT by hand (independently of the jwt library) so that the
// tests also pin the wire format.
func craft(header, claims string, h func() hash.Hash, key []byte) string {
	signing := seg(header) + "." + seg(claims)
	mac := hmac.New(h, key)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

const hs256Header = `{"typ":"JWT","alg":"HS256"}`

func claimsJSON(exp int64) string {
	b, _ := json.Marshal(map[string]any{
		"sub": "alice", "exp": exp, "permissions": []string{"read:space1"},
		"group_permissions": []string{"user"}, "salt": "abcdefghijklmnop",
	})
	return string(b)
}

func TestNewManagerRequiresSecrets(t *testing.T) {
	_, err := NewManager(Secrets{Access: testAccessKey}, nil)
	require.Error(t, err)
	_, err = NewManager(Secrets{Refresh: testRefreshKey}, nil)
	require.Error(t, err)
	m, err := NewManager(DefaultSecrets(), nil)
	require.NoError(t, err)
	tok, err := m.NewAccessToken(testUser)
	require.NoError(t, err)
	_, err = m.ValidateAccess(tok)
	require.NoError(t, err, "real clock: a fresh token must validate")
}

func TestTokenRoundTrip(t *testing.T) {
	clock := newFakeClock(testEpoch)
	m := newTestManager(t, clock)

	tests := []struct {
		name     string
		issue    func(Identity) (string, error)
		validate func(string) (*Claims, error)
		ttl      time.Duration
	}{
		{"access", m.NewAccessToken, m.ValidateAccess, time.Hour},
		{"refresh", m.NewRefreshToken, m.ValidateRefresh, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.issue(testUser)
			require.NoError(t, err)
			c, err := tt.validate(tok)
			require.NoError(t, err)
			assert.Equal(t, "alice", c.Subject)
			assert.Equal(t, testEpoch.Add(tt.ttl), c.ExpiresAt)
			assert.Equal(t, testUser.Permissions, c.Permissions)
			assert.Equal(t, testUser.GroupPermissions, c.GroupPermissions)
			assert.Regexp(t, `^[A-Za-z0-9]{16}$`, c.Salt)
			assert.Equal(t, testUser, c.Identity())
		})
	}
}

func TestTokenWireFormat(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	tok, err := m.NewAccessToken(Identity{Username: "bob"}) // nil slices must be emitted as []
	require.NoError(t, err)
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)

	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(hdr, &h))
	assert.Equal(t, map[string]any{"alg": "HS256", "typ": "JWT"}, h)

	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"sub", "exp", "permissions", "group_permissions", "salt"}, keys)
	assert.Equal(t, `"bob"`, string(raw["sub"]))
	assert.Equal(t, "1748782800", string(raw["exp"]), "exp must be integer seconds (epoch + 3600)")
	assert.Equal(t, `[]`, string(raw["permissions"]))
	assert.Equal(t, `[]`, string(raw["group_permissions"]))
	assert.Regexp(t, regexp.MustCompile(`^"[A-Za-z0-9]{16}"$`), string(raw["salt"]))

	// The signature is plain HMAC-SHA256 over header.claims with the access key.
	mac := hmac.New(sha256.New, testAccessKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), parts[2])
}

func TestTokensAreUnique(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	a, err := m.NewAccessToken(testUser)
	require.NoError(t, err)
	b, err := m.NewAccessToken(testUser)
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "same user and second: salt must make tokens differ")
}

func TestNewTokenRejectsEmptyUsername(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	_, err := m.NewAccessToken(Identity{})
	require.Error(t, err)
	_, err = m.NewRefreshToken(Identity{})
	require.Error(t, err)
}

func TestHandCraftedTokenValidates(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	tok := craft(hs256Header, claimsJSON(testEpoch.Unix()+100), sha256.New, testAccessKey)
	c, err := m.ValidateAccess(tok)
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)
	assert.Equal(t, []string{"read:space1"}, c.Permissions)
}

func TestTokenExpiryAndLeeway(t *testing.T) {
	exp := testEpoch.Unix()
	tok := craft(hs256Header, claimsJSON(exp), sha256.New, testAccessKey)
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"before exp", testEpoch.Add(-time.Second), nil},
		{"at exp", testEpoch, nil},
		{"within leeway", testEpoch.Add(59 * time.Second), nil},
		{"at leeway end", testEpoch.Add(60 * time.Second), ErrTokenExpired},
		{"past leeway", testEpoch.Add(61 * time.Second), ErrTokenExpired},
		{"a day later", testEpoch.Add(24 * time.Hour), ErrTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestManager(t, newFakeClock(tt.now))
			c, err := m.ValidateAccess(tok)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, "alice", c.Subject)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.NotErrorIs(t, err, ErrTokenInvalid)
			assert.Nil(t, c)
		})
	}
}

// The prerequisites of the transparent refresh: an expired access token gives
// ErrTokenExpired, its claims are still readable, and the refresh token issued
// alongside still validates.
func TestTransparentRefreshPrerequisites(t *testing.T) {
	clock := newFakeClock(testEpoch)
	m := newTestManager(t, clock)
	access, err := m.NewAccessToken(testUser)
	require.NoError(t, err)
	refresh, err := m.NewRefreshToken(testUser)
	require.NoError(t, err)

	clock.Advance(2 * time.Hour)

	_, err = m.ValidateAccess(access)
	require.ErrorIs(t, err, ErrTokenExpired)

	c, err := m.DecodeAccessIgnoringExpiry(access)
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)
	assert.Equal(t, testEpoch.Add(time.Hour), c.ExpiresAt)
	assert.True(t, c.ExpiresAt.Before(clock.Now()))

	rc, err := m.ValidateRefresh(refresh)
	require.NoError(t, err)
	assert.Equal(t, "alice", rc.Subject)

	clock.Advance(23 * time.Hour)
	_, err = m.ValidateRefresh(refresh)
	require.ErrorIs(t, err, ErrTokenExpired, "refresh token lives 24 h")
}

func TestSecretsAreNotInterchangeable(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	access, err := m.NewAccessToken(testUser)
	require.NoError(t, err)
	refresh, err := m.NewRefreshToken(testUser)
	require.NoError(t, err)

	_, err = m.ValidateAccess(refresh)
	assert.ErrorIs(t, err, ErrTokenInvalid, "refresh token used as access token")
	_, err = m.DecodeAccessIgnoringExpiry(refresh)
	assert.ErrorIs(t, err, ErrTokenInvalid, "refresh token decoded as access token")
	_, err = m.ValidateRefresh(access)
	assert.ErrorIs(t, err, ErrTokenInvalid, "access token used as refresh token")
}

// malformedTokens are the cases that must all be ErrTokenInvalid from every
// validation entry point. Also the seed corpus of FuzzParseToken.
func malformedTokens() map[string]string {
	now := testEpoch.Unix()
	good := craft(hs256Header, claimsJSON(now+100), sha256.New, testAccessKey)
	parts := strings.Split(good, ".")
	validClaims := claimsJSON(now + 100)
	return map[string]string{
		"empty":               "",
		"garbage":             "not a jwt",
		"one segment":         parts[0],
		"two segments":        parts[0] + "." + parts[1],
		"four segments":       good + "." + parts[2],
		"trailing dot":        good + ".",
		"empty segments":      "..",
		"bad base64 header":   "!!!." + parts[1] + "." + parts[2],
		"bad base64 claims":   parts[0] + ".%%%." + parts[2],
		"bad base64 sig":      parts[0] + "." + parts[1] + ".***",
		"padded segments":     parts[0] + "=." + parts[1] + "." + parts[2],
		"header not json":     seg("nope") + "." + parts[1] + "." + parts[2],
		"claims not json":     craft(hs256Header, "nope", sha256.New, testAccessKey),
		"claims null":         craft(hs256Header, "null", sha256.New, testAccessKey),
		"claims array":        craft(hs256Header, "[1,2]", sha256.New, testAccessKey),
		"claims empty object": craft(hs256Header, "{}", sha256.New, testAccessKey),
		"alg none":            seg(`{"alg":"none","typ":"JWT"}`) + "." + seg(validClaims) + ".",
		"alg None":            seg(`{"alg":"None","typ":"JWT"}`) + "." + seg(validClaims) + ".",
		"alg missing":         craft(`{"typ":"JWT"}`, validClaims, sha256.New, testAccessKey),
		"alg number":          craft(`{"alg":256}`, validClaims, sha256.New, testAccessKey),
		"alg RS256 hmac sig":  craft(`{"alg":"RS256","typ":"JWT"}`, validClaims, sha256.New, testAccessKey),
		"alg ES256 hmac sig":  craft(`{"alg":"ES256","typ":"JWT"}`, validClaims, sha256.New, testAccessKey),
		"alg HS512":           craft(`{"alg":"HS512","typ":"JWT"}`, validClaims, sha512.New, testAccessKey),
		"alg HS384":           craft(`{"alg":"HS384","typ":"JWT"}`, validClaims, sha512.New384, testAccessKey),
		"other key":           craft(hs256Header, validClaims, sha256.New, []byte("some-other-key-0123456789abcdefghij")),
		"empty key":           craft(hs256Header, validClaims, sha256.New, nil),
		"refresh key":         craft(hs256Header, validClaims, sha256.New, testRefreshKey),
		"tampered claims":     parts[0] + "." + seg(strings.Replace(validClaims, "read:space1", "write:all", 1)) + "." + parts[2],
		"missing signature":   parts[0] + "." + parts[1] + ".",
		"missing exp":         craft(hs256Header, `{"sub":"alice","permissions":[],"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"exp null":            craft(hs256Header, `{"sub":"alice","exp":null,"permissions":[],"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"exp string":          craft(hs256Header, `{"sub":"alice","exp":"9999999999","permissions":[],"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"exp float":           craft(hs256Header, `{"sub":"alice","exp":9999999999.5,"permissions":[],"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"missing sub":         craft(hs256Header, `{"exp":9999999999,"permissions":[],"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"empty sub":           craft(hs256Header, `{"sub":"","exp":9999999999,"permissions":[],"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"sub number":          craft(hs256Header, `{"sub":7,"exp":9999999999,"permissions":[],"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"missing permissions": craft(hs256Header, `{"sub":"alice","exp":9999999999,"group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"missing groups":      craft(hs256Header, `{"sub":"alice","exp":9999999999,"permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"permissions string":  craft(hs256Header, `{"sub":"alice","exp":9999999999,"permissions":"admin","group_permissions":[],"salt":"x"}`, sha256.New, testAccessKey),
		"too long":            parts[0] + "." + seg(strings.Repeat("a", MaxTokenLen)) + "." + parts[2],
	}
}

func TestMalformedTokensAreInvalid(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	for name, tok := range malformedTokens() {
		t.Run(name, func(t *testing.T) {
			for _, f := range []struct {
				name string
				fn   func(string) (*Claims, error)
			}{
				{"ValidateAccess", m.ValidateAccess},
				{"DecodeAccessIgnoringExpiry", m.DecodeAccessIgnoringExpiry},
			} {
				c, err := f.fn(tok)
				require.Error(t, err, "%s: got nil error, want ErrTokenInvalid", f.name)
				assert.ErrorIs(t, err, ErrTokenInvalid, f.name)
				assert.NotErrorIs(t, err, ErrTokenExpired, f.name)
				assert.Nil(t, c, f.name)
			}
		})
	}
}

// An expired token that is also structurally broken is invalid, not expired:
// ErrTokenExpired promises that a refresh may be attempted.
func TestExpiredButBrokenIsInvalid(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	past := testEpoch.Unix() - 3600
	tests := map[string]string{
		"expired, other key":   craft(hs256Header, claimsJSON(past), sha256.New, []byte("another-key-0123456789abcdefghijkl")),
		"expired, missing sub": craft(hs256Header, `{"exp":1,"permissions":[],"group_permissions":[]}`, sha256.New, testAccessKey),
		"expired, alg none":    seg(`{"alg":"none"}`) + "." + seg(claimsJSON(past)) + ".",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := m.ValidateAccess(tok)
			require.ErrorIs(t, err, ErrTokenInvalid)
			assert.False(t, errors.Is(err, ErrTokenExpired))
		})
	}
}

func TestDecodeIgnoringExpiryKeepsSignatureCheck(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	old := craft(hs256Header, claimsJSON(1), sha256.New, testAccessKey) // exp = 1970
	c, err := m.DecodeAccessIgnoringExpiry(old)
	require.NoError(t, err)
	assert.Equal(t, time.Unix(1, 0).UTC(), c.ExpiresAt)

	forged := craft(hs256Header, claimsJSON(1), sha256.New, []byte("forged-key-0123456789abcdefghijklm"))
	_, err = m.DecodeAccessIgnoringExpiry(forged)
	require.ErrorIs(t, err, ErrTokenInvalid)
}

func TestConcurrentTokenUse(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				tok, err := m.NewAccessToken(testUser)
				if !assert.NoError(t, err) {
					return
				}
				_, err = m.ValidateAccess(tok)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
}

// A token validated once is remembered, but a remembered token still
// expires at exp + leeway, and callers get their own copy of the claims.
func TestRememberedTokenStillExpires(t *testing.T) {
	exp := testEpoch.Unix()
	tok := craft(hs256Header, claimsJSON(exp), sha256.New, testAccessKey)
	clock := newFakeClock(testEpoch.Add(-time.Minute))
	m := newTestManager(t, clock)

	c, err := m.ValidateAccess(tok)
	require.NoError(t, err)
	require.Equal(t, 1, m.valid.Len(), "remembered")
	if len(c.Permissions) > 0 {
		c.Permissions[0] = "tampered"
	}
	c.Subject = "mallory"

	clock.Advance(time.Minute + 59*time.Second) // within the leeway
	again, err := m.ValidateAccess(tok)
	require.NoError(t, err)
	assert.Equal(t, "alice", again.Subject)
	assert.NotContains(t, again.Permissions, "tampered")

	clock.Advance(time.Second) // at exp + leeway
	_, err = m.ValidateAccess(tok)
	require.ErrorIs(t, err, ErrTokenExpired)
	assert.Equal(t, 0, m.valid.Len(), "forgotten once expired")

	// A token that fails validation is never remembered.
	bad := craft(hs256Header, claimsJSON(exp+3600), sha256.New, testRefreshKey)
	_, err = m.ValidateAccess(bad)
	require.ErrorIs(t, err, ErrTokenInvalid)
	assert.Equal(t, 0, m.valid.Len())
}
