package profile

import "errors"

// ErrInvalid marks every validation failure of client input in this package
// (bad profile JSON, unknown drift type, bad version request). Match it with
// errors.Is; the concrete error is usually a *FieldError naming the field.
var ErrInvalid = errors.New("invalid input")

// ErrVersionRequired is returned by NextVersion when the request carries no
// version_request (upstream answers 400 "Version request is required").
var ErrVersionRequired = errors.New("version request is required")

// FieldError says which field of the input is wrong and why.
type FieldError struct {
	Field string // dotted path, e.g. "config.alert_config.rule.rule"
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func fieldErr(field, msg string) *FieldError { return &FieldError{Field: field, Msg: msg} }
