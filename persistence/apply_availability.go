package persistence

import (
	"slices"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// setMemberAvailability logs user in to or out of the calls of the listed
// groups, or of every group they are a member of when groups is empty. A
// listed group user is not a member of is rejected (not found) and nothing
// changes. Only the member's logged_out flag changes: the group record is
// read at this index, so a concurrent PutGroup and this command cannot
// undo each other (putGroup carries logged_out over).
func (t *txn) setMemberAvailability(m *dirpb.SetMemberAvailability) error {
	user := m.GetUser()
	if err := checkID("user", user); err != nil {
		return err
	}
	if _, err := t.user(user); err != nil {
		return err
	}
	groups := m.GetGroups()
	if len(groups) == 0 {
		all, err := t.ids(prefix(tUserGroups, user))
		if err != nil {
			return err
		}
		groups = all
	}
	changed := make([]*dirpb.Group, 0, len(groups))
	for _, id := range groups {
		if err := checkID("group id", id); err != nil {
			return err
		}
		g, err := t.group(id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(g.Members, func(mb *dirpb.Member) bool { return mb.User == user })
		if i < 0 {
			return notFoundf("user %q is not a member of group %q", user, id)
		}
		if g.Members[i].LoggedOut != !m.GetLoggedIn() {
			g.Members[i].LoggedOut = !m.GetLoggedIn()
			changed = append(changed, g)
		}
	}
	for _, g := range changed {
		if err := t.put(key(tGroup, g.Id), g); err != nil {
			return err
		}
		t.emit(Change{Kind: KindGroup, ID: g.Id, Users: []string{user}})
	}
	return nil
}

// keepLoggedOut carries each member's logged_out flag over from the
// stored group: only SetMemberAvailability changes it, so a group PUT made
// from an older read (an administrator's form) cannot log anyone back in.
func keepLoggedOut(old, g *dirpb.Group) {
	if old == nil {
		return
	}
	out := map[string]bool{}
	for _, m := range old.Members {
		if m.LoggedOut {
			out[m.User] = true
		}
	}
	for _, m := range g.Members {
		m.LoggedOut = out[m.User]
	}
}
