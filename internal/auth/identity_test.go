package auth

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentityPermissions(t *testing.T) {
	tests := []struct {
		name                 string
		id                   Identity
		space                string
		read, write, del, ad bool
	}{
		{"nobody", Identity{Username: "u"}, "s1", false, false, false, false},
		{"read own space", Identity{Permissions: []string{"read:s1"}}, "s1", true, false, false, false},
		{"read other space", Identity{Permissions: []string{"read:s1"}}, "s2", false, false, false, false},
		{"write own space", Identity{Permissions: []string{"write:s1"}}, "s1", false, true, false, false},
		{"delete own space", Identity{Permissions: []string{"delete:s1"}}, "s1", false, false, true, false},
		{"read all", Identity{Permissions: []string{"read:all"}}, "anything", true, false, false, false},
		{"guest defaults", Identity{Permissions: []string{"read:all", "write:all", "delete:all"}, GroupPermissions: []string{"user"}}, "s", true, true, true, false},
		{"group admin", Identity{GroupPermissions: []string{"user", "admin"}}, "s", true, true, true, true},
		{"admin in permissions is not group admin", Identity{Permissions: []string{"admin"}}, "s", false, false, false, false},
		{"wildcard is only all", Identity{Permissions: []string{"read:*"}}, "s", false, false, false, false},
		{"case sensitive", Identity{Permissions: []string{"READ:s"}, GroupPermissions: []string{"Admin"}}, "s", false, false, false, false},
		{"prefix does not match", Identity{Permissions: []string{"read:s"}}, "s1", false, false, false, false},
		{"bootstrap", BootstrapIdentity(), "s", true, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.read, tt.id.CanRead(tt.space), "CanRead")
			assert.Equal(t, tt.write, tt.id.CanWrite(tt.space), "CanWrite")
			assert.Equal(t, tt.del, tt.id.CanDelete(tt.space), "CanDelete")
			assert.Equal(t, tt.ad, tt.id.IsAdmin(), "IsAdmin")
		})
	}
}

func TestHasPermission(t *testing.T) {
	id := Identity{Permissions: []string{"custom"}}
	assert.True(t, id.HasPermission("custom"))
	assert.False(t, id.HasPermission("other"))
	assert.True(t, Identity{GroupPermissions: []string{"admin"}}.HasPermission("anything"))
}

func TestBootstrapIdentity(t *testing.T) {
	assert.Equal(t, Identity{Username: "bootstrap", Permissions: []string{"admin"}, GroupPermissions: []string{"admin"}}, BootstrapIdentity())
}

func TestCheckBootstrap(t *testing.T) {
	m := newTestManager(t, newFakeClock(testEpoch))
	tests := map[string]bool{
		string(testBootKey):                      true,
		"":                                       false,
		string(testBootKey) + " ":                false,
		" " + string(testBootKey):                false,
		string(testBootKey[:len(testBootKey)-1]): false,
		string(testAccessKey):                    false,
		"Bootstrap-secret-0123456789abcdefghijklm": false,
	}
	for header, want := range tests {
		assert.Equal(t, want, m.CheckBootstrap(header), "header %q", header)
	}

	noBoot, err := NewManager(Secrets{Access: testAccessKey, Refresh: testRefreshKey}, nil)
	require.NoError(t, err)
	assert.False(t, noBoot.CheckBootstrap(""), "empty secret never matches")
	assert.False(t, noBoot.CheckBootstrap("x"))

	def, err := NewManager(DefaultSecrets(), nil)
	require.NoError(t, err)
	assert.True(t, def.CheckBootstrap(DefaultDevSecret), "upstream default bootstrap key")
}

func TestIdentityContext(t *testing.T) {
	_, ok := IdentityFrom(context.Background())
	assert.False(t, ok)

	ctx := WithIdentity(context.Background(), testUser)
	got, ok := IdentityFrom(ctx)
	require.True(t, ok)
	assert.Equal(t, testUser, got)

	// A look-alike key of another type must not collide.
	type otherKey struct{}
	ctx2 := context.WithValue(context.Background(), otherKey{}, testUser)
	_, ok = IdentityFrom(ctx2)
	assert.False(t, ok)
}
