package profileapi

import (
	"errors"
	"fmt"

	"github.com/scoutergo/server/internal/profile"
)

// Sentinel errors of the profile service; match them with errors.Is. The
// HTTP edge maps each to upstream's status and message.
var (
	// ErrPermissionDenied: the caller lacks read or write on the space.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrInvalidProfile: the profile string is not a valid profile of the
	// requested drift type (bad JSON, a bad field, a bad cron schedule).
	// The chain holds a *profile.FieldError naming the field.
	ErrInvalidProfile = errors.New("invalid drift profile")
	// ErrInvalidVersion: version_request cannot be applied (bad version
	// string or tag, or a version part too large to store).
	ErrInvalidVersion = errors.New("invalid version request")
	// ErrVersionRequired: the registration carries no version_request.
	ErrVersionRequired = profile.ErrVersionRequired
	// ErrNotFound: no stored profile matches the request.
	ErrNotFound = errors.New("drift profile not found")
	// ErrUnknownUID: an update names a config.uid no entity has.
	ErrUnknownUID = errors.New("unknown profile uid")
	// ErrNoProfiles: a list request matched nothing.
	ErrNoProfiles = errors.New("no drift profiles found")
)

// UnknownUIDError is ErrUnknownUID for one uid.
type UnknownUIDError struct{ UID string }

func (e *UnknownUIDError) Error() string { return fmt.Sprintf("no profile with uid %q", e.UID) }

// Is makes errors.Is(err, ErrUnknownUID) true.
func (e *UnknownUIDError) Is(target error) bool { return target == ErrUnknownUID }

// Step names the storage step that failed unexpectedly (a database error,
// not a missing row).
type Step string

// The storage steps whose failures the edge reports with upstream's
// prefixed messages.
const (
	StepEntityByUID    Step = "get entity by uid"
	StepEntityByKey    Step = "get entity by space, name, version, drift_type"
	StepQueryProfile   Step = "query profile"
	StepInsertProfile  Step = "insert profile"
	StepUpdateProfile  Step = "update profile"
	StepUpdateStatus   Step = "update profile status"
	StepStoredProfiles Step = "decode stored profile"
)

// StepError is an unexpected storage failure in Step.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// FailedStep returns the step of a StepError in err's chain.
func FailedStep(err error) (Step, bool) {
	var se *StepError
	if errors.As(err, &se) {
		return se.Step, true
	}
	return "", false
}

func stepErr(step Step, err error) error { return &StepError{Step: step, Err: err} }

// orStep returns err as is when it already says what went wrong (a
// StepError, an InputError, a sentinel of this package, a context error),
// else wrapped as a failure of step (e.g. the transaction could not begin).
func orStep(step Step, err error) error {
	var (
		se *StepError
		ie *InputError
	)
	switch {
	case err == nil, errors.As(err, &se), errors.As(err, &ie),
		errors.Is(err, ErrVersionRequired), errors.Is(err, ErrNotFound), errors.Is(err, ErrUnknownUID),
		errors.Is(err, ErrPermissionDenied), errors.Is(err, ErrInvalidProfile), errors.Is(err, ErrInvalidVersion):
		return err
	}
	return stepErr(step, err)
}

// InputError is a client mistake: Kind is ErrInvalidProfile or
// ErrInvalidVersion, Err says what is wrong (usually a *profile.FieldError).
type InputError struct {
	Kind error
	Err  error
}

func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap exposes both the kind and the cause to errors.Is/As.
func (e *InputError) Unwrap() []error { return []error{e.Kind, e.Err} }

func invalidProfile(err error) error { return &InputError{Kind: ErrInvalidProfile, Err: err} }

func invalidVersion(err error) error { return &InputError{Kind: ErrInvalidVersion, Err: err} }
