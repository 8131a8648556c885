package roles

import (
	"fmt"
	"testing"
)

// TestOutranks_Table is the whole order, written out: a row role outranks
// the column roles marked x.
func TestOutranks_Table(t *testing.T) {
	all := []GroupRole{User, Receptionist, GroupAdmin, Manager, Owner}
	table := map[GroupRole]string{
		//             user recep gadm mgr owner
		User:         ".....",
		Receptionist: "x....",
		GroupAdmin:   "x....",
		Manager:      "xx...",
		Owner:        "xxxx.",
	}
	for _, a := range all {
		for j, b := range all {
			want := table[a][j] == 'x'
			if got := Outranks(a, b); got != want {
				t.Errorf("Outranks(%s, %s) = %v, want %v", a, b, got, want)
			}
		}
		if !Outranks(a, NoGroupRole) || Outranks(NoGroupRole, a) {
			t.Errorf("%s against no role: every role outranks none, none outranks nothing", a)
		}
	}
}

// TestOutranks_IsAStrictOrderAgreeingWithThePolicy checks what makes the
// order safe: irreflexive, transitive, and a role outranks another only
// when it holds every action the other holds in its group.
func TestOutranks_IsAStrictOrderAgreeingWithThePolicy(t *testing.T) {
	all := []GroupRole{NoGroupRole, User, Receptionist, GroupAdmin, Manager, Owner}
	for _, a := range all {
		if Outranks(a, a) {
			t.Errorf("%s outranks itself", a)
		}
		for _, b := range all {
			for _, c := range all {
				if Outranks(a, b) && Outranks(b, c) && !Outranks(a, c) {
					t.Errorf("%s > %s > %s but not %s > %s", a, b, c, a, c)
				}
			}
			if !Outranks(a, b) {
				continue
			}
			for act := Action(0); act < numActions; act++ {
				if groupRoles[act].has(b) && !groupRoles[act].has(a) {
					t.Errorf("%s outranks %s but lacks %s", a, b, act)
				}
			}
		}
	}
}

func TestSubjectOutranks_EveryGroupOfTheTarget(t *testing.T) {
	in := func(gs ...any) map[string]GroupRole {
		m := map[string]GroupRole{}
		for i := 0; i < len(gs); i += 2 {
			m[gs[i].(string)] = gs[i+1].(GroupRole)
		}
		return m
	}
	mgr := Subject{ID: "m", Groups: in("g1", Manager)}
	owner2 := Subject{ID: "o", Groups: in("g1", Owner, "g2", Owner)}
	sysAdmin := Subject{ID: "a", System: SystemAdmin}
	sysOwner := Subject{ID: "s", System: SystemOwner}
	cases := []struct {
		name string
		s    Subject
		t    Holdings
		want bool
	}{
		{"manager over a plain member", mgr, Holdings{Groups: in("g1", User)}, true},
		{"manager over a receptionist", mgr, Holdings{Groups: in("g1", Receptionist)}, true},
		{"manager over a fellow manager", mgr, Holdings{Groups: in("g1", Manager)}, false},
		{"manager over a group_admin", mgr, Holdings{Groups: in("g1", GroupAdmin)}, false},
		{"manager over a member who manages another group", mgr, Holdings{Groups: in("g1", User, "g2", Manager)}, false},
		{"manager over a plain member of another group too", mgr, Holdings{Groups: in("g1", User, "g2", User)}, false},
		{"manager over a user in no group", mgr, Holdings{}, true},
		{"manager over a system_admin", mgr, Holdings{System: SystemAdmin, Groups: in("g1", User)}, false},
		{"owner of both over a manager of one", owner2, Holdings{Groups: in("g1", User, "g2", Manager)}, true},
		{"owner of both over an owner", owner2, Holdings{Groups: in("g2", Owner)}, false},
		{"system_admin over an owner", sysAdmin, Holdings{Groups: in("g2", Owner)}, true},
		{"system_admin over a system_admin", sysAdmin, Holdings{System: SystemAdmin}, true},
		{"system_admin over a system_owner", sysAdmin, Holdings{System: SystemOwner}, false},
		{"system_owner over a system_owner", sysOwner, Holdings{System: SystemOwner}, true},
		{"system_owner over a system_admin", sysOwner, Holdings{System: SystemAdmin}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Outranks(tc.t); got != tc.want {
				t.Errorf("Outranks = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMayAdminister_NeedsTheActionAndOutranking(t *testing.T) {
	g := func(id string, r GroupRole) map[string]GroupRole { return map[string]GroupRole{id: r} }
	cases := []struct {
		s    Subject
		t    Holdings
		a    Action
		want bool
	}{
		{Subject{Groups: g("g1", Manager)}, Holdings{Groups: g("g1", User)}, ManageMembers, true},
		{Subject{Groups: g("g1", Manager)}, Holdings{Groups: g("g1", User)}, SetPreset, true},
		{Subject{Groups: g("g1", GroupAdmin)}, Holdings{Groups: g("g1", User)}, ManageMembers, false},
		{Subject{Groups: g("g1", Manager)}, Holdings{Groups: g("g2", User)}, ManageMembers, false},
		{Subject{Groups: g("g1", Manager)}, Holdings{}, ManageMembers, false},
		{Subject{System: SystemAdmin}, Holdings{}, ManageMembers, true},
		{Subject{System: SystemAdmin}, Holdings{System: SystemOwner}, ManageMembers, false},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if got := tc.s.MayAdminister(tc.a, tc.t); got != tc.want {
				t.Errorf("%+v MayAdminister(%s, %+v) = %v, want %v", tc.s, tc.a, tc.t, got, tc.want)
			}
		})
	}
}

func TestMayPullIn_OnlyUsersWithoutRolesOrOutranked(t *testing.T) {
	mgr := Subject{ID: "m", Groups: map[string]GroupRole{"g1": Manager}}
	if !mgr.MayPullIn(Holdings{}) {
		t.Error("a manager may not add a user who holds no role")
	}
	if mgr.MayPullIn(Holdings{Groups: map[string]GroupRole{"g2": User}}) {
		t.Error("a manager adds a member of another group")
	}
	if mgr.MayPullIn(Holdings{System: SystemAdmin}) {
		t.Error("a manager adds a system_admin")
	}
	if !(Subject{System: SystemAdmin}).MayPullIn(Holdings{Groups: map[string]GroupRole{"g2": Owner}}) {
		t.Error("a system_admin may not add an owner of another group")
	}
}

func TestMayChangeRole_NoDemotingPeers(t *testing.T) {
	mgr := Subject{ID: "m", Groups: map[string]GroupRole{"g1": Manager}}
	cases := []struct {
		name     string
		self     bool
		from, to GroupRole
		want     bool
	}{
		{"promote a user", false, User, Manager, true},
		{"add a member", false, NoGroupRole, User, true},
		{"remove a user", false, User, NoGroupRole, true},
		{"demote a fellow manager", false, Manager, User, false},
		{"remove a fellow manager", false, Manager, NoGroupRole, false},
		{"demote a group_admin", false, GroupAdmin, User, false},
		{"step down to user", true, Manager, User, true},
		{"leave the group", true, Manager, NoGroupRole, true},
		{"self unchanged", true, Manager, Manager, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mgr.MayChangeRole(tc.self, "g1", tc.from, tc.to); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if !(Subject{System: SystemAdmin}).MayChangeRole(false, "g1", Owner, User) {
		t.Error("system_admin may not demote an owner")
	}
}
