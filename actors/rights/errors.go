package rights

import (
	"errors"
	"fmt"
)

// ErrPresetLocked is returned by CheckUserGrant when an administrator has
// preset individual rights for the pair: only an administrator may then
// change what the target grants the viewer.
var ErrPresetLocked = errors.New("rights: an administrator preset individual rights for this viewer; only an administrator can change them")

// UnknownNameError reports a name that is not in the catalogue.
type UnknownNameError struct {
	Kind string // "level", "right", "field" or "service"
	Name string
}

func (e *UnknownNameError) Error() string {
	return fmt.Sprintf("rights: unknown %s %q", e.Kind, e.Name)
}

// BadValueError reports a value a right cannot take: a grade name for a
// boolean right, true/false or an unknown grade for a graded one.
type BadValueError struct {
	Right string
	Value string
}

func (e *BadValueError) Error() string {
	r, err := ParseRight(e.Right)
	if err == nil && r.Graded() {
		return fmt.Sprintf("rights: %s takes one of %q, not %s", e.Right, r.Grades(), e.Value)
	}
	return fmt.Sprintf("rights: %s takes true or false, not %s", e.Right, e.Value)
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%v", v)
}
