package persistence

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putHuntMemory(m *dirpb.HuntMemory) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutHuntMemory{PutHuntMemory: &dirpb.PutHuntMemory{Memory: m}}}
}

// A group's hunt memory is stored, merged (the position replaced, each
// member's last call never moves back), kept to the members, refused for
// a group that does not exist, and deleted with its group.
func TestHuntMemory_MergesKeepsToMembersAndGoesWithItsGroup(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("anna"), putUser("ben"), putUser("carl"), putGroup(group("desk", "700", "anna", "ben", "carl")))
	if _, err := h.s.HuntMemory("desk"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("memory before any write: %v, want ErrNotFound", err)
	}
	h.mustApply(putHuntMemory(&dirpb.HuntMemory{Group: "desk", RoundRobinLast: "ben",
		LastCallUnixMs: map[string]int64{"anna": 2000, "ben": 1000, "ghost": 5}}))
	check := func(when, rr string, last map[string]int64) {
		t.Helper()
		m, err := h.s.HuntMemory("desk")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if m.GetRoundRobinLast() != rr || !maps.Equal(m.GetLastCallUnixMs(), last) {
			t.Errorf("%s: memory %v, want round_robin_last %q last calls %v", when, m, rr, last)
		}
	}
	check("first write", "ben", map[string]int64{"anna": 2000, "ben": 1000})

	// A late older write moves the position but no time back.
	h.mustApply(putHuntMemory(&dirpb.HuntMemory{Group: "desk", RoundRobinLast: "carl",
		LastCallUnixMs: map[string]int64{"anna": 1500, "carl": 3000}}))
	check("merged", "carl", map[string]int64{"anna": 2000, "ben": 1000, "carl": 3000})

	// The group id alone changes nothing (the grains' read barrier).
	h.mustApply(putHuntMemory(&dirpb.HuntMemory{Group: "desk"}))
	check("empty write", "carl", map[string]int64{"anna": 2000, "ben": 1000, "carl": 3000})

	// Members who left are forgotten at the next write.
	h.mustApply(putGroup(group("desk", "700", "anna", "ben")))
	h.mustApply(putHuntMemory(&dirpb.HuntMemory{Group: "desk"}))
	check("carl left", "", map[string]int64{"anna": 2000, "ben": 1000})

	for name, tc := range map[string]struct {
		m    *dirpb.HuntMemory
		want error
	}{
		"no memory":     {nil, ErrInvalid},
		"no group id":   {&dirpb.HuntMemory{}, ErrInvalid},
		"unknown group": {&dirpb.HuntMemory{Group: "nogroup"}, ErrNotFound},
		"bad position":  {&dirpb.HuntMemory{Group: "desk", RoundRobinLast: "a\x00b"}, ErrInvalid},
	} {
		if err := h.apply(putHuntMemory(tc.m))[0]; !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}

	// A deleted user leaves no trace in the memory of their groups.
	h.mustApply(putHuntMemory(&dirpb.HuntMemory{Group: "desk", RoundRobinLast: "ben"}))
	h.mustApply(deleteUser("ben"))
	check("ben deleted", "", map[string]int64{"anna": 2000})

	h.mustApply(deleteGroup("desk"))
	if _, err := h.s.HuntMemory("desk"); !errors.Is(err, ErrNotFound) {
		t.Errorf("memory after the group's deletion: %v, want ErrNotFound", err)
	}
	// A write racing the deletion leaves nothing behind.
	if err := h.apply(putHuntMemory(&dirpb.HuntMemory{Group: "desk", RoundRobinLast: "anna"}))[0]; !errors.Is(err, ErrNotFound) {
		t.Errorf("write after the deletion: %v, want ErrNotFound", err)
	}
	for k := range dump(t, h.s) {
		if strings.HasPrefix(k, tHuntMemory) {
			t.Errorf("key %q left after the group's deletion", k)
		}
	}
}
