package user

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the user service. Each edge (HTTP, gRPC) maps them to its
// status codes and upstream's messages in exactly one place.
var (
	// ErrNotFound: no user with that name.
	ErrNotFound = errors.New("user not found")
	// ErrExists: a user with that name already exists.
	ErrExists = errors.New("user already exists")
	// ErrEmailTaken: another user already has that email (the column is unique).
	ErrEmailTaken = errors.New("email already in use")
	// ErrNeedAdmin: the operation needs group permission "admin".
	ErrNeedAdmin = errors.New("need admin permission")
	// ErrPermissionDenied: the caller is neither an admin nor the user concerned.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrLastAdmin: the delete would remove the only user with role "admin".
	ErrLastAdmin = errors.New("cannot delete the last admin user")
	// ErrInvalidCredentials: wrong password (or an unusable stored hash).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrInvalidInput: a field of a create or update request is unusable; the
	// concrete error is an *InputError naming the field.
	ErrInvalidInput = errors.New("invalid input")
	// ErrInvalidToken: the access token is malformed, signed with another key
	// or algorithm, or misses a claim.
	ErrInvalidToken = errors.New("invalid token")
	// ErrTokenExpired: the access token is valid but expired (Validate only;
	// Authenticate refreshes instead).
	ErrTokenExpired = errors.New("token expired")
	// ErrRefreshTokenMissing: a transparent refresh found no stored refresh token.
	ErrRefreshTokenMissing = errors.New("no refresh token stored")
	// ErrRefreshTokenInvalid: the stored refresh token is expired or invalid.
	ErrRefreshTokenInvalid = errors.New("stored refresh token is invalid")
	// ErrRateLimited: too many failed logins; the error is a *RateLimitError.
	ErrRateLimited = errors.New("too many failed login attempts")
)

// InputError names the request field that is unusable and why.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// RateLimitError is returned by Login while the username or the client
// address is locked out.
type RateLimitError struct {
	RetryAfter time.Duration // always > 0
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%s: retry in %s", ErrRateLimited, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Op names the storage step that failed; edges turn it into upstream's
// "Failed to ..." messages.
type Op string

// Storage steps.
const (
	OpGetUser           Op = "get user"
	OpListUsers         Op = "list users"
	OpCreateUser        Op = "create user"
	OpUpdateUser        Op = "update user"
	OpDeleteUser        Op = "delete user"
	OpCheckAdmin        Op = "check admin status"
	OpStoreRefreshToken Op = "store refresh token"
	OpIssueToken        Op = "issue token"
)

// OpError is an unexpected failure (database, randomness) during step Op.
type OpError struct {
	Op  Op
	Err error
}

func (e *OpError) Error() string { return string(e.Op) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op Op, err error) error { return &OpError{Op: op, Err: err} }

// FailedOp returns the step of the first *OpError in err's chain.
func FailedOp(err error) (Op, bool) {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Op, true
	}
	return "", false
}
