package profile

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func versions(t *testing.T, ss ...string) []*semver.Version {
	t.Helper()
	out := make([]*semver.Version, 0, len(ss))
	for _, s := range ss {
		v, err := semver.StrictNewVersion(s)
		require.NoError(t, err, s)
		out = append(out, v)
	}
	return out
}

func strp(s string) *string { return &s }

func TestNextVersion(t *testing.T) {
	tests := []struct {
		name     string
		existing []string
		req      VersionRequest
		want     string
	}{
		// No existing versions.
		{"none, nothing requested", nil, VersionRequest{VersionType: Minor}, "0.1.0"},
		{"none, nothing requested, major", nil, VersionRequest{VersionType: Major}, "0.1.0"},
		{"none, tags ignored", nil, VersionRequest{VersionType: PreBuild, PreTag: strp("rc"), BuildTag: strp("7")}, "0.1.0"},
		{"none, requested used as is (R-04)", nil, VersionRequest{Version: strp("1.0.0"), VersionType: Minor}, "1.0.0"},
		{"none, requested 0.0.0 kept", nil, VersionRequest{Version: strp("0.0.0"), VersionType: Minor}, "0.0.0"},
		{"none, one part expanded", nil, VersionRequest{Version: strp("2"), VersionType: Minor}, "2.0.0"},
		{"none, two parts expanded", nil, VersionRequest{Version: strp("2.1"), VersionType: Patch}, "2.1.0"},
		{"no match, requested used", []string{"1.0.0"}, VersionRequest{Version: strp("3.0.0"), VersionType: Minor}, "3.0.0"},

		// Bumps of the latest matching version.
		{"requested exists, minor bump (R-04)", []string{"1.0.0"}, VersionRequest{Version: strp("1.0.0"), VersionType: Minor}, "1.1.0"},
		{"existing 0.0.0 requested", []string{"0.0.0"}, VersionRequest{Version: strp("0.0.0"), VersionType: Minor}, "0.1.0"},
		{"no request: highest of all, minor", []string{"0.1.0", "0.3.0", "0.2.0"}, VersionRequest{VersionType: Minor}, "0.4.0"},
		{"no request: major", []string{"0.1.0", "0.3.5"}, VersionRequest{VersionType: Major}, "1.0.0"},
		{"no request: patch", []string{"0.1.0", "0.3.5"}, VersionRequest{VersionType: Patch}, "0.3.6"},
		{"pre", []string{"1.2.3"}, VersionRequest{VersionType: Pre, PreTag: strp("rc.1")}, "1.2.3-rc.1"},
		{"pre without tag", []string{"1.2.3"}, VersionRequest{VersionType: Pre}, "1.2.3"},
		{"build", []string{"1.2.3"}, VersionRequest{VersionType: Build, BuildTag: strp("build.5")}, "1.2.3+build.5"},
		{"prebuild", []string{"1.2.3"}, VersionRequest{VersionType: PreBuild, PreTag: strp("alpha"), BuildTag: strp("001")}, "1.2.3-alpha+001"},
		{"minor with pre tag", []string{"1.2.3"}, VersionRequest{VersionType: Minor, PreTag: strp("beta")}, "1.3.0-beta"},
		{"major with build tag", []string{"1.2.3"}, VersionRequest{VersionType: Major, BuildTag: strp("sha.abc")}, "2.0.0+sha.abc"},
		{"empty tags mean none", []string{"1.2.3"}, VersionRequest{VersionType: Patch, PreTag: strp(""), BuildTag: strp("")}, "1.2.4"},
		{"base tags dropped", []string{"1.2.3-alpha+001"}, VersionRequest{VersionType: Patch}, "1.2.4"},
		{"pre-release counts as its numbers", []string{"1.2.3", "1.2.4-rc.1"}, VersionRequest{VersionType: Minor}, "1.3.0"},

		// Range selection.
		{"major range", []string{"1.0.0", "1.4.2", "2.0.0"}, VersionRequest{Version: strp("1"), VersionType: Minor}, "1.5.0"},
		{"minor range", []string{"1.4.0", "1.4.2", "1.5.0"}, VersionRequest{Version: strp("1.4"), VersionType: Patch}, "1.4.3"},
		{"exact picks only that patch", []string{"1.4.0", "1.4.2", "1.5.0"}, VersionRequest{Version: strp("1.4.0"), VersionType: Patch}, "1.4.1"},
		{"exact with tagged rows", []string{"1.4.0-rc.1", "1.4.0"}, VersionRequest{Version: strp("1.4.0"), VersionType: Pre, PreTag: strp("rc.2")}, "1.4.0-rc.2"},
		{"tilde", []string{"1.4.0", "1.4.2", "1.5.0"}, VersionRequest{Version: strp("~1.4.1"), VersionType: Patch}, "1.4.3"},
		{"tilde one part", []string{"1.4.0", "2.0.0"}, VersionRequest{Version: strp("~1"), VersionType: Patch}, "1.4.1"},
		{"caret", []string{"1.4.0", "1.4.2", "1.5.0"}, VersionRequest{Version: strp("^1.4.1"), VersionType: Patch}, "1.4.3"},
		{"star all", []string{"1.4.0", "2.0.0", "0.9.0"}, VersionRequest{Version: strp("*"), VersionType: Minor}, "2.1.0"},
		{"star major", []string{"1.4.0", "1.4.2", "2.0.0"}, VersionRequest{Version: strp("1.*"), VersionType: Minor}, "1.5.0"},
		{"star minor", []string{"1.4.0", "1.4.2", "1.5.0"}, VersionRequest{Version: strp("1.4.*"), VersionType: Patch}, "1.4.3"},
		{"exact requested 1.0.0 with 1.1.0 present bumps only 1.0.0", []string{"1.0.0", "1.1.0"}, VersionRequest{Version: strp("1.0.0"), VersionType: Minor}, "1.1.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			got, err := NextVersion(versions(t, tc.existing...), &req)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.String(), "got %s, want %s", got, tc.want)
		})
	}
}

