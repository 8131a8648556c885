package actors

import (
	"errors"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// The codes of a grain's refusal (actorspb.Error.code). They cross the
// wire between nodes, so a code, once used, keeps its spelling.
const (
	CodeForbidden   = "forbidden"   // the viewer may not do or see this
	CodeInvalid     = "invalid"     // the request is malformed
	CodeNotFound    = "not_found"   // no such record in the directory
	CodeUnavailable = "unavailable" // try again: the directory is behind or refused the write
	CodeInternal    = "internal"    // the grain failed (the directory could not be read)
)

// The errors a GrainError matches with errors.Is, one per code; an unknown
// code (from a newer node) matches ErrInternal.
var (
	ErrForbidden   = errors.New("actors: forbidden")
	ErrInvalid     = errors.New("actors: invalid")
	ErrNotFound    = errors.New("actors: not found")
	ErrUnavailable = errors.New("actors: unavailable")
	ErrInternal    = errors.New("actors: internal")
)

var codeErrors = map[string]error{
	CodeForbidden: ErrForbidden, CodeInvalid: ErrInvalid, CodeNotFound: ErrNotFound,
	CodeUnavailable: ErrUnavailable, CodeInternal: ErrInternal,
}

// GrainError is a refusal from a grain.
type GrainError struct {
	Code    string // one of the Code constants
	Message string
}

func (e *GrainError) Error() string { return "actors: " + e.Code + ": " + e.Message }

// Is matches the sentinel of e's code: errors.Is(err, actors.ErrNotFound).
func (e *GrainError) Is(target error) bool {
	base, ok := codeErrors[e.Code]
	if !ok {
		base = ErrInternal
	}
	return target == base
}

// ErrorOf is the Go error of a reply's refusal, nil when there is none.
func ErrorOf(e *actorspb.Error) error {
	if e == nil {
		return nil
	}
	return &GrainError{Code: e.GetCode(), Message: e.GetMessage()}
}

// refusal is a reply's refusal with code and message.
func refusal(code, message string) *actorspb.Error {
	return &actorspb.Error{Code: code, Message: message}
}

// errDirectory is the refusal of a grain that could not read the
// directory.
func errDirectory() *actorspb.Error { return refusal(CodeInternal, "directory unavailable") }
