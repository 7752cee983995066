package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Sentinel errors of Decode.
var (
	// ErrTooLarge: the message exceeds MaxMessageSize.
	ErrTooLarge = errors.New("message too large")
	// ErrMalformed: the message is not JSON, or matches none of the
	// MessageRecord variants, or (tag/trace) a required field is wrong.
	ErrMalformed = errors.New("malformed message")
	// ErrInvalidRecords: some elements of "records" are invalid; the
	// *RecordsError lists them and the Message still holds the valid ones.
	ErrInvalidRecords = errors.New("invalid records")
)

// RecordError describes one invalid element of "records".
type RecordError struct {
	Index int             // position in the "records" array
	Type  RecordType      // variant tag when known, "" otherwise
	Field string          // dotted field path inside the payload, "" for the element itself
	Msg   string          // what is wrong
	Raw   json.RawMessage // the element as received, e.g. for a dead-letter queue
}

// Path is the full location, e.g. "records[3].Spc.value".
func (e RecordError) Path() string {
	var b strings.Builder
	fmt.Fprintf(&b, "records[%d]", e.Index)
	if e.Type != "" {
		b.WriteString(".")
		b.WriteString(string(e.Type))
	}
	if e.Field != "" {
		b.WriteString(".")
		b.WriteString(e.Field)
	}
	return b.String()
}

func (e RecordError) Error() string { return e.Path() + ": " + e.Msg }

// RecordsError lists the invalid elements of a ServerRecords message. It is
// returned together with a Message holding the valid records.
type RecordsError struct {
	Total   int           // length of the "records" array
	Invalid []RecordError // in index order
}

// maxListed bounds how many record errors Error() spells out.
const maxListed = 5

func (e *RecordsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d records invalid: ", len(e.Invalid), e.Total)
	for i, re := range e.Invalid {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Invalid)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(re.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidRecords) true.
func (e *RecordsError) Is(target error) bool { return target == ErrInvalidRecords }

// Indices returns the indices of the invalid records.
func (e *RecordsError) Indices() []int {
	out := make([]int, len(e.Invalid))
	for i, re := range e.Invalid {
		out[i] = re.Index
	}
	return out
}

// jsonKind names the JSON type of a raw value.
func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// expectedName names the JSON type a Go type wants.
func expectedName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	if t == reflect.TypeFor[Time]() {
		return "RFC3339 datetime"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return fmt.Sprintf("%d-bit integer", t.Bits())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return fmt.Sprintf("non-negative %d-bit integer", t.Bits())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return expectedName(t.Elem())
	}
	return t.String()
}

// describe turns an encoding/json error into (field path, message).
func describe(err error) (string, string) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		got, want := te.Value, expectedName(te.Type)
		if got == "bool" {
			got = "boolean"
		}
		if want == "number" && strings.HasPrefix(got, "number ") {
			return te.Field, got + " is out of range"
		}
		return te.Field, "expected " + want + ", got " + got
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "", fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return "", err.Error()
}