func TestNextVersionErrors(t *testing.T) {
	tests := []struct {
		name     string
		existing []string
		req      *VersionRequest
		field    string
	}{
		{"caret with two parts (upstream panics)", nil, &VersionRequest{Version: strp("^1.2"), VersionType: Minor}, "version_request.version"},
		{"bare tilde (upstream panics)", nil, &VersionRequest{Version: strp("~"), VersionType: Minor}, "version_request.version"},
		{"four parts", nil, &VersionRequest{Version: strp("1.2.3.4"), VersionType: Minor}, "version_request.version"},
		{"pre-release in request", nil, &VersionRequest{Version: strp("1.2.3-alpha"), VersionType: Minor}, "version_request.version"},
		{"build in request", nil, &VersionRequest{Version: strp("1.2.3+b"), VersionType: Minor}, "version_request.version"},
		{"v prefix", nil, &VersionRequest{Version: strp("v1.2.3"), VersionType: Minor}, "version_request.version"},
		{"letters", nil, &VersionRequest{Version: strp("abc"), VersionType: Minor}, "version_request.version"},
		{"empty", nil, &VersionRequest{Version: strp(""), VersionType: Minor}, "version_request.version"},
		{"leading zero", nil, &VersionRequest{Version: strp("01.2.3"), VersionType: Minor}, "version_request.version"},
		{"caret range without match", nil, &VersionRequest{Version: strp("^1.2.3"), VersionType: Minor}, "version_request.version"},
		{"star range without match", []string{"2.0.0"}, &VersionRequest{Version: strp("1.*"), VersionType: Minor}, "version_request.version"},
		{"bad pre tag", []string{"1.0.0"}, &VersionRequest{VersionType: Pre, PreTag: strp("01")}, "version_request.pre_tag"},
		{"empty pre identifier", []string{"1.0.0"}, &VersionRequest{VersionType: Pre, PreTag: strp("a..b")}, "version_request.pre_tag"},
		{"bad build tag", []string{"1.0.0"}, &VersionRequest{VersionType: Build, BuildTag: strp("a+b")}, "version_request.build_tag"},
		{"unknown version type", nil, &VersionRequest{VersionType: "minor"}, "version_request.version_type"},
		{"overflow", []string{"1.18446744073709551615.0"}, &VersionRequest{VersionType: Minor}, "version_request.version_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NextVersion(versions(t, tc.existing...), tc.req)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, tc.field, fe.Field)
		})
	}
	_, err := NextVersion(nil, nil)
	assert.ErrorIs(t, err, ErrVersionRequired)
}

func TestNextVersionIgnoresNilEntries(t *testing.T) {
	got, err := NextVersion([]*semver.Version{nil, semver.New(1, 0, 0, "", "")}, &VersionRequest{VersionType: Patch})
	require.NoError(t, err)
	assert.Equal(t, "1.0.1", got.String())
}

func TestVersionRequestJSON(t *testing.T) {
	var r VersionRequest
	require.NoError(t, json.Unmarshal([]byte(`{"version":null,"version_type":"Minor","pre_tag":null,"build_tag":null}`), &r))
	assert.Equal(t, VersionRequest{VersionType: Minor}, r)

	require.NoError(t, json.Unmarshal([]byte(`{"version":"1.0.0","version_type":"PreBuild","pre_tag":"rc","build_tag":"1"}`), &r))
	assert.Equal(t, "1.0.0", *r.Version)
	assert.Equal(t, PreBuild, r.VersionType)
	assert.Equal(t, "rc", *r.PreTag)

	for _, bad := range []string{
		`{"version":"1.0.0"}`,
		`{"version_type":null}`,
		`{"version_type":"minor"}`,
		`{"version_type":"pre_build"}`,
		`{"version_type":3}`,
	} {
		assert.Error(t, json.Unmarshal([]byte(bad), &r), bad)
	}
}
