package officehours

import (
	"errors"
	"fmt"
)

// ErrUnknownTimeZone is wrapped by the error Validate returns when the
// schedule's time zone is not an IANA time zone name known to the embedded
// zone database.
var ErrUnknownTimeZone = errors.New("unknown time zone")

// FieldError is a problem with one field of a schedule. Field is the path of
// the field in the JSON shape under the group's "office_hours" key, for
// example office_hours.weekly.mon[1] or office_hours.holidays[0].date.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("officehours: %s: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
