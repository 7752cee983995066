package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// ErrorResponse is the body of every handler error: {"error": "<message>"}.
type ErrorResponse struct {
	Error string `json:"error"`
}

// AuthErrorResponse is the body of auth-middleware rejections:
// {"error": "Unauthorized", "message": "<detail>"}.
type AuthErrorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// AbortUnauthorized stops the request with 401 and the auth-middleware body.
func AbortUnauthorized(c *gin.Context, detail string) {
	c.AbortWithStatusJSON(http.StatusUnauthorized, AuthErrorResponse{Error: "Unauthorized", Message: detail})
}

// StatusError is an error that knows its HTTP status and the message the
// client may see. WriteError looks for it anywhere in the error chain, so
// wrapping with fmt.Errorf("...: %w", err) keeps it intact. *Error is the
// usual implementation; a domain package may implement it too without
// importing this package.
type StatusError interface {
	error
	HTTPStatus() int
	PublicMessage() string
}

var _ StatusError = (*Error)(nil)

// Error carries an HTTP status, the client-facing message and the cause.
// The cause is logged and matched by errors.Is/As but never sent.
type Error struct {
	Status  int
	Message string
	Err     error
}

// NewError returns an error answered with status and {"error": msg}.
func NewError(status int, msg string) *Error {
	return &Error{Status: status, Message: msg}
}

// Wrap returns an error answered with status and {"error": msg}, keeping
// cause for the log and for errors.Is/As.
func Wrap(status int, msg string, cause error) *Error {
	return &Error{Status: status, Message: msg, Err: cause}
}

// Errorf formats the client-facing message like fmt.Errorf; a %w operand
// stays matchable with errors.Is/As. Use it for upstream's prefixed messages:
//
//	httpapi.Errorf(http.StatusInternalServerError, "Failed to query records: %w", err)
func Errorf(status int, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Status: status, Message: err.Error(), Err: err}
}

// Error returns the message and, when it adds anything, the cause.
func (e *Error) Error() string {
	if e.Err == nil || e.Err.Error() == e.Message {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus returns the response status.
func (e *Error) HTTPStatus() int { return e.Status }

// PublicMessage returns the message sent to the client.
func (e *Error) PublicMessage() string { return e.Message }

// StatusClientClosedRequest is the non-standard status for a request whose
// client went away (nginx's 499, also used by upstream).
const StatusClientClosedRequest = 499

// WriteError is the one place that turns an error into an HTTP response.
// It aborts the chain, writes {"error": msg} and records err for the access
// log. The mapping, first match wins:
//
//   - *http.MaxBytesError            → 413 "Request body too large (limit N bytes)"
//   - a StatusError in the chain     → its HTTPStatus() and PublicMessage()
//   - context.Canceled               → 499 "Client closed request"
//   - context.DeadlineExceeded       → 503 "Request timed out"
//   - anything else                  → 500 "Internal server error" (details only in the log)
//
// Domain sentinels (db.ErrNotFound, ...) are not mapped here because
// upstream's message for them differs per route; handlers wrap them with
// Wrap/Errorf/NewError, choosing the exact upstream text.
func WriteError(c *gin.Context, err error) {
	if err == nil {
		err = errors.New("httpapi: WriteError called with a nil error")
	}
	status, msg := classify(err)
	_ = c.Error(err) // never fails for a non-nil error; read by the access log
	c.AbortWithStatusJSON(status, ErrorResponse{Error: msg})
}

func classify(err error) (int, string) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge, tooLargeMessage(tooLarge.Limit)
	}
	var se StatusError
	if errors.As(err, &se) {
		status := se.HTTPStatus()
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		return status, se.PublicMessage()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest, "Client closed request"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "Request timed out"
	}
	return http.StatusInternalServerError, "Internal server error"
}

func tooLargeMessage(limit int64) string {
	return fmt.Sprintf("Request body too large (limit %d bytes)", limit)
}
