package persistence

import (
	"errors"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// TestCheckGroup_CallGroupValuesAreTheDirectoryLists: the validator accepts
// every call mode and strategy of dirpb's lists (and an empty strategy),
// and nothing else.
func TestCheckGroup_CallGroupValuesAreTheDirectoryLists(t *testing.T) {
	group := func(mode, strategy string) *dirpb.Group {
		return &dirpb.Group{Id: "g", CallGroup: &dirpb.CallGroup{Mode: mode, Number: "500", Strategy: strategy}}
	}
	for _, mode := range dirpb.CallModes {
		if err := checkGroup(group(mode, "")); err != nil {
			t.Errorf("mode %q: %v", mode, err)
		}
	}
	for _, s := range append([]string{""}, dirpb.Strategies[:]...) {
		if err := checkGroup(group(dirpb.ModeSIP, s)); err != nil {
			t.Errorf("strategy %q: %v", s, err)
		}
	}
	for _, g := range []*dirpb.Group{group("fax", ""), group(dirpb.ModeSIP, "random")} {
		if err := checkGroup(g); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: error %v, want ErrInvalid", g.GetCallGroup(), err)
		}
	}
}

// TestCheckLine_KindsAreTheDirectoryList: every kind of dirpb.LineKinds
// (and none, resolved when stored) is accepted, nothing else.
func TestCheckLine_KindsAreTheDirectoryList(t *testing.T) {
	for _, k := range append([]string{""}, dirpb.LineKinds[:]...) {
		if err := checkLine(&dirpb.Line{Number: "100", Owner: "u", Kind: k}); err != nil {
			t.Errorf("kind %q: %v", k, err)
		}
	}
	if err := checkLine(&dirpb.Line{Number: "100", Owner: "u", Kind: "tertiary"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("kind tertiary: error %v, want ErrInvalid", err)
	}
}

// TestValidators_RolesAndOverridesAreTheDirectoryLists: member roles,
// system roles and override modes are accepted exactly as dirpb lists
// them (an empty override: never overridden).
func TestValidators_RolesAndOverridesAreTheDirectoryLists(t *testing.T) {
	for _, r := range dirpb.MemberRoles {
		if err := checkGroup(&dirpb.Group{Id: "g", Members: []*dirpb.Member{{User: "u", Role: r}}}); err != nil {
			t.Errorf("member role %q: %v", r, err)
		}
	}
	for _, r := range dirpb.SystemRoles {
		if err := checkUser(&dirpb.User{Id: "u", SystemRole: r}); err != nil {
			t.Errorf("system role %q: %v", r, err)
		}
	}
	for _, o := range append([]string{""}, dirpb.OverrideModes[:]...) {
		if err := checkGroup(&dirpb.Group{Id: "g", Override: o}); err != nil {
			t.Errorf("override %q: %v", o, err)
		}
	}
	for _, bad := range []error{
		checkGroup(&dirpb.Group{Id: "g", Members: []*dirpb.Member{{User: "u", Role: "janitor"}}}),
		checkUser(&dirpb.User{Id: "u", SystemRole: "root"}),
		checkGroup(&dirpb.Group{Id: "g", Override: "holiday"}),
	} {
		if !errors.Is(bad, ErrInvalid) {
			t.Errorf("an unknown value: error %v, want ErrInvalid", bad)
		}
	}
}
