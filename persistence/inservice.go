package persistence

import (
	"errors"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Whether a line is in service is decided here once, for every reader
// that needs it: the SIP registrar and proxy (sip/auth.go, sip/call.go)
// and the group grain's ring plans (actors/group.go). Keep it one rule.

// InService reports whether l takes registrations and calls: its owner
// exists and is not disabled. A disabled user's lines keep their
// bindings (re-enabling the user makes them ring again at once), but no
// reader may use them while the user is disabled.
func (s *Store) InService(l *dirpb.Line) (bool, error) {
	u, err := s.User(l.GetOwner())
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !u.GetDisabled(), nil
}

// PrimaryLine is user's primary line (dirpb.Line.IsPrimary); nil when
// they have none.
func (s *Store) PrimaryLine(user string) (*dirpb.Line, error) {
	lines, err := s.LinesOf(user)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		if l.IsPrimary() {
			return l, nil
		}
	}
	return nil, nil
}

// RingLine is the number a call group rings user on: their primary line
// while it is InService; "" when they have none or are disabled (the
// group then skips them like a member with no registered phone).
func (s *Store) RingLine(user string) (string, error) {
	l, err := s.PrimaryLine(user)
	if err != nil || l == nil {
		return "", err
	}
	ok, err := s.InService(l)
	if err != nil || !ok {
		return "", err
	}
	return l.GetNumber(), nil
}
