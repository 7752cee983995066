// Package user manages Scouter users: the first-start default users, login
// with rate limiting, access-token refresh (explicit and transparent), and
// create/get/list/update/delete with upstream's admin/self rules. It works on
// a Store (Postgres in production) and the auth package's token manager; it
// knows nothing about HTTP or gRPC, whose edges map its sentinel errors.
package user

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/scoutergo/server/internal/auth"
)

// Tokens issues and checks JWTs; *auth.Manager implements it.
type Tokens interface {
	NewAccessToken(user auth.Identity) (string, error)
	NewRefreshToken(user auth.Identity) (string, error)
	ValidateAccess(token string) (*auth.Claims, error)
	ValidateRefresh(token string) (*auth.Claims, error)
	DecodeAccessIgnoringExpiry(token string) (*auth.Claims, error)
	CheckBootstrap(header string) bool
}

var _ Tokens = (*auth.Manager)(nil)

// Options are the service's dependencies.
type Options struct {
	Store  Store
	Tokens Tokens
	// Limiter counts failed logins per username and per client address.
	// Nil means auth.NewLimiter with the defaults.
	Limiter *auth.Limiter
	// HashConcurrency caps the argon2 computations running at once (each
	// takes about 19 MiB); zero means twice GOMAXPROCS, at least 2.
	HashConcurrency int
}

// Service is the user and session service. It is safe for concurrent use.
type Service struct {
	store   Store
	tokens  Tokens
	limiter *auth.Limiter
	hashing chan struct{} // semaphore over argon2 work
}

// New builds a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Tokens == nil {
		return nil, errors.New("new user service: store and tokens are required")
	}
	if opts.Limiter == nil {
		opts.Limiter = auth.NewLimiter(auth.LimiterOptions{})
	}
	n := opts.HashConcurrency
	if n <= 0 {
		n = max(2, 2*runtime.GOMAXPROCS(0))
	}
	return &Service{
		store:   opts.Store,
		tokens:  opts.Tokens,
		limiter: opts.Limiter,
		hashing: make(chan struct{}, n),
	}, nil
}

// withHashSlot runs fn while holding one of the argon2 slots.
func (s *Service) withHashSlot(ctx context.Context, fn func()) error {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashing }()
	fn()
	return nil
}

func (s *Service) hash(ctx context.Context, secret string) (string, error) {
	var (
		h   string
		err error
	)
	if serr := s.withHashSlot(ctx, func() { h, err = auth.HashPassword(secret) }); serr != nil {
		return "", serr
	}
	return h, err
}

func (s *Service) recoveryCodes(ctx context.Context, n int) (plain, hashed []string, err error) {
	if serr := s.withHashSlot(ctx, func() { plain, hashed, err = auth.NewRecoveryCodes(n) }); serr != nil {
		return nil, nil, serr
	}
	return plain, hashed, err
}

// Defaults names the first-start admin (SCOUTER_DEFAULT_USERNAME/PASSWORD).
type Defaults struct {
	AdminUsername string
	AdminPassword string
}

// EnsureDefaultUsers creates the admin and guest users of the spec when the
// user table is empty, and reports whether it did. Several servers starting
// at once create them exactly once.
func (s *Service) EnsureDefaultUsers(ctx context.Context, d Defaults) (bool, error) {
	if d.AdminUsername == "" || d.AdminPassword == "" {
		return false, errors.New("ensure default users: admin username and password are required")
	}
	if d.AdminUsername == "guest" {
		return false, errors.New("ensure default users: the admin username must not be guest")
	}
	// Cheap check first, so that a populated table costs no hashing.
	existing, err := s.store.List(ctx)
	if err != nil {
		return false, fmt.Errorf("ensure default users: %w", err)
	}
	if len(existing) > 0 {
		return false, nil
	}
	specs := []struct {
		name, password, email, role string
		perms, groups               []string
	}{
		{d.AdminUsername, d.AdminPassword, "admin", AdminRole, []string{"read:all", "write:all"}, []string{auth.GroupAdmin}},
		{"guest", "guest", "default", GuestRole, []string{"read:all", "write:all", "delete:all"}, []string{DefaultGroup}},
	}
	users := make([]User, 0, len(specs))
	for _, sp := range specs {
		pw, err := s.hash(ctx, sp.password)
		if err != nil {
			return false, fmt.Errorf("ensure default users: %w", err)
		}
		_, codes, err := s.recoveryCodes(ctx, 1)
		if err != nil {
			return false, fmt.Errorf("ensure default users: %w", err)
		}
		users = append(users, User{
			Username: sp.name, Email: sp.email, Active: true, Role: sp.role, PasswordHash: pw,
			HashedRecoveryCodes: codes, Permissions: sp.perms, GroupPermissions: sp.groups,
			FavoriteSpaces: []string{},
		})
	}
	created, err := s.store.InsertIfEmpty(ctx, users)
	if err != nil {
		return false, fmt.Errorf("ensure default users: %w", err)
	}
	return created, nil
}

