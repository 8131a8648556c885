package actors

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// A refusal that crossed the wire matches its code's sentinel through any
// wrapping, and only that one; a code this node does not know (a newer
// node's) is an internal failure, never a not-found or a permission.
func TestErrorOf_MatchesTheSentinelOfItsCode(t *testing.T) {
	all := []error{ErrForbidden, ErrInvalid, ErrNotFound, ErrUnavailable, ErrInternal}
	for code, want := range map[string]error{
		CodeForbidden: ErrForbidden, CodeInvalid: ErrInvalid, CodeNotFound: ErrNotFound,
		CodeUnavailable: ErrUnavailable, CodeInternal: ErrInternal, "quota_exceeded": ErrInternal,
	} {
		err := fmt.Errorf("asking: %w", ErrorOf(&actorspb.Error{Code: code, Message: "m"}))
		for _, sentinel := range all {
			if got := errors.Is(err, sentinel); got != (sentinel == want) {
				t.Errorf("code %q: errors.Is(%v) = %v", code, sentinel, got)
			}
		}
		var ge *GrainError
		if !errors.As(err, &ge) || ge.Code != code || ge.Message != "m" {
			t.Errorf("code %q: %#v", code, ge)
		}
	}
	if ErrorOf(nil) != nil {
		t.Error("no refusal is an error")
	}
}
