package persistence

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// putGroup creates or replaces a group and keeps the membership, leader
// and call-number indexes in step. Members, leader and deputy must be
// existing users; the call number must not belong to another group or to a
// line.
func (t *txn) putGroup(g *dirpb.Group) error {
	if err := checkGroup(g); err != nil {
		return err
	}
	if err := t.checkGroupUsers(g); err != nil {
		return err
	}
	if err := t.checkNumberFree(callNumber(g), g.Id); err != nil {
		return err
	}
	old, err := orAbsent(t.group(g.Id))
	if err != nil {
		return err
	}
	if old != nil && g.CreatedUnix == 0 {
		g.CreatedUnix = old.CreatedUnix
	}
	keepLoggedOut(old, g)
	if err := t.writeGroup(old, g); err != nil {
		return err
	}
	t.emit(Change{Kind: KindGroup, ID: g.Id, Users: groupUsers(old, g)})
	return nil
}

func (t *txn) deleteGroup(id string) error {
	if err := checkID("group id", id); err != nil {
		return err
	}
	old, err := t.group(id)
	if err != nil {
		return err
	}
	if err := t.writeGroup(old, nil); err != nil {
		return err
	}
	if err := t.del(key(tHuntMemory, id)); err != nil {
		return err
	}
	t.emit(Change{Kind: KindGroup, ID: id, Deleted: true, Users: groupUsers(old)})
	return nil
}

func (t *txn) checkGroupUsers(g *dirpb.Group) error {
	for _, m := range g.Members {
		if _, err := t.user(m.User); err != nil {
			return withContext(err, "member of group "+g.Id)
		}
	}
	for _, u := range []string{g.Leader, g.Deputy} {
		if u == "" {
			continue
		}
		if _, err := t.user(u); err != nil {
			return withContext(err, "leader/deputy of group "+g.Id)
		}
	}
	return nil
}

// checkNumberFree rejects number when a line or another group than
// group has it.
func (t *txn) checkNumberFree(number, group string) error {
	if number == "" {
		return nil
	}
	owner, err := orAbsent(t.groupByNumber(number))
	if err != nil {
		return err
	}
	if owner != "" && owner != group {
		return conflictf("call number %q is used by group %q", number, owner)
	}
	isLine, err := t.exists(key(tLine, number))
	if err != nil {
		return err
	}
	if isLine {
		return conflictf("call number %q is a line number", number)
	}
	return nil
}

func callNumber(g *dirpb.Group) string {
	if g == nil {
		return ""
	}
	return g.GetCallGroup().GetNumber()
}

// writeGroup replaces old (nil: none) by g (nil: delete) with its index
// entries. Old entries are deleted and new ones written in the same batch,
// so entries that stay are simply rewritten.
func (t *txn) writeGroup(old, g *dirpb.Group) error {
	if old != nil {
		if err := t.unindexGroup(old); err != nil {
			return err
		}
		if g == nil {
			return t.del(key(tGroup, old.Id))
		}
	}
	if err := t.indexGroup(g); err != nil {
		return err
	}
	return t.put(key(tGroup, g.Id), g)
}

func (t *txn) unindexGroup(g *dirpb.Group) error {
	for _, m := range g.Members {
		if err := t.del(key(tGroupMembers, g.Id, m.User), key(tUserGroups, m.User, g.Id)); err != nil {
			return err
		}
		if m.UntilUnix != 0 {
			if err := t.del(expiryKey(m.UntilUnix, expiryMember, g.Id, m.User)); err != nil {
				return err
			}
		}
	}
	for _, u := range []string{g.Leader, g.Deputy} {
		if u != "" {
			if err := t.del(key(tUserLeads, u, g.Id)); err != nil {
				return err
			}
		}
	}
	if g.Deputy != "" && g.DeputyUntilUnix != 0 {
		if err := t.del(expiryKey(g.DeputyUntilUnix, expiryDeputy, g.Id, g.Deputy)); err != nil {
			return err
		}
	}
	if n := callNumber(g); n != "" {
		return t.del(key(tGroupNumber, n))
	}
	return nil
}

func (t *txn) indexGroup(g *dirpb.Group) error {
	for _, m := range g.Members {
		row := &dirpb.Member{User: m.User, Role: m.Role, Primary: m.Primary, UntilUnix: m.UntilUnix}
		if err := t.put(key(tGroupMembers, g.Id, m.User), row); err != nil {
			return err
		}
		if err := t.put(key(tUserGroups, m.User, g.Id), row); err != nil {
			return err
		}
		if m.UntilUnix != 0 {
			if err := t.putEmpty(expiryKey(m.UntilUnix, expiryMember, g.Id, m.User)); err != nil {
				return err
			}
		}
	}
	for _, l := range []struct {
		user, role string
		until      int64
	}{{g.Leader, "leader", 0}, {g.Deputy, "deputy", g.DeputyUntilUnix}} {
		if l.user == "" {
			continue
		}
		if err := t.put(key(tUserLeads, l.user, g.Id), &dirpb.Member{User: l.user, Role: l.role, UntilUnix: l.until}); err != nil {
			return err
		}
		if l.until != 0 {
			if err := t.putEmpty(expiryKey(l.until, expiryDeputy, g.Id, l.user)); err != nil {
				return err
			}
		}
	}
	if n := callNumber(g); n != "" {
		return t.put(key(tGroupNumber, n), &dirpb.Ref{Id: g.Id})
	}
	return nil
}

// groupUsers lists, sorted and without duplicates, the members, leaders
// and deputies of the given groups (nil entries are skipped).
func groupUsers(gs ...*dirpb.Group) []string {
	var out []string
	for _, g := range gs {
		if g == nil {
			continue
		}
		for _, m := range g.Members {
			out = append(out, m.User)
		}
		if g.Leader != "" {
			out = append(out, g.Leader)
		}
		if g.Deputy != "" {
			out = append(out, g.Deputy)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func cloneGroup(g *dirpb.Group) *dirpb.Group { return proto.Clone(g).(*dirpb.Group) }
