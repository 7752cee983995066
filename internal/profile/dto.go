package profile

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ProfileRequest is the body of POST and PUT /scouter/profile.
type ProfileRequest struct {
	Space            string          `json:"space"`
	DriftType        DriftType       `json:"drift_type"`
	Profile          string          `json:"profile"` // the profile JSON, as a string
	VersionRequest   *VersionRequest `json:"version_request"`
	Active           bool            `json:"active"`
	DeactivateOthers bool            `json:"deactivate_others"`
}

// UnmarshalJSON enforces serde's required keys: space, drift_type and profile
// (version_request may be null or absent, the two flags default to false).
func (r *ProfileRequest) UnmarshalJSON(b []byte) error {
	type plain ProfileRequest
	var aux struct {
		plain
		Space     *string    `json:"space"`
		DriftType *DriftType `json:"drift_type"`
		Profile   *string    `json:"profile"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	switch {
	case aux.Space == nil:
		return fieldErr("space", "required string is missing or null")
	case aux.DriftType == nil:
		return fieldErr("drift_type", "required string is missing or null")
	case aux.Profile == nil:
		return fieldErr("profile", "required string is missing or null")
	}
	*r = ProfileRequest(aux.plain)
	r.Space, r.DriftType, r.Profile = *aux.Space, *aux.DriftType, *aux.Profile
	return nil
}

// RegisteredProfileResponse answers POST /scouter/profile.
type RegisteredProfileResponse struct {
	Space   string `json:"space"`
	Name    string `json:"name"`
	Version string `json:"version"`
	UID     string `json:"uid"`
	Status  string `json:"status"` // always "success"
	Active  bool   `json:"active"`
}

// GetProfileRequest is the query of GET /scouter/profile.
type GetProfileRequest struct {
	Name      string    `json:"name" form:"name"`
	Space     string    `json:"space" form:"space"`
	Version   string    `json:"version" form:"version"`
	DriftType DriftType `json:"drift_type" form:"drift_type"`
}

// GetProfileRequestFromQuery parses and validates the query string. All four
// parameters are required; drift_type is case-insensitive.
func GetProfileRequestFromQuery(q url.Values) (GetProfileRequest, error) {
	var r GetProfileRequest
	var err error
	if r.Name, err = requiredParam(q, "name"); err != nil {
		return r, err
	}
	if r.Space, err = requiredParam(q, "space"); err != nil {
		return r, err
	}
	if r.Version, err = requiredParam(q, "version"); err != nil {
		return r, err
	}
	dt, err := requiredParam(q, "drift_type")
	if err != nil {
		return r, err
	}
	if r.DriftType, err = ParseDriftType(dt); err != nil {
		return r, err
	}
	return r, nil
}

// ProfileStatusRequest is the body of PUT /scouter/profile/status.
type ProfileStatusRequest struct {
	Name             string     `json:"name"`
	Space            string     `json:"space"`
	Version          string     `json:"version"`
	Active           bool       `json:"active"`
	DriftType        *DriftType `json:"drift_type"` // nil: every drift type
	DeactivateOthers bool       `json:"deactivate_others"`
}

// UnmarshalJSON enforces serde's required keys (all but drift_type).
func (r *ProfileStatusRequest) UnmarshalJSON(b []byte) error {
	type plain ProfileStatusRequest
	var aux struct {
		plain
		Name             *string `json:"name"`
		Space            *string `json:"space"`
		Version          *string `json:"version"`
		Active           *bool   `json:"active"`
		DeactivateOthers *bool   `json:"deactivate_others"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{
		{"name", aux.Name == nil}, {"space", aux.Space == nil}, {"version", aux.Version == nil},
		{"active", aux.Active == nil}, {"deactivate_others", aux.DeactivateOthers == nil},
	} {
		if f.missing {
			return fieldErr(f.name, "required field is missing or null")
		}
	}
	*r = ProfileStatusRequest(aux.plain)
	r.Name, r.Space, r.Version = *aux.Name, *aux.Space, *aux.Version
	r.Active, r.DeactivateOthers = *aux.Active, *aux.DeactivateOthers
	return nil
}

// ListProfilesRequest is the body of POST /scouter/profiles.
type ListProfilesRequest struct {
	Space   string `json:"space"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// UnmarshalJSON enforces that all three keys are present.
func (r *ListProfilesRequest) UnmarshalJSON(b []byte) error {
	var aux struct {
		Space   *string `json:"space"`
		Name    *string `json:"name"`
		Version *string `json:"version"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	switch {
	case aux.Space == nil:
		return fieldErr("space", "required string is missing or null")
	case aux.Name == nil:
		return fieldErr("name", "required string is missing or null")
	case aux.Version == nil:
		return fieldErr("version", "required string is missing or null")
	}
	*r = ListProfilesRequest{Space: *aux.Space, Name: *aux.Name, Version: *aux.Version}
	return nil
}

// ListedProfile is one element of the POST /scouter/profiles answer; Profile
// marshals as the externally tagged DriftProfile.
type ListedProfile struct {
	Profile *Profile `json:"profile"`
	Active  bool     `json:"active"`
}

// DriftRequest is the query of GET /scouter/drift/{spc,psi,custom,genai/*}.
type DriftRequest struct {
	UID                 string       `json:"uid" form:"uid"`
	Space               string       `json:"space" form:"space"`
	TimeInterval        TimeInterval `json:"time_interval" form:"time_interval"`
	MaxDataPoints       int32        `json:"max_data_points" form:"max_data_points"`
	StartCustomDatetime *time.Time   `json:"start_custom_datetime" form:"start_custom_datetime"`
	EndCustomDatetime   *time.Time   `json:"end_custom_datetime" form:"end_custom_datetime"`
}

// DriftRequestFromQuery parses and validates the query string: uid, space and
// max_data_points (> 0) are required; time_interval defaults to FourHours; the
// optional custom datetimes accept any RFC3339 value (empty = absent) and,
// when both are given, start must be before end.
func DriftRequestFromQuery(q url.Values) (DriftRequest, error) {
	var r DriftRequest
	var err error
	if r.UID, err = requiredParam(q, "uid"); err != nil {
		return r, err
	}
	if r.Space, err = requiredParam(q, "space"); err != nil {
		return r, err
	}
	if r.TimeInterval, err = ParseTimeInterval(q.Get("time_interval")); err != nil {
		return r, err
	}
	mdp, err := requiredParam(q, "max_data_points")
	if err != nil {
		return r, err
	}
	n, err := strconv.ParseInt(mdp, 10, 32)
	if err != nil {
		return r, fieldErr("max_data_points", fmt.Sprintf("expected a 32-bit integer, got %q", mdp))
	}
	r.MaxDataPoints = int32(n)
	for _, p := range []struct {
		key string
		dst **time.Time
	}{{"start_custom_datetime", &r.StartCustomDatetime}, {"end_custom_datetime", &r.EndCustomDatetime}} {
		s := q.Get(p.key)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return r, fieldErr(p.key, fmt.Sprintf("expected an RFC3339 datetime, got %q", s))
		}
		t = t.UTC()
		*p.dst = &t
	}
	return r, r.Validate()
}

