package actors

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

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

// Requester sends a message to a grain anywhere in the cluster and
// returns its reply (cluster.Node.Request, Deps.Request).
type Requester interface {
	Request(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error)
}

// RequestFunc is a function that is a Requester.
type RequestFunc func(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error)

// Request calls f.
func (f RequestFunc) Request(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error) {
	return f(ctx, identity, kind, msg)
}

// Ask sends msg to the grain kind/identity and returns its reply as R: an
// error when the request fails, when the reply is of another type, or
// when it carries a refusal (a *GrainError).
func Ask[R interface {
	proto.Message
	GetError() *actorspb.Error
}](ctx context.Context, to Requester, identity, kind string, msg proto.Message) (R, error) {
	var zero R
	resp, err := to.Request(ctx, identity, kind, msg)
	if err != nil {
		return zero, err
	}
	r, ok := resp.(R)
	if !ok {
		return zero, fmt.Errorf("actors: %s %q answered %T", kind, identity, resp)
	}
	if err := ErrorOf(r.GetError()); err != nil {
		return zero, err
	}
	return r, nil
}
