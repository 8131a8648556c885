// Package roles is the administrative policy of the management API: which
// role may do which action, on which scope, who may appoint whom, and
// which role outranks which, so that administrators stay in their scope
// (spec/roles.tsv, seed 004). It is pure: the caller gathers a Subject (the
// caller's system role and group roles) and the target's Holdings from
// the directory and asks.
package roles

import (
	"fmt"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// GroupRole is a role held within one group, through its membership. The
// order is the order of trust; it matters only for appointments.
type GroupRole uint8

// The group roles. NoGroupRole means not a member.
const (
	NoGroupRole GroupRole = iota
	User
	Receptionist
	GroupAdmin
	Manager
	Owner
)

// groupRoleNames are the directory's member roles behind NoGroupRole's "".
var groupRoleNames = append([]string{""}, dirpb.MemberRoles[:]...)

func (r GroupRole) String() string {
	if int(r) < len(groupRoleNames) {
		return groupRoleNames[r]
	}
	return fmt.Sprintf("GroupRole(%d)", uint8(r))
}

// ParseGroupRole parses a member role; "" is User (the directory's default).
func ParseGroupRole(s string) (GroupRole, error) {
	if s == "" {
		return User, nil
	}
	for i := User; i <= Owner; i++ {
		if groupRoleNames[i] == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("roles: unknown group role %q (want user, receptionist, group_admin, manager or owner)", s)
}

// SystemRole is a role held everywhere, stored on the user.
type SystemRole uint8

// The system roles. NoSystemRole is an ordinary user.
const (
	NoSystemRole SystemRole = iota
	SystemAdmin
	SystemOwner
)

var systemRoleNames = dirpb.SystemRoles

func (r SystemRole) String() string {
	if int(r) < len(systemRoleNames) {
		return systemRoleNames[r]
	}
	return fmt.Sprintf("SystemRole(%d)", uint8(r))
}

// ParseSystemRole parses "", "system_admin" or "system_owner".
func ParseSystemRole(s string) (SystemRole, error) {
	for i, n := range systemRoleNames {
		if n == s {
			return SystemRole(i), nil
		}
	}
	return 0, fmt.Errorf("roles: unknown system role %q (want \"\", system_admin or system_owner)", s)
}

// Subject is what the policy needs to know of a caller.
type Subject struct {
	ID     string
	System SystemRole
	// Groups maps a group id to the role the caller holds in it.
	Groups map[string]GroupRole
}

// RoleIn returns the caller's role in group (NoGroupRole when not a member).
func (s Subject) RoleIn(group string) GroupRole { return s.Groups[group] }
