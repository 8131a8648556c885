package roles

import "fmt"

// Action is something the management API lets a role do. Group-scoped
// actions are allowed in a group where the caller holds a role listed for
// the action; system roles hold them in every group.
type Action uint8

// The actions. The comment names the roles.tsv wording each one reads.
const (
	// ViewGroup reads a group's configuration (every member; "admin view of
	// own groups" for the administrative roles).
	ViewGroup Action = iota
	// ViewMember reads the full directory record of a member of the group
	// and their lines ("admin view").
	ViewMember
	// ConfigureCallHandling changes a group's call group, office hours,
	// language and time zone ("configure call handling").
	ConfigureCallHandling
	// ConfigureGroup changes a group's name, keys and monitor settings.
	ConfigureGroup
	// OverrideOfficeHours sets the receptionist override ("override office
	// hours, breaks and closed times of own groups").
	OverrideOfficeHours
	// ManageMembers edits members' user settings, lines and forwarding
	// ("configure user settings such as forwarding").
	ManageMembers
	// CreateUser creates users ("create users").
	CreateUser
	// SetPreset sets admin presets on members (the admin preset layer).
	SetPreset
	// AppointLeaders sets a group's leader and deputy.
	AppointLeaders
	// ConfigureGroupRights changes what a group gives: active, member and
	// leader levels, services, journal options. System roles only: they are
	// rights layers over every member.
	ConfigureGroupRights
	// ManageGroups creates and deletes groups.
	ManageGroups
	// ManageUsers deletes users and lists the whole directory.
	ManageUsers
	// ManageTrunks configures SIP trunks ("full view of all groups and
	// trunks"): trunks are not scoped to groups here.
	ManageTrunks
	// ManageGlobal sets the global layer.
	ManageGlobal
	// SetAvailability logs members in to and out of the group's calls
	// (members themselves may always do it for themselves).
	SetAvailability
	numActions
)

var actionNames = [numActions]string{
	"view_group", "view_member", "configure_call_handling", "configure_group",
	"override_office_hours", "manage_members", "create_user", "set_preset",
	"appoint_leaders", "configure_group_rights", "manage_groups", "manage_users",
	"manage_trunks", "manage_global", "set_availability",
}

func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// roleSet is a set of group roles.
type roleSet uint8

func of(rs ...GroupRole) roleSet {
	var s roleSet
	for _, r := range rs {
		s |= 1 << r
	}
	return s
}

func (s roleSet) has(r GroupRole) bool { return r != NoGroupRole && s&(1<<r) != 0 }

// groupRoles lists, per action, the group roles that hold it within their
// group. Both system roles hold every action everywhere; what tells them
// apart is listening, recordings and reports (not served by this API) and
// appointments (MayAppointSystem).
var groupRoles = [numActions]roleSet{
	ViewGroup:             of(User, Receptionist, GroupAdmin, Manager, Owner),
	ViewMember:            of(GroupAdmin, Manager, Owner),
	ConfigureCallHandling: of(GroupAdmin, Owner),
	ConfigureGroup:        of(GroupAdmin, Owner),
	OverrideOfficeHours:   of(Receptionist, GroupAdmin, Manager, Owner),
	ManageMembers:         of(Manager, Owner),
	CreateUser:            of(Manager, Owner),
	SetPreset:             of(Manager, Owner),
	AppointLeaders:        of(Owner),
	SetAvailability:       of(Receptionist, GroupAdmin, Manager, Owner),
}

// InGroup reports whether s may do a in group.
func (s Subject) InGroup(a Action, group string) bool {
	return s.System != NoSystemRole || groupRoles[a].has(s.Groups[group])
}

// InAnyGroup reports whether s may do a in at least one of groups.
func (s Subject) InAnyGroup(a Action, groups []string) bool {
	if s.System != NoSystemRole {
		return true
	}
	for _, g := range groups {
		if groupRoles[a].has(s.Groups[g]) {
			return true
		}
	}
	return false
}

// Anywhere reports whether s may do a in some group (or everywhere), e.g.
// CreateUser, which creates a user who is in no group yet.
func (s Subject) Anywhere(a Action) bool {
	if s.System != NoSystemRole {
		return true
	}
	for _, r := range s.Groups {
		if groupRoles[a].has(r) {
			return true
		}
	}
	return false
}

// IsSystem reports whether s holds a system role, which alone grants the
// system-wide actions (ConfigureGroupRights, ManageGroups, ManageUsers,
// ManageTrunks, ManageGlobal).
func (s Subject) IsSystem() bool { return s.System != NoSystemRole }

// MayAppointSystem reports whether s may give or take away role r (a
// system role other than NoSystemRole): only a system owner may.
func (s Subject) MayAppointSystem(r SystemRole) bool {
	return r == NoSystemRole || s.System == SystemOwner
}

// MayAssign reports whether s may make someone hold r in group, or take r
// away from them there: system roles assign every group role; an owner
// assigns up to manager in own group (not owner); a manager assigns up to
// manager in own group; the other roles assign none.
func (s Subject) MayAssign(group string, r GroupRole) bool {
	if s.System != NoSystemRole {
		return true
	}
	switch s.Groups[group] {
	case Owner, Manager:
		return r <= Manager
	}
	return false
}

// MayEditUser reports whether s may change the settings of target, who
// holds t: the user themself (their profile only: the caller checks which
// fields), or s may administer t with ManageMembers (MayAdminister).
func (s Subject) MayEditUser(target string, t Holdings) bool {
	return s.ID == target || s.MayAdminister(ManageMembers, t)
}
