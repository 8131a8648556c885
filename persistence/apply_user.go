package persistence

import (
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// putUser creates or replaces a user. An empty password_hash or
// created_unix keeps the stored one, so a profile edit need not carry the
// password hash.
func (t *txn) putUser(u *dirpb.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	old, err := orAbsent(t.user(u.Id))
	if err != nil {
		return err
	}
	if old != nil {
		if u.PasswordHash == "" {
			u.PasswordHash = old.PasswordHash
		}
		if u.CreatedUnix == 0 {
			u.CreatedUnix = old.CreatedUnix
		}
	}
	if signsOut(old, u) {
		if err := t.dropTokensOf(u.Id); err != nil {
			return err
		}
	}
	if err := t.put(key(tUser, u.Id), u); err != nil {
		return err
	}
	t.emit(Change{Kind: KindUser, ID: u.Id, Users: []string{u.Id}})
	return nil
}

// signsOut reports whether replacing old by u ends the user's bearer
// tokens: a new password hash, or a disabled user.
func signsOut(old, u *dirpb.User) bool {
	return u.Disabled || (old != nil && u.PasswordHash != old.PasswordHash)
}

// deleteUser removes a user and everything that names it: its group
// memberships (and what the groups' hunt memory holds of it) and
// leader/deputy posts, grants and presets in both
// directions, its lines (with their registrations), its journal, chats
// and bearer tokens.
// Nothing dangles afterwards.
func (t *txn) deleteUser(id string) error {
	if err := checkID("user id", id); err != nil {
		return err
	}
	if _, err := t.user(id); err != nil {
		return err
	}
	steps := []func(string) error{t.leaveGroups, t.dropGrantsOf, t.dropLinesOf, t.dropJournalOf, t.dropChatsOf, t.dropTokensOf}
	for _, step := range steps {
		if err := step(id); err != nil {
			return err
		}
	}
	if err := t.del(key(tUser, id)); err != nil {
		return err
	}
	t.emit(Change{Kind: KindUser, ID: id, Deleted: true, Users: []string{id}})
	return nil
}

// leaveGroups removes user from the members, leader and deputy of every group.
func (t *txn) leaveGroups(user string) error {
	member, err := t.ids(prefix(tUserGroups, user))
	if err != nil {
		return err
	}
	leads, err := t.ids(prefix(tUserLeads, user))
	if err != nil {
		return err
	}
	for _, gid := range sortedUnion(member, leads) {
		if err := t.removeFromGroup(gid, user); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) removeFromGroup(gid, user string) error {
	old, err := t.group(gid)
	if err != nil {
		return err
	}
	g := cloneGroup(old)
	g.Members = g.Members[:0]
	for _, m := range old.Members {
		if m.User != user {
			g.Members = append(g.Members, m)
		}
	}
	if g.Leader == user {
		g.Leader = ""
	}
	if g.Deputy == user {
		g.Deputy, g.DeputyUntilUnix = "", 0
	}
	if err := t.writeGroup(old, g); err != nil {
		return err
	}
	if err := t.keepHuntMemoryTo(g); err != nil {
		return err
	}
	t.emit(Change{Kind: KindGroup, ID: gid, Users: groupUsers(old, g)})
	return nil
}

// dropGrantsOf deletes every grant and preset user gives or holds.
func (t *txn) dropGrantsOf(user string) error {
	for _, layer := range []Layer{LayerUser, LayerPreset} {
		byTarget, byViewer := layer.tables()
		viewers, err := t.ids(prefix(byTarget, user))
		if err != nil {
			return err
		}
		for _, v := range viewers {
			if err := t.removeGrant(layer, user, v); err != nil {
				return err
			}
		}
		targets, err := t.ids(prefix(byViewer, user))
		if err != nil {
			return err
		}
		for _, tg := range targets {
			if err := t.removeGrant(layer, tg, user); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *txn) dropLinesOf(owner string) error {
	numbers, err := t.ids(prefix(tOwnerLines, owner))
	if err != nil {
		return err
	}
	for _, n := range numbers {
		l, err := t.line(n)
		if err != nil {
			return err
		}
		if err := t.removeLine(l); err != nil {
			return err
		}
	}
	return nil
}

// sortedUnion merges two sorted id lists without duplicates.
func sortedUnion(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}
