package roles

// Holdings are the roles a user holds: their system role and, per group
// id, their role there. It is what the policy needs to know of the target
// of an administrative action.
type Holdings struct {
	System SystemRole
	Groups map[string]GroupRole
}

// HoldsAny reports whether h holds any role at all: a system role or a
// membership (every member holds at least User).
func (h Holdings) HoldsAny() bool {
	if h.System != NoSystemRole {
		return true
	}
	for _, r := range h.Groups {
		if r != NoGroupRole {
			return true
		}
	}
	return false
}

// below lists, per group role, the roles it outranks: those whose every
// power (roles.tsv) it holds too, and more. Owner is group_admin +
// manager; manager holds all receptionist actions; every administrative
// role sees presence like a user. Manager and group_admin are not
// comparable (each has powers the other lacks), nor are group_admin and
// receptionist (the receptionist transfers, picks up, parks and uses the
// intercom; the group_admin does not), and no role outranks itself.
var below = [...]roleSet{
	User:         0,
	Receptionist: of(User),
	GroupAdmin:   of(User),
	Manager:      of(User, Receptionist),
	Owner:        of(User, Receptionist, GroupAdmin, Manager),
}

// Outranks reports whether group role a outranks group role b: a strict
// partial order (irreflexive, transitive). Holding no role (NoGroupRole)
// is outranked by every role and outranks nothing.
func Outranks(a, b GroupRole) bool {
	if int(a) >= len(below) || a == NoGroupRole {
		return false
	}
	return b == NoGroupRole || below[a].has(b)
}

// OutranksSystem reports whether system role a may administer what b
// holds: every group role is below both system roles; a system admin
// administers other system admins (only a system owner appoints or
// removes one, see MayAppointSystem) but not a system owner; system
// owners administer each other, as nobody else can. Without a system
// role, a holds nothing here.
func OutranksSystem(a SystemRole, b Holdings) bool {
	switch b.System {
	case NoSystemRole, SystemAdmin:
		return a != NoSystemRole
	}
	return a == SystemOwner
}

// Outranks reports whether s outranks every role t holds. With a system
// role, OutranksSystem decides. Without one, t must hold no system role,
// and in every group where t holds a role, s must hold a role there that
// outranks it: group roles apply only within their own group (roles.tsv),
// so a manager of one group outranks nobody in another.
func (s Subject) Outranks(t Holdings) bool {
	if s.System != NoSystemRole {
		return OutranksSystem(s.System, t)
	}
	if t.System != NoSystemRole {
		return false
	}
	for g, r := range t.Groups {
		if r != NoGroupRole && !Outranks(s.Groups[g], r) {
			return false
		}
	}
	return true
}

// MayAdminister reports whether s may do a (ManageMembers, SetPreset) over
// a user who holds t: reset their password or SIP password, disable them,
// change their contact data, presets or lines. s needs a system role, or a
// holds in one of t's groups; and in both cases s must outrank t. A user
// in no group is administered by system roles only.
func (s Subject) MayAdminister(a Action, t Holdings) bool {
	if !s.Outranks(t) {
		return false
	}
	if s.System != NoSystemRole {
		return true
	}
	for g, r := range t.Groups {
		if r != NoGroupRole && groupRoles[a].has(s.Groups[g]) {
			return true
		}
	}
	return false
}

// MayPullIn reports whether s may make a user who holds t (before the
// change) a member of a group where s manages members: freely when t holds
// no role at all, else only when s outranks t (a system role within its
// limits, or a group role that outranks t in every group of t). Without
// this, a manager would add anyone to their group and then own the
// account.
func (s Subject) MayPullIn(t Holdings) bool {
	return !t.HoldsAny() || s.Outranks(t)
}

// MayChangeRole reports whether s may change or remove the role from that
// user holds in group (from != to): system roles may; otherwise s must
// outrank from in group, so that a manager cannot demote a fellow manager
// and then administer them. A user may always lower their own role.
func (s Subject) MayChangeRole(self bool, group string, from, to GroupRole) bool {
	switch {
	case from == to, from == NoGroupRole, s.System != NoSystemRole:
		return true
	case self:
		return to < from && (to == NoGroupRole || Outranks(from, to))
	}
	return Outranks(s.Groups[group], from)
}
