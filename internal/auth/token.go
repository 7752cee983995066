package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Token lifetimes and validation leeway (upstream values).
const (
	AccessTokenTTL  = 3600 * time.Second
	RefreshTokenTTL = 86400 * time.Second
	TokenLeeway     = 60 * time.Second
	// MaxTokenLen bounds the size of a token we are willing to parse.
	MaxTokenLen = 8 << 10
	// validCacheSize bounds the access tokens remembered as valid (a few
	// MiB at most).
	validCacheSize = 4096

	saltLen = 16
)

// Token validation errors. Every failure of ValidateAccess/ValidateRefresh
// matches exactly one of them with errors.Is.
var (
	// ErrTokenExpired: the signature and claims are fine but exp (plus leeway) is past.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenInvalid: anything else (malformed, wrong algorithm, wrong key, missing claims).
	ErrTokenInvalid = errors.New("invalid token")
)

// Claims are the JWT claims of access and refresh tokens.
type Claims struct {
	Subject          string    // sub: the username
	ExpiresAt        time.Time // exp, second precision, UTC
	Permissions      []string  // permissions snapshot at issue time
	GroupPermissions []string  // group_permissions snapshot at issue time
	Salt             string    // random, only makes each token unique
}

// Identity returns the caller identity carried by the claims.
func (c *Claims) Identity() Identity {
	return Identity{
		Username:         c.Subject,
		Permissions:      append([]string(nil), c.Permissions...),
		GroupPermissions: append([]string(nil), c.GroupPermissions...),
	}
}

// wireClaims is the JSON shape of the claims. Pointers tell absent fields
// from zero values; exp is an integer, so a float exp is rejected as upstream does.
type wireClaims struct {
	Sub              *string   `json:"sub"`
	Exp              *int64    `json:"exp"`
	Permissions      *[]string `json:"permissions"`
	GroupPermissions *[]string `json:"group_permissions"`
	Salt             string    `json:"salt"`
}

var _ jwt.Claims = (*wireClaims)(nil)

func (w *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	if w.Exp == nil {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(*w.Exp, 0)), nil
}
func (w *wireClaims) GetIssuedAt() (*jwt.NumericDate, error)  { return nil, nil }
func (w *wireClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (w *wireClaims) GetIssuer() (string, error)              { return "", nil }
func (w *wireClaims) GetAudience() (jwt.ClaimStrings, error)  { return nil, nil }
func (w *wireClaims) GetSubject() (string, error) {
	if w.Sub == nil {
		return "", nil
	}
	return *w.Sub, nil
}

// claims checks that every required claim is present and converts.
func (w *wireClaims) claims() (*Claims, error) {
	switch {
	case w.Exp == nil:
		return nil, errors.New("exp claim missing")
	case w.Sub == nil || *w.Sub == "":
		return nil, errors.New("sub claim missing")
	case w.Permissions == nil:
		return nil, errors.New("permissions claim missing")
	case w.GroupPermissions == nil:
		return nil, errors.New("group_permissions claim missing")
	}
	return &Claims{
		Subject:          *w.Sub,
		ExpiresAt:        time.Unix(*w.Exp, 0).UTC(),
		Permissions:      *w.Permissions,
		GroupPermissions: *w.GroupPermissions,
		Salt:             w.Salt,
	}, nil
}

// Manager issues and validates tokens and checks the bootstrap key. It is
// safe for concurrent use.
type Manager struct {
	access, refresh, bootstrap []byte
	now                        func() time.Time
	strict                     *jwt.Parser // signature + exp (with leeway)
	lax                        *jwt.Parser // signature only; exp presence checked by us
	// valid remembers access tokens that passed validation, by their exact
	// text: a client sends the same token with every request for up to an
	// hour, and checking it again (base64, JSON, HMAC) cost about a twentieth
	// of an ingest request's CPU. The secrets never change for a Manager, so
	// a token's signature verdict cannot change either; expiry is checked on
	// every hit.
	valid *lru.Cache[string, Claims]
}

// NewManager builds a Manager from the secrets. now is the clock (nil means
// time.Now). The access and refresh secrets must be non-empty; an empty
// bootstrap secret disables the bootstrap key.
func NewManager(s Secrets, now func() time.Time) (*Manager, error) {
	if len(s.Access) == 0 || len(s.Refresh) == 0 {
		return nil, errors.New("new auth manager: access and refresh secrets must be set")
	}
	if now == nil {
		now = time.Now
	}
	valid, err := lru.New[string, Claims](validCacheSize)
	if err != nil {
		return nil, fmt.Errorf("new auth manager: %w", err)
	}
	m := &Manager{
		access:    append([]byte(nil), s.Access...),
		refresh:   append([]byte(nil), s.Refresh...),
		bootstrap: append([]byte(nil), s.Bootstrap...),
		now:       now,
		valid:     valid,
	}
	methods := jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()})
	m.strict = jwt.NewParser(methods,
		jwt.WithLeeway(TokenLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return m.now() }),
	)
	m.lax = jwt.NewParser(methods, jwt.WithoutClaimsValidation())
	return m, nil
}

