package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
)

// Validator is implemented by request DTOs that check themselves after
// decoding (required fields, ranges). BindJSON calls it.
type Validator interface {
	Validate() error
}

// BindJSON decodes the request body into dst (a pointer) and, when dst is a
// Validator, validates it. On failure it writes the error response itself
// and returns false; the handler then just returns:
//
//	var req CreateUserRequest
//	if !httpapi.BindJSON(c, &req) {
//		return
//	}
//
// Statuses, with {"error": "..."} bodies:
//   - 415 when a Content-Type header is present and is not JSON
//     (application/json or application/*+json). A missing header is
//     accepted: upstream's clients always send it, and curl users who forget
//     it get a useful answer instead of a refusal.
//   - 413 when the body exceeds the router's limit.
//   - 400 for an empty body, malformed JSON or trailing data.
//   - 422 for a well-formed body of the wrong shape (the message names the
//     field, as "a.b"), an error from a custom UnmarshalJSON (bad enum), or
//     a Validate error. A Validate error that is a StatusError keeps its own
//     status.
//
// Unknown fields are ignored, as upstream (serde's default).
func BindJSON(c *gin.Context, dst any) bool {
	if ct := c.GetHeader("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		bindFail(c, http.StatusUnsupportedMediaType,
			"Expected request with `Content-Type: application/json`", fmt.Errorf("content type %q", ct))
		return false
	}
	body := &readTracker{r: c.Request.Body}
	if c.Request.Body == nil {
		body.r = http.NoBody
	}
	dec := json.NewDecoder(body)
	if err := dec.Decode(dst); err != nil {
		writeDecodeError(c, body.err, err)
		return false
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if body.err != nil {
			writeDecodeError(c, body.err, err)
			return false
		}
		bindFail(c, http.StatusBadRequest, "Invalid JSON body: trailing data after the JSON value", err)
		return false
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			var se StatusError
			if errors.As(err, &se) {
				WriteError(c, err)
				return false
			}
			bindFail(c, http.StatusUnprocessableEntity, err.Error(), err)
			return false
		}
	}
	return true
}

func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	if mt == "application/json" {
		return true
	}
	return strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// readTracker remembers the first read error that is not io.EOF, so a
// failing body (too large, client gone) is told apart from bad JSON.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}

func writeDecodeError(c *gin.Context, readErr, err error) {
	var (
		tooLarge   *http.MaxBytesError
		syntaxErr  *json.SyntaxError
		typeErr    *json.UnmarshalTypeError
		invalidErr *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(readErr, &tooLarge):
		bindFail(c, http.StatusRequestEntityTooLarge, tooLargeMessage(tooLarge.Limit), readErr)
	case readErr != nil:
		bindFail(c, http.StatusBadRequest, "Failed to read the request body", readErr)
	case errors.Is(err, io.EOF):
		bindFail(c, http.StatusBadRequest, "Request body is empty", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		bindFail(c, http.StatusBadRequest, "Invalid JSON body: unexpected end of input", err)
	case errors.As(err, &syntaxErr):
		bindFail(c, http.StatusBadRequest,
			fmt.Sprintf("Invalid JSON body: %s (at byte %d)", syntaxErr.Error(), syntaxErr.Offset), err)
	case errors.As(err, &typeErr):
		want, got := jsonKind(typeErr.Type), typeErr.Value
		msg := fmt.Sprintf("Invalid type for field %q: expected %s, got %s", typeErr.Field, want, got)
		if typeErr.Field == "" {
			msg = fmt.Sprintf("Invalid JSON body: expected %s, got %s", want, got)
		}
		bindFail(c, http.StatusUnprocessableEntity, msg, err)
	case errors.As(err, &invalidErr):
		// dst is not a non-nil pointer: a programming error.
		WriteError(c, fmt.Errorf("bind json: %w", err))
	default:
		// Errors returned by a custom UnmarshalJSON (unknown enum value...).
		bindFail(c, http.StatusUnprocessableEntity, "Invalid JSON body: "+err.Error(), err)
	}
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	default:
		return t.String()
	}
}

func bindFail(c *gin.Context, status int, msg string, cause error) {
	WriteError(c, Wrap(status, msg, cause))
}
