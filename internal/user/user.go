package user

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scoutergo/server/internal/auth"
)

// Defaults of a create request (upstream's).
const (
	DefaultRole  = "user"
	GuestRole    = "guest"
	AdminRole    = "admin"
	DefaultGroup = "user"
)

// RecoveryCodeCount is the number of recovery codes generated for a new user.
const RecoveryCodeCount = 4

// Input limits. Upstream has none; these keep rows, tokens and logs sane.
const (
	MaxUsernameLen = 256
	MaxPasswordLen = 1024
	MaxEmailLen    = 320
	MaxRoleLen     = 64
	MaxListLen     = 256 // entries in permissions, group_permissions, favorite_spaces
	MaxItemLen     = 256 // bytes per entry
)

// User is a row of the user table.
type User struct {
	Username            string
	Email               string
	Active              bool
	Role                string
	PasswordHash        string   // argon2 PHC string
	HashedRecoveryCodes []string // argon2 PHC strings
	Permissions         []string
	GroupPermissions    []string
	FavoriteSpaces      []string
	RefreshToken        string // "" when none is stored
}

// Identity is the caller identity of u: name and current permissions.
func (u *User) Identity() auth.Identity {
	return auth.Identity{
		Username:         u.Username,
		Permissions:      slices.Clone(u.Permissions),
		GroupPermissions: slices.Clone(u.GroupPermissions),
	}
}

// CreateInput is a create request; nil fields take the defaults
// (permissions ["read:all"], group_permissions ["user"], role "user", active).
type CreateInput struct {
	Username         string
	Password         string
	Email            string
	Permissions      *[]string
	GroupPermissions *[]string
	Role             *string
	Active           *bool
}

// UpdateInput is an update request; nil fields stay unchanged. Permissions,
// GroupPermissions and Active are applied for admins only.
type UpdateInput struct {
	Password         *string
	Permissions      *[]string
	GroupPermissions *[]string
	Active           *bool
	FavoriteSpaces   *[]string
}

// Created is the result of Create: the user and the recovery codes in clear,
// which are shown once and stored only hashed.
type Created struct {
	User          User
	RecoveryCodes []string
}

// validUsername reports whether s can be a username: 1 to MaxUsernameLen
// bytes of printable ASCII (it travels in the Username header at login),
// without '/' (it is a path segment of /user/{username}) and without
// surrounding spaces (HTTP trims header values).
func validUsername(s string) bool {
	return len(s) <= MaxUsernameLen && auth.ValidHeaderValue(s) &&
		!strings.Contains(s, "/") && strings.TrimSpace(s) == s
}

// validPassword reports whether s can be a password: 1 to MaxPasswordLen
// bytes of printable ASCII, since it travels in the Password header at login.
func validPassword(s string) bool {
	return len(s) <= MaxPasswordLen && auth.ValidHeaderValue(s)
}

// cleanText reports whether s is valid UTF-8 without control characters (a
// NUL in particular is refused by Postgres text and jsonb).
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func checkText(field, s string, max int, required bool) error {
	switch {
	case required && s == "":
		return &InputError{Field: field, Msg: "must not be empty"}
	case len(s) > max:
		return &InputError{Field: field, Msg: fmt.Sprintf("longer than %d bytes", max)}
	case !cleanText(s):
		return &InputError{Field: field, Msg: "must be valid UTF-8 without control characters"}
	}
	return nil
}

// checkList validates a list field and returns it without duplicates, first
// occurrence kept (sorted when sorted is set, as upstream's set semantics
// leave the order undefined on update).
func checkList(field string, items []string, sorted bool) ([]string, error) {
	if len(items) > MaxListLen {
		return nil, &InputError{Field: field, Msg: fmt.Sprintf("more than %d entries", MaxListLen)}
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]struct{}, len(items))
	for _, it := range items {
		if err := checkText(field, it, MaxItemLen, true); err != nil {
			return nil, err
		}
		if _, dup := seen[it]; dup {
			continue
		}
		seen[it] = struct{}{}
		out = append(out, it)
	}
	if sorted {
		slices.Sort(out)
	}
	return out, nil
}
