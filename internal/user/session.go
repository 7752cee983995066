package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scoutergo/server/internal/auth"
)

// Credentials are a login attempt.
type Credentials struct {
	Username string
	Password string
	// ClientAddr is the caller's network address (IP), the second key of the
	// rate limit; empty skips that key.
	ClientAddr string
}

// Session is an authenticated caller. RefreshedToken is set when the access
// token had expired and was renewed: the edge hands it back to the client
// (HTTP header Authorization: Bearer, gRPC metadata x-refreshed-token).
type Session struct {
	Identity       auth.Identity
	RefreshedToken string
}

func userKey(name string) string { return "user:" + name }
func addrKey(addr string) string { return "addr:" + addr }

// Login checks the credentials and returns a new access token. The user's
// stored refresh token is kept while it is valid and replaced otherwise; it
// is never returned.
//
// Failed attempts (unknown user or wrong password) count against the
// username and the client address; once either is locked out, Login returns
// a *RateLimitError without looking at the password. An unknown user costs
// the same argon2 work as a known one, so timing does not tell them apart
// (the error still differs, ErrNotFound, as upstream answers 404).
func (s *Service) Login(ctx context.Context, c Credentials) (string, error) {
	keys := []string{userKey(c.Username)}
	if c.ClientAddr != "" {
		keys = append(keys, addrKey(c.ClientAddr))
	}
	var wait time.Duration
	for _, k := range keys {
		if ok, retry := s.limiter.Allow(k); !ok {
			wait = max(wait, retry)
		}
	}
	if wait > 0 {
		return "", &RateLimitError{RetryAfter: wait}
	}
	fail := func(err error) (string, error) {
		for _, k := range keys {
			s.limiter.Fail(k)
		}
		return "", err
	}

	var u *User
	var err error
	if validUsername(c.Username) {
		u, err = s.store.Get(ctx, c.Username)
	} else {
		err = ErrNotFound // cannot exist: no lookup
	}
	if errors.Is(err, ErrNotFound) {
		if serr := s.withHashSlot(ctx, func() { auth.DummyVerify(c.Password) }); serr != nil {
			return "", serr
		}
		return fail(ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	var ok bool
	var verr error
	if serr := s.withHashSlot(ctx, func() { ok, verr = auth.VerifyPassword(u.PasswordHash, c.Password) }); serr != nil {
		return "", serr
	}
	if verr != nil {
		// An unusable stored hash: nobody can log in as this user.
		return fail(fmt.Errorf("%w: %w", ErrInvalidCredentials, verr))
	}
	if !ok {
		return fail(ErrInvalidCredentials)
	}
	s.limiter.Reset(userKey(c.Username))

	id := u.Identity()
	token, err := s.tokens.NewAccessToken(id)
	if err != nil {
		return "", opErr(OpIssueToken, err)
	}
	if u.RefreshToken != "" {
		if _, err := s.tokens.ValidateRefresh(u.RefreshToken); err == nil {
			return token, nil
		}
	}
	if err := s.rotateRefreshToken(ctx, id); err != nil {
		return "", err
	}
	return token, nil
}

// rotateRefreshToken issues a new refresh token for id and stores it.
func (s *Service) rotateRefreshToken(ctx context.Context, id auth.Identity) error {
	rt, err := s.tokens.NewRefreshToken(id)
	if err != nil {
		return opErr(OpIssueToken, err)
	}
	if err := s.store.SetRefreshToken(ctx, id.Username, rt); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound // deleted meanwhile
		}
		if _, tagged := FailedOp(err); tagged {
			return err
		}
		return opErr(OpStoreRefreshToken, err)
	}
	return nil
}

// Refresh exchanges an access token, expired or not, for a new one. The
// token's signature and claims must be good; its user must still exist (a
// deleted user's token is refused with ErrNotFound). The stored refresh token
// is replaced unconditionally, as upstream does.
func (s *Service) Refresh(ctx context.Context, accessToken string) (string, error) {
	claims, err := s.tokens.DecodeAccessIgnoringExpiry(accessToken)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	u, err := s.store.Get(ctx, claims.Subject)
	if err != nil {
		return "", err
	}
	id := u.Identity()
	token, err := s.tokens.NewAccessToken(id)
	if err != nil {
		return "", opErr(OpIssueToken, err)
	}
	if err := s.rotateRefreshToken(ctx, id); err != nil {
		return "", err
	}
	return token, nil
}

// Validate checks an access token (signature and expiry). The error matches
// ErrTokenExpired or ErrInvalidToken.
func (s *Service) Validate(accessToken string) (*auth.Claims, error) {
	claims, err := s.tokens.ValidateAccess(accessToken)
	switch {
	case err == nil:
		return claims, nil
	case errors.Is(err, auth.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	default:
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
}

// Authenticate turns an access token into a Session. A valid token is
// trusted as is (identity from its claims, no database access). An expired
// but otherwise valid token is refreshed transparently when its user still
// exists and holds a valid stored refresh token: the identity then comes
// from the user row, and a new access token and a new stored refresh token
// are issued.
//
// Errors: ErrInvalidToken (bad token), ErrNotFound (user gone; also when the
// user lookup fails, with the cause kept), ErrRefreshTokenMissing,
// ErrRefreshTokenInvalid, and an *OpError of OpStoreRefreshToken or
// OpIssueToken.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*Session, error) {
	claims, err := s.tokens.ValidateAccess(accessToken)
	if err == nil {
		return &Session{Identity: claims.Identity()}, nil
	}
	if !errors.Is(err, auth.ErrTokenExpired) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	claims, err = s.tokens.DecodeAccessIgnoringExpiry(accessToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	u, err := s.store.Get(ctx, claims.Subject)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if u.RefreshToken == "" {
		return nil, ErrRefreshTokenMissing
	}
	if _, err := s.tokens.ValidateRefresh(u.RefreshToken); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefreshTokenInvalid, err)
	}
	id := u.Identity()
	token, err := s.tokens.NewAccessToken(id)
	if err != nil {
		return nil, opErr(OpIssueToken, err)
	}
	if err := s.rotateRefreshToken(ctx, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return &Session{Identity: id, RefreshedToken: token}, nil
}