// NewAccessToken issues an access JWT (3600 s, access secret) for user.
func (m *Manager) NewAccessToken(user Identity) (string, error) {
	tok, err := m.sign(user, AccessTokenTTL, m.access)
	if err != nil {
		return "", fmt.Errorf("new access token: %w", err)
	}
	return tok, nil
}

// NewRefreshToken issues a refresh JWT (86400 s, refresh secret) for user.
// It is meant to be stored server-side only, never sent to clients.
func (m *Manager) NewRefreshToken(user Identity) (string, error) {
	tok, err := m.sign(user, RefreshTokenTTL, m.refresh)
	if err != nil {
		return "", fmt.Errorf("new refresh token: %w", err)
	}
	return tok, nil
}

func (m *Manager) sign(user Identity, ttl time.Duration, key []byte) (string, error) {
	if user.Username == "" {
		return "", errors.New("empty username")
	}
	salt, err := randomAlphanumeric(saltLen)
	if err != nil {
		return "", err
	}
	sub := user.Username
	exp := m.now().Add(ttl).Unix()
	perms := nonNil(user.Permissions)
	groups := nonNil(user.GroupPermissions)
	w := &wireClaims{Sub: &sub, Exp: &exp, Permissions: &perms, GroupPermissions: &groups, Salt: salt}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, w).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return append([]string(nil), s...)
}

// ValidateAccess checks signature (access secret, HS256 only), required claims
// and exp (60 s leeway). The error matches ErrTokenExpired or ErrTokenInvalid.
func (m *Manager) ValidateAccess(token string) (*Claims, error) {
	if c, ok := m.valid.Get(token); ok {
		if m.now().Before(c.ExpiresAt.Add(TokenLeeway)) {
			return cloneClaims(c), nil
		}
		m.valid.Remove(token) // expired: parse reports it
	}
	c, err := m.parse(token, m.access, true)
	if err != nil {
		return nil, err
	}
	m.valid.Add(token, *cloneClaims(*c))
	return c, nil
}

// cloneClaims copies c with its own permission slices, so that a caller
// changing them cannot change the remembered claims.
func cloneClaims(c Claims) *Claims {
	c.Permissions = slices.Clone(c.Permissions)
	c.GroupPermissions = slices.Clone(c.GroupPermissions)
	return &c
}

// ValidateRefresh is ValidateAccess for refresh tokens (refresh secret).
func (m *Manager) ValidateRefresh(token string) (*Claims, error) {
	return m.parse(token, m.refresh, true)
}

// DecodeAccessIgnoringExpiry checks the signature under the access secret and
// the presence of the required claims (exp included) but not whether exp is
// past. It is the first step of a transparent refresh. Errors match ErrTokenInvalid.
func (m *Manager) DecodeAccessIgnoringExpiry(token string) (*Claims, error) {
	return m.parse(token, m.access, false)
}

func (m *Manager) parse(token string, key []byte, checkExp bool) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrTokenInvalid)
	}
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrTokenInvalid, MaxTokenLen)
	}
	parser := m.lax
	if checkExp {
		parser = m.strict
	}
	var w wireClaims
	_, err := parser.ParseWithClaims(token, &w, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return key, nil
	})
	// jwt validates claims only after the signature, so ErrTokenExpired
	// implies a good signature and a present exp.
	expired := err != nil && errors.Is(err, jwt.ErrTokenExpired)
	if err != nil && !expired {
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	c, cerr := w.claims()
	if cerr != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, cerr)
	}
	if expired {
		return nil, fmt.Errorf("%w: expired at %s", ErrTokenExpired, c.ExpiresAt.Format(time.RFC3339))
	}
	return c, nil
}
