package roles

import "testing"

func TestMayAssign_WhoAppointsWhom(t *testing.T) {
	sub := func(sys SystemRole, role GroupRole) Subject {
		return Subject{ID: "c", System: sys, Groups: map[string]GroupRole{"own": role}}
	}
	cases := []struct {
		name   string
		s      Subject
		group  string
		assign GroupRole
		want   bool
	}{
		{"owner appoints manager in own group", sub(0, Owner), "own", Manager, true},
		{"owner appoints group_admin in own group", sub(0, Owner), "own", GroupAdmin, true},
		{"owner does not appoint owner", sub(0, Owner), "own", Owner, false},
		{"owner does not appoint in other group", sub(0, Owner), "other", User, false},
		{"manager assigns up to manager", sub(0, Manager), "own", Manager, true},
		{"manager does not assign owner", sub(0, Manager), "own", Owner, false},
		{"group_admin assigns nothing", sub(0, GroupAdmin), "own", User, false},
		{"receptionist assigns nothing", sub(0, Receptionist), "own", User, false},
		{"user assigns nothing", sub(0, User), "own", User, false},
		{"system_admin assigns owner anywhere", sub(SystemAdmin, NoGroupRole), "other", Owner, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.MayAssign(tc.group, tc.assign); got != tc.want {
				t.Errorf("MayAssign(%s, %s) = %v, want %v", tc.group, tc.assign, got, tc.want)
			}
		})
	}
}

func TestMayAppointSystem_OnlySystemOwner(t *testing.T) {
	for _, s := range []SystemRole{NoSystemRole, SystemAdmin, SystemOwner} {
		sub := Subject{System: s}
		for _, r := range []SystemRole{SystemAdmin, SystemOwner} {
			if got, want := sub.MayAppointSystem(r), s == SystemOwner; got != want {
				t.Errorf("%q appoints %s = %v, want %v", s, r, got, want)
			}
		}
		if !sub.MayAppointSystem(NoSystemRole) {
			t.Errorf("%q may not leave a role empty", s)
		}
	}
}

func TestMayEditUser_ProtectsSystemRoles(t *testing.T) {
	manager := Subject{ID: "m", Groups: map[string]GroupRole{"g": Manager}}
	admin := Subject{ID: "a", System: SystemAdmin}
	member := map[string]GroupRole{"g": User}
	cases := []struct {
		name string
		s    Subject
		role SystemRole
		want bool
	}{
		{"manager edits a member", manager, NoSystemRole, true},
		{"manager does not edit a system_admin member", manager, SystemAdmin, false},
		{"system_admin edits a system_admin", admin, SystemAdmin, true},
		{"system_admin does not edit a system_owner", admin, SystemOwner, false},
	}
	for _, tc := range cases {
		if got := tc.s.MayEditUser("t", Holdings{System: tc.role, Groups: member}); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
	if !manager.MayEditUser("m", Holdings{Groups: map[string]GroupRole{"g": Manager}}) {
		t.Error("a user may not edit themself")
	}
	if manager.MayEditUser("t", Holdings{Groups: map[string]GroupRole{"elsewhere": User}}) {
		t.Error("a manager edits outside own groups")
	}
}

func TestParse_RejectsUnknownRoles(t *testing.T) {
	if r, err := ParseGroupRole(""); err != nil || r != User {
		t.Errorf(`ParseGroupRole("") = %v, %v`, r, err)
	}
	if _, err := ParseGroupRole("boss"); err == nil {
		t.Error("boss parsed")
	}
	if _, err := ParseSystemRole("root"); err == nil {
		t.Error("root parsed")
	}
}
