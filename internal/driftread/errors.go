package driftread

import "errors"

// Sentinel errors of this package; match them with errors.Is. The HTTP edge
// maps each to one status and message.
var (
	// ErrInvalid: the request itself is wrong (bad query parameter,
	// inverted custom window). The error text names the field.
	ErrInvalid = errors.New("invalid request")
	// ErrPermissionDenied: the caller may not read the requested space.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrEntityNotFound: no entity (profile) has the requested uid.
	ErrEntityNotFound = errors.New("entity not found")
	// ErrEntityLookup: resolving the uid failed for another reason.
	ErrEntityLookup = errors.New("entity lookup failed")
	// ErrNoProfile: the entity has no stored profile of the needed kind
	// (the PSI read needs the profile's reference bins).
	ErrNoProfile = errors.New("no profile found")
	// ErrNoTagWriter: POST /scouter/tags was called but no tag writer is
	// configured.
	ErrNoTagWriter = errors.New("tag storage is not configured")
)
