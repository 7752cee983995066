package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"slices"
)

// Permission strings (see the spec's permission model).
const (
	GroupAdmin = "admin"
	scopeAll   = "all"
)

// BootstrapUsername is the username of the synthetic bootstrap identity.
const BootstrapUsername = "bootstrap"

// Identity is the authenticated caller.
type Identity struct {
	Username         string
	Permissions      []string // read:<space>, write:<space>, delete:<space>, read:all, ...
	GroupPermissions []string // "admin" grants everything
}

// IsAdmin reports whether group_permissions contains "admin". User management
// checks use only this.
func (id Identity) IsAdmin() bool { return slices.Contains(id.GroupPermissions, GroupAdmin) }

// HasPermission reports whether perm is in permissions or the caller is a
// group admin.
func (id Identity) HasPermission(perm string) bool {
	return id.IsAdmin() || slices.Contains(id.Permissions, perm)
}

// CanRead reports read:<space>, read:all or group admin.
func (id Identity) CanRead(space string) bool { return id.can("read", space) }

// CanWrite reports write:<space>, write:all or group admin.
func (id Identity) CanWrite(space string) bool { return id.can("write", space) }

// CanDelete reports delete:<space>, delete:all or group admin.
func (id Identity) CanDelete(space string) bool { return id.can("delete", space) }

func (id Identity) can(action, space string) bool {
	return id.HasPermission(action+":"+space) || slices.Contains(id.Permissions, action+":"+scopeAll)
}

// BootstrapIdentity is the synthetic admin used for requests authenticated
// with the bootstrap key.
func BootstrapIdentity() Identity {
	return Identity{
		Username:         BootstrapUsername,
		Permissions:      []string{GroupAdmin},
		GroupPermissions: []string{GroupAdmin},
	}
}

// CheckBootstrap reports whether header equals the bootstrap secret. The
// comparison is constant-time (over SHA-256 digests, so the length is not
// leaked either). An empty header or an empty secret never matches.
func (m *Manager) CheckBootstrap(header string) bool {
	if header == "" || len(m.bootstrap) == 0 {
		return false
	}
	got := sha256.Sum256([]byte(header))
	want := sha256.Sum256(m.bootstrap)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity stored by WithIdentity.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
