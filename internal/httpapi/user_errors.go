package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/user"
)

// failedOpMessages are upstream's 500 messages per failed storage step.
var failedOpMessages = map[user.Op]string{
	user.OpGetUser:           "Failed to get user",
	user.OpListUsers:         "Failed to list users",
	user.OpCreateUser:        "Failed to create user",
	user.OpUpdateUser:        "Failed to update user",
	user.OpDeleteUser:        "Failed to delete user",
	user.OpCheckAdmin:        "Failed to check admin status",
	user.OpStoreRefreshToken: "Failed to refresh token",
}

// userError is the one mapping of the user service's errors to handler
// responses ({"error": msg}) of the /auth and /user routes. Errors it does not
// know pass through to WriteError (500, or 499/503 for a context error).
func userError(err error) error {
	var rl *user.RateLimitError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &rl):
		return Wrap(http.StatusTooManyRequests,
			fmt.Sprintf("Too many failed login attempts, retry after %d seconds", retryAfterSeconds(rl)), err)
	case errors.Is(err, user.ErrInvalidInput):
		var ie *user.InputError
		if errors.As(err, &ie) {
			return Wrap(http.StatusUnprocessableEntity, "Invalid field "+ie.Error(), err)
		}
		return Wrap(http.StatusUnprocessableEntity, "Invalid input", err)
	case errors.Is(err, user.ErrNeedAdmin):
		return Wrap(http.StatusForbidden, "Need admin permission", err)
	case errors.Is(err, user.ErrPermissionDenied):
		return Wrap(http.StatusForbidden, "Permission denied", err)
	case errors.Is(err, user.ErrLastAdmin):
		return Wrap(http.StatusForbidden, "Cannot delete the last admin user", err)
	case errors.Is(err, user.ErrNotFound):
		return Wrap(http.StatusNotFound, "User not found", err)
	case errors.Is(err, user.ErrExists):
		return Wrap(http.StatusConflict, "User already exists", err)
	case errors.Is(err, user.ErrEmailTaken):
		return Wrap(http.StatusConflict, "Email already in use", err)
	case errors.Is(err, user.ErrInvalidCredentials):
		return Wrap(http.StatusUnauthorized, "Unauthorized", err)
	case errors.Is(err, user.ErrInvalidToken):
		return Wrap(http.StatusUnauthorized, "Failed to decode JWT token", err)
	}
	if op, ok := user.FailedOp(err); ok {
		if msg, ok := failedOpMessages[op]; ok {
			return Wrap(http.StatusInternalServerError, msg, err)
		}
	}
	return err
}

// writeUserError writes the response for a user service error, with a
// Retry-After header when the caller is rate limited.
func writeUserError(c *gin.Context, err error) {
	var rl *user.RateLimitError
	if errors.As(err, &rl) {
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds(rl)))
	}
	WriteError(c, userError(err))
}

func retryAfterSeconds(rl *user.RateLimitError) int {
	return max(1, int(math.Ceil(rl.RetryAfter.Seconds())))
}

// Auth-middleware rejections (§3.4).
const (
	authMsgNoAccessToken      = "No access token provided"
	authMsgInvalidTokenFormat = "Invalid token format"
	authMsgUserNotFound       = "User not found"
	authMsgNoRefreshToken     = "No refresh token found"
)

// abortAuthError is the one mapping of Authenticate's errors to the auth
// middleware's responses: 401 {"error":"Unauthorized","message":...}, or 500
// {"error":"Server Error","message":"Failed to update refresh token"} when the
// refresh could not be completed.
func abortAuthError(c *gin.Context, err error) {
	_ = c.Error(err) // for the access log
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		WriteError(c, err)
	case errors.Is(err, user.ErrInvalidToken):
		AbortUnauthorized(c, authMsgInvalidTokenFormat)
	case errors.Is(err, user.ErrNotFound):
		AbortUnauthorized(c, authMsgUserNotFound)
	case errors.Is(err, user.ErrRefreshTokenMissing), errors.Is(err, user.ErrRefreshTokenInvalid):
		AbortUnauthorized(c, authMsgNoRefreshToken)
	default:
		c.AbortWithStatusJSON(http.StatusInternalServerError,
			AuthErrorResponse{Error: "Server Error", Message: "Failed to update refresh token"})
	}
}
