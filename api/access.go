package api

import (
	"errors"
	"fmt"
	"maps"

	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/persistence"
)

// access is what an event stream was opened with; the stream lasts while
// it holds (accessHolds).
type access struct {
	user         string
	passwordHash string
	systemRole   string
	// groups are the user's roles by group.
	groups map[string]string
	// token is the bearer token of the request ("" for Basic or a
	// ticket); parent the SHA-256 of the token a ticket was made from.
	token  string
	parent []byte
}

// accessOf records the access of c (parent: see access.parent).
func (h *Handler) accessOf(c *caller, parent []byte) (access, error) {
	groups, err := h.groupRoles(c.id())
	if err != nil {
		return access{}, err
	}
	return access{user: c.id(), passwordHash: c.user.GetPasswordHash(), systemRole: c.user.GetSystemRole(),
		groups: groups, token: c.token, parent: parent}, nil
}

// groupRoles are user's roles by group: as a member, and as leader or
// deputy (keyed "GROUP/lead").
func (h *Handler) groupRoles(user string) (map[string]string, error) {
	ms, err := h.store.GroupsOf(user)
	if err != nil {
		return nil, err
	}
	leads, err := h.store.GroupsLedBy(user)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ms)+len(leads))
	for _, m := range ms {
		out[m.Group] = m.Role
	}
	for _, m := range leads {
		out[m.Group+"/lead"] = m.Role
	}
	return out, nil
}

// Reasons an event stream ends because access ended: the label values
// of ucgrid_api_streams_ended_total (a fixed set).
const (
	endDisabled     = "disabled"
	endDeleted      = "deleted"
	endPassword     = "password"
	endRoles        = "roles"
	endToken        = "token_revoked"
	endTicketParent = "ticket_parent_revoked"
	endCheckFailed  = "check_failed"
)

// endReasons lists every reason, to set up the counter's series.
var endReasons = []string{endDisabled, endDeleted, endPassword, endRoles, endToken, endTicketParent, endCheckFailed}

// errAccessChanged tells why a stream's access no longer holds.
var errAccessChanged = errors.New("api: access changed")

// accessEnded is an errAccessChanged with its reason (one of endReasons).
type accessEnded struct {
	reason string
	err    error
}

func (e *accessEnded) Error() string {
	return fmt.Sprintf("%v: %s: %v", errAccessChanged, e.reason, e.err)
}

func (e *accessEnded) Is(target error) bool { return target == errAccessChanged }

func ended(reason string, err error) error { return &accessEnded{reason: reason, err: err} }

// endReason is the reason of an error from accessHolds.
func endReason(err error) string {
	var ae *accessEnded
	if errors.As(err, &ae) {
		return ae.reason
	}
	return endCheckFailed
}

// accessHolds checks a against this node's directory: the user exists,
// is enabled, has the same password, system role and group roles, and
// the token is live. A read error counts as a change (fail closed). The
// error is an *accessEnded naming why.
func (h *Handler) accessHolds(a access) error {
	now := h.cfg.Now()
	switch {
	case a.token != "":
		if _, err := h.auth.tokens.Check(a.token, now); err != nil {
			return ended(tokenReason(endToken, err), err)
		}
	case a.parent != nil:
		if _, err := h.auth.tokens.CheckDigest(a.parent, now); err != nil {
			return ended(tokenReason(endTicketParent, err), err)
		}
	}
	u, err := h.store.User(a.user)
	if errors.Is(err, persistence.ErrNotFound) {
		return ended(endDeleted, err)
	}
	if err != nil {
		return ended(endCheckFailed, err)
	}
	switch {
	case u.Disabled:
		return ended(endDisabled, errors.New("user disabled"))
	case u.PasswordHash != a.passwordHash:
		return ended(endPassword, errors.New("password changed"))
	case u.SystemRole != a.systemRole:
		return ended(endRoles, errors.New("system role changed"))
	}
	groups, err := h.groupRoles(a.user)
	if err != nil {
		return ended(endCheckFailed, err)
	}
	if !maps.Equal(groups, a.groups) {
		return ended(endRoles, errors.New("group roles changed"))
	}
	return nil
}

// tokenReason is reason for a token that ended (revoked or expired, or
// dropped with its user), endCheckFailed for a read error.
func tokenReason(reason string, err error) string {
	if errors.Is(err, tokens.ErrUnknown) {
		return reason
	}
	return endCheckFailed
}
