package api

import (
	"errors"
	"fmt"
	"maps"
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

// errAccessChanged tells why a stream's access no longer holds.
var errAccessChanged = errors.New("api: access changed")

// accessHolds checks a against this node's directory: the user exists,
// is enabled, has the same password, system role and group roles, and
// the token is live. A read error counts as a change (fail closed).
func (h *Handler) accessHolds(a access) error {
	now := h.cfg.Now()
	switch {
	case a.token != "":
		if _, err := h.auth.tokens.Check(a.token, now); err != nil {
			return fmt.Errorf("%w: token: %w", errAccessChanged, err)
		}
	case a.parent != nil:
		if _, err := h.auth.tokens.CheckDigest(a.parent, now); err != nil {
			return fmt.Errorf("%w: ticket's token: %w", errAccessChanged, err)
		}
	}
	u, err := h.store.User(a.user)
	if err != nil {
		return fmt.Errorf("%w: user: %w", errAccessChanged, err)
	}
	switch {
	case u.Disabled:
		return fmt.Errorf("%w: user disabled", errAccessChanged)
	case u.PasswordHash != a.passwordHash:
		return fmt.Errorf("%w: password", errAccessChanged)
	case u.SystemRole != a.systemRole:
		return fmt.Errorf("%w: system role", errAccessChanged)
	}
	groups, err := h.groupRoles(a.user)
	if err != nil {
		return fmt.Errorf("%w: groups: %w", errAccessChanged, err)
	}
	if !maps.Equal(groups, a.groups) {
		return fmt.Errorf("%w: group roles", errAccessChanged)
	}
	return nil
}