// Validate checks the invariants DriftRequestFromQuery enforces, for requests
// built another way (e.g. by a framework binder).
func (r DriftRequest) Validate() error {
	switch {
	case r.UID == "":
		return fieldErr("uid", "required")
	case r.Space == "":
		return fieldErr("space", "required")
	case !r.TimeInterval.Valid():
		return fieldErr("time_interval", fmt.Sprintf("unknown time interval %q", string(r.TimeInterval)))
	case r.MaxDataPoints <= 0:
		return fieldErr("max_data_points", fmt.Sprintf("must be > 0, got %d", r.MaxDataPoints))
	case r.StartCustomDatetime != nil && r.EndCustomDatetime != nil && !r.StartCustomDatetime.Before(*r.EndCustomDatetime):
		return fieldErr("start_custom_datetime", "must be before end_custom_datetime")
	case r.TimeInterval == CustomInterval && (r.StartCustomDatetime == nil || r.EndCustomDatetime == nil):
		return fieldErr("time_interval", "Custom needs start_custom_datetime and end_custom_datetime")
	}
	return nil
}

// Window returns the query window: the custom range when both bounds are set
// (it wins over time_interval), otherwise [now - interval, now). A Custom
// interval without both bounds is an error, as upstream.
func (r DriftRequest) Window(now time.Time) (start, end time.Time, err error) {
	if r.StartCustomDatetime != nil && r.EndCustomDatetime != nil {
		return r.StartCustomDatetime.UTC(), r.EndCustomDatetime.UTC(), nil
	}
	m := r.TimeInterval.Minutes()
	if m <= 0 {
		return time.Time{}, time.Time{}, fieldErr("time_interval", fmt.Sprintf("%q needs start_custom_datetime and end_custom_datetime", string(r.TimeInterval)))
	}
	end = now.UTC()
	return end.Add(-time.Duration(m) * time.Minute), end, nil
}

func requiredParam(q url.Values, key string) (string, error) {
	v := q.Get(key)
	if v == "" {
		return "", fieldErr(key, "required query parameter is missing")
	}
	return v, nil
}