// Create adds a user (admins only) with RecoveryCodeCount recovery codes.
func (s *Service) Create(ctx context.Context, caller auth.Identity, in CreateInput) (*Created, error) {
	if !caller.IsAdmin() {
		return nil, ErrNeedAdmin
	}
	u, err := newUserFromInput(in)
	if err != nil {
		return nil, err
	}
	// Upstream checks for an existing user before hashing; a lookup failure
	// falls through to the insert, whose unique key decides.
	if _, err := s.store.Get(ctx, u.Username); err == nil {
		return nil, ErrExists
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if u.PasswordHash, err = s.hash(ctx, in.Password); err != nil {
		return nil, opErr(OpCreateUser, err)
	}
	plain, hashed, err := s.recoveryCodes(ctx, RecoveryCodeCount)
	if err != nil {
		return nil, opErr(OpCreateUser, err)
	}
	u.HashedRecoveryCodes = hashed
	got, err := s.store.Insert(ctx, u)
	if err != nil {
		return nil, err
	}
	return &Created{User: *got, RecoveryCodes: plain}, nil
}

func newUserFromInput(in CreateInput) (*User, error) {
	if !validUsername(in.Username) {
		return nil, &InputError{Field: "username", Msg: fmt.Sprintf(
			"want 1 to %d printable ASCII characters, no '/' and no surrounding spaces", MaxUsernameLen)}
	}
	if !validPassword(in.Password) {
		return nil, &InputError{Field: "password", Msg: fmt.Sprintf(
			"want 1 to %d printable ASCII characters (it is sent in the Password header at login)", MaxPasswordLen)}
	}
	if err := checkText("email", in.Email, MaxEmailLen, false); err != nil {
		return nil, err
	}
	u := &User{
		Username:         in.Username,
		Email:            in.Email,
		Active:           true,
		Role:             DefaultRole,
		Permissions:      []string{"read:all"},
		GroupPermissions: []string{DefaultGroup},
		FavoriteSpaces:   []string{},
	}
	if in.Role != nil {
		if err := checkText("role", *in.Role, MaxRoleLen, false); err != nil {
			return nil, err
		}
		u.Role = *in.Role
	}
	if in.Active != nil {
		u.Active = *in.Active
	}
	var err error
	if in.Permissions != nil {
		if u.Permissions, err = checkList("permissions", *in.Permissions, false); err != nil {
			return nil, err
		}
	}
	if in.GroupPermissions != nil {
		if u.GroupPermissions, err = checkList("group_permissions", *in.GroupPermissions, false); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Get returns a user to an admin or to the user themself.
func (s *Service) Get(ctx context.Context, caller auth.Identity, username string) (*User, error) {
	if !caller.IsAdmin() && caller.Username != username {
		return nil, ErrPermissionDenied
	}
	if !validUsername(username) {
		return nil, ErrNotFound // no such user can exist; spare the database
	}
	return s.store.Get(ctx, username)
}

// List returns every user (admins only).
func (s *Service) List(ctx context.Context, caller auth.Identity) ([]User, error) {
	if !caller.IsAdmin() {
		return nil, ErrNeedAdmin
	}
	return s.store.List(ctx)
}

// Update changes a user (admin or self). Anyone allowed may change the
// password and favorite_spaces; permissions, group_permissions and active
// change only when the caller is an admin and are silently ignored
// otherwise. Lists are deduplicated and sorted.
func (s *Service) Update(ctx context.Context, caller auth.Identity, username string, in UpdateInput) (*User, error) {
	isAdmin := caller.IsAdmin()
	if !isAdmin && caller.Username != username {
		return nil, ErrPermissionDenied
	}
	if !validUsername(username) {
		return nil, ErrNotFound
	}
	var (
		favorites, perms, groups []string
		err                      error
	)
	if in.FavoriteSpaces != nil {
		if favorites, err = checkList("favorite_spaces", *in.FavoriteSpaces, true); err != nil {
			return nil, err
		}
	}
	if isAdmin && in.Permissions != nil {
		if perms, err = checkList("permissions", *in.Permissions, true); err != nil {
			return nil, err
		}
	}
	if isAdmin && in.GroupPermissions != nil {
		if groups, err = checkList("group_permissions", *in.GroupPermissions, true); err != nil {
			return nil, err
		}
	}
	var pwHash string
	if in.Password != nil {
		if !validPassword(*in.Password) {
			return nil, &InputError{Field: "password", Msg: fmt.Sprintf(
				"want 1 to %d printable ASCII characters (it is sent in the Password header at login)", MaxPasswordLen)}
		}
		// Hash before the row is locked: hashing takes tens of milliseconds.
		if pwHash, err = s.hash(ctx, *in.Password); err != nil {
			return nil, opErr(OpUpdateUser, err)
		}
	}
	return s.store.Update(ctx, username, func(u *User) {
		if pwHash != "" {
			u.PasswordHash = pwHash
		}
		if in.FavoriteSpaces != nil {
			u.FavoriteSpaces = favorites
		}
		if isAdmin {
			if in.Permissions != nil {
				u.Permissions = perms
			}
			if in.GroupPermissions != nil {
				u.GroupPermissions = groups
			}
			if in.Active != nil {
				u.Active = *in.Active
			}
		}
	})
}

// Delete removes a user (admins only), refusing to remove the only user
// whose role is "admin". Deleting a user that does not exist succeeds.
func (s *Service) Delete(ctx context.Context, caller auth.Identity, username string) error {
	if !caller.IsAdmin() {
		return ErrNeedAdmin
	}
	if !validUsername(username) {
		return nil // nothing to delete, as for any missing user
	}
	return s.store.DeleteUnlessLastAdmin(ctx, username)
}

// CheckBootstrap reports whether key is the bootstrap key.
func (s *Service) CheckBootstrap(key string) bool { return s.tokens.CheckBootstrap(key) }
