package profile

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// VersionType says how NextVersion bumps the latest matching version.
type VersionType string

// The version bump kinds (JSON = these exact names).
const (
	Major    VersionType = "Major"
	Minor    VersionType = "Minor"
	Patch    VersionType = "Patch"
	Pre      VersionType = "Pre"
	Build    VersionType = "Build"
	PreBuild VersionType = "PreBuild"
)

// Valid reports whether v is one of the six variant names.
func (v VersionType) Valid() bool {
	switch v {
	case Major, Minor, Patch, Pre, Build, PreBuild:
		return true
	}
	return false
}

// UnmarshalJSON accepts only the exact variant names.
func (v *VersionType) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fieldErr("version_request.version_type", "expected a string")
	}
	if !VersionType(s).Valid() {
		return fieldErr("version_request.version_type", fmt.Sprintf("unknown version type %q (want Major, Minor, Patch, Pre, Build or PreBuild)", s))
	}
	*v = VersionType(s)
	return nil
}

// VersionRequest is ProfileRequest.version_request.
type VersionRequest struct {
	Version     *string     `json:"version"`
	VersionType VersionType `json:"version_type"`
	PreTag      *string     `json:"pre_tag"`
	BuildTag    *string     `json:"build_tag"`
}

// UnmarshalJSON requires version_type (serde has no default for it); the
// other three keys may be absent or null.
func (r *VersionRequest) UnmarshalJSON(b []byte) error {
	type plain VersionRequest
	var aux struct {
		plain
		VersionType *VersionType `json:"version_type"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if aux.VersionType == nil {
		return fieldErr("version_request.version_type", "required string is missing or null")
	}
	*r = VersionRequest(aux.plain)
	r.VersionType = *aux.VersionType
	return nil
}

// NextVersion computes the version a newly registered profile gets, following
// upstream's get_next_profile_version:
//
//   - existing are the versions already registered for the profile's
//     (space, name, drift_type), in any order.
//   - If req.Version is set it selects a range (see below) and only existing
//     versions inside it count.
//   - No counted version: the requested version expanded to three parts
//     ("1" -> "1.0.0", "1.2" -> "1.2.0"), or "0.1.0" when none was requested.
//   - Otherwise the highest counted version is bumped: Major/Minor/Patch as
//     usual (lower parts reset); Pre/Build/PreBuild keep major.minor.patch.
//     The base's own pre-release/build tags are dropped, then pre_tag and
//     build_tag (when non-null) are applied whatever the version type.
//
// Range syntax of req.Version: "1" (1.x.x), "1.2" (1.2.x), "1.2.3" (exactly
// 1.2.3 with any tags), "*" (everything), "1.*", "1.2.*", "~1", "~1.2",
// "~1.2.3" (>= 1.2.3, < 1.3.0), "^1.2.3" (>= 1.2.3, < 1.3.0). Pre-release or
// build suffixes in req.Version are rejected, as upstream does.
//
// Differences from upstream, on purpose: upstream only looks at the 20 most
// recently created matching rows, so the "highest" version can be missed and
// a duplicate version issued; here every given version counts. Inputs that
// made upstream panic ("^1.2", "~") are errors here.
//
// Errors match ErrInvalid (bad request), or are ErrVersionRequired.
func NextVersion(existing []*semver.Version, req *VersionRequest) (*semver.Version, error) {
	if req == nil {
		return nil, ErrVersionRequired
	}
	if !req.VersionType.Valid() {
		return nil, fieldErr("version_request.version_type", fmt.Sprintf("unknown version type %q", string(req.VersionType)))
	}

	candidates := existing
	if req.Version != nil {
		b, err := searchBounds(*req.Version)
		if err != nil {
			return nil, fieldErr("version_request.version", err.Error())
		}
		candidates = candidates[:0:0]
		for _, v := range existing {
			if v != nil && b.contains(v) {
				candidates = append(candidates, v)
			}
		}
	}

	var base *semver.Version
	for _, v := range candidates {
		if v != nil && (base == nil || v.Compare(base) > 0) {
			base = v
		}
	}
	if base == nil {
		if req.Version == nil {
			return semver.New(0, 1, 0, "", ""), nil
		}
		v, err := cleanVersion(*req.Version)
		if err != nil {
			return nil, fieldErr("version_request.version", err.Error())
		}
		return v, nil
	}
	return bump(base, req)
}

func bump(base *semver.Version, req *VersionRequest) (*semver.Version, error) {
	major, minor, patch := base.Major(), base.Minor(), base.Patch()
	switch req.VersionType {
	case Major:
		if major == math.MaxUint64 {
			return nil, fieldErr("version_request.version_type", "major version overflow")
		}
		major, minor, patch = major+1, 0, 0
	case Minor:
		if minor == math.MaxUint64 {
			return nil, fieldErr("version_request.version_type", "minor version overflow")
		}
		minor, patch = minor+1, 0
	case Patch:
		if patch == math.MaxUint64 {
			return nil, fieldErr("version_request.version_type", "patch version overflow")
		}
		patch++
	}
	next := *semver.New(major, minor, patch, "", "")
	var err error
	if req.PreTag != nil {
		if next, err = next.SetPrerelease(*req.PreTag); err != nil {
			return nil, fieldErr("version_request.pre_tag", fmt.Sprintf("invalid pre-release identifier %q: %v", *req.PreTag, err))
		}
	}
	if req.BuildTag != nil {
		if next, err = next.SetMetadata(*req.BuildTag); err != nil {
			return nil, fieldErr("version_request.build_tag", fmt.Sprintf("invalid build metadata %q: %v", *req.BuildTag, err))
		}
	}
	return &next, nil
}

// cleanVersion expands "1" / "1.2" to three parts and parses strictly
// (semver 2.0: no "v" prefix, no leading zeros).
func cleanVersion(s string) (*semver.Version, error) {
	if s == "" {
		return nil, fmt.Errorf("empty version string")
	}
	expanded := s
	if n := len(strings.Split(s, ".")); n < 3 {
		expanded = s + strings.Repeat(".0", 3-n)
	}
	v, err := semver.StrictNewVersion(expanded)
	if err != nil {
		return nil, fmt.Errorf("invalid version %q: %v", s, err)
	}
	return v, nil
}

// rangeOp is the operator character of a requested version range.
type rangeOp int

const (
	opExact rangeOp = iota
	opStar
	opCaret
	opTilde
)

// versionBounds mirrors upstream's VersionBounds plus the SQL it generates:
// a component-wise lower bound (major >= a AND minor >= b AND patch >= c)
// and an upper bound whose shape depends on the number of parts given.
type versionBounds struct {
	lower, upper [3]uint64
	noUpper      bool
	op           rangeOp
	parts        int
}

func (b versionBounds) contains(v *semver.Version) bool {
	m, n, p := v.Major(), v.Minor(), v.Patch()
	if m < b.lower[0] || n < b.lower[1] || p < b.lower[2] {
		return false
	}
	switch {
	case b.noUpper:
		return true
	case b.parts == 1:
		return m < b.upper[0]
	case b.parts == 2 || (b.parts == 3 && (b.op == opTilde || b.op == opCaret)):
		return m == b.upper[0] && n < b.upper[1]
	default:
		return m == b.upper[0] && n == b.upper[1] && p < b.upper[2]
	}
}

func searchBounds(s string) (versionBounds, error) {
	op, mark := opExact, ""
	switch {
	case strings.Contains(s, "*"):
		op, mark = opStar, "*"
	case strings.Contains(s, "^"):
		op, mark = opCaret, "^"
	case strings.Contains(s, "~"):
		op, mark = opTilde, "~"
	}
	cleaned := s
	if mark != "" {
		cleaned = strings.ReplaceAll(s, mark, "")
	}
	var nums []uint64
	for _, part := range strings.Split(cleaned, ".") {
		if part == "" {
			continue
		}
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return versionBounds{}, fmt.Errorf("invalid version %q: part %q is not a number", s, part)
		}
		nums = append(nums, n)
	}
	b := versionBounds{op: op, parts: len(nums)}
	inc := func(n uint64) (uint64, error) {
		if n == math.MaxUint64 {
			return 0, fmt.Errorf("invalid version %q: number too large", s)
		}
		return n + 1, nil
	}
	var err error
	switch {
	case op == opStar && len(nums) == 0:
		b.noUpper = true
		return b, nil
	case (op == opStar || op == opExact || op == opTilde) && len(nums) == 1:
		b.lower = [3]uint64{nums[0], 0, 0}
		b.upper[0], err = inc(nums[0])
	case (op == opStar || op == opExact || op == opTilde) && len(nums) == 2:
		b.lower = [3]uint64{nums[0], nums[1], 0}
		b.upper[0] = nums[0]
		b.upper[1], err = inc(nums[1])
	case (op == opStar || op == opExact) && len(nums) == 3:
		b.lower = [3]uint64{nums[0], nums[1], nums[2]}
		b.upper = [3]uint64{nums[0], nums[1], 0}
		b.upper[2], err = inc(nums[2])
	case (op == opTilde || op == opCaret) && len(nums) >= 3:
		b.lower = [3]uint64{nums[0], nums[1], nums[2]}
		b.upper[0] = nums[0]
		b.upper[1], err = inc(nums[1])
	case op == opCaret:
		return versionBounds{}, fmt.Errorf("invalid version %q: a caret range needs major.minor.patch", s)
	default:
		return versionBounds{}, fmt.Errorf("invalid version %q: want 1 to 3 numeric parts", s)
	}
	if err != nil {
		return versionBounds{}, err
	}
	return b, nil
}
