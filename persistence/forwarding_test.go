package persistence

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func setForwarding(number string, f *dirpb.Forwarding) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{Number: number, Forwarding: f}}}
}

func setAvailability(user string, loggedIn bool, groups ...string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_SetMemberAvailability{SetMemberAvailability: &dirpb.SetMemberAvailability{User: user, Groups: groups, LoggedIn: loggedIn}}}
}

// Both orders of a password PUT (built from a read before the forwarding
// changed) and a forwarding change, applied in one batch as Raft would
// apply two concurrent writes: neither loses the other.
func TestSetLineForwarding_AndPutLineDoNotUndoEachOther(t *testing.T) {
	fwd := &dirpb.Forwarding{Enabled: true, Destination: "+491711234", OnBusy: "200", OnNoAnswer: "300", NoAnswerTimeoutS: 15}
	for _, forwardingFirst := range []bool{true, false} {
		h := newHarness(t)
		h.mustApply(putUser("alice"), putLine(&dirpb.Line{Number: "100", Owner: "alice", Realm: "r", Ha1Md5: "old"}))
		// The API's line PUT carries no forwarding (nil): the stored one stays.
		pw := putLine(&dirpb.Line{Number: "100", Owner: "alice", Realm: "r", Ha1Md5: "new", Label: "desk"})
		if forwardingFirst {
			h.mustApply(setForwarding("100", fwd), pw)
		} else {
			h.mustApply(pw, setForwarding("100", fwd))
		}
		l, err := h.s.Line("100")
		if err != nil {
			t.Fatal(err)
		}
		if l.Ha1Md5 != "new" || l.Label != "desk" || l.GetForwarding().GetOnBusy() != "200" || l.GetForwarding().GetNoAnswerTimeoutS() != 15 || !l.GetForwarding().GetEnabled() {
			t.Errorf("forwarding first=%v: line = %v, want the new password and label and the forwarding", forwardingFirst, l)
		}
	}
}

func TestSetLineForwarding_RejectsBadInputAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putLine(&dirpb.Line{Number: "100", Owner: "alice"}))
	for name, cmd := range map[string]*dirpb.Command{
		"letters":            setForwarding("100", &dirpb.Forwarding{OnBusy: "abc"}),
		"too long":           setForwarding("100", &dirpb.Forwarding{OnNoAnswer: "123456789012345678901234567890123"}),
		"enabled, no number": setForwarding("100", &dirpb.Forwarding{Enabled: true}),
		"negative timeout":   setForwarding("100", &dirpb.Forwarding{OnNoAnswer: "1", NoAnswerTimeoutS: -1}),
		"unknown line":       setForwarding("999", &dirpb.Forwarding{OnBusy: "1"}),
	} {
		if err := h.apply(cmd)[0]; err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if l, _ := h.s.Line("100"); l.Forwarding != nil {
		t.Errorf("forwarding = %v after rejected commands, want none", l.Forwarding)
	}
}

func TestSetMemberAvailability_LogsOutOfListedOrAllGroupsAndPutGroupKeepsIt(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("anna"), putUser("ben"))
	members := func() []*dirpb.Member {
		return []*dirpb.Member{{User: "anna", Role: "user"}, {User: "ben", Role: "user"}}
	}
	h.mustApply(putGroup(&dirpb.Group{Id: "sales", Members: members()}), putGroup(&dirpb.Group{Id: "support", Members: members()}))
	loggedOut := func(group, user string) bool {
		t.Helper()
		g, err := h.s.Group(group)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range g.Members {
			if m.User == user {
				return m.LoggedOut
			}
		}
		t.Fatalf("%s not in %s", user, group)
		return false
	}
	h.mustApply(setAvailability("anna", false, "sales"))
	if !loggedOut("sales", "anna") || loggedOut("support", "anna") || loggedOut("sales", "ben") {
		t.Fatal("logging anna out of sales changed something else")
	}
	// An administrator's PUT of the group (from a form read before) keeps it.
	h.mustApply(putGroup(&dirpb.Group{Id: "sales", Name: "Sales", Members: members()}))
	if !loggedOut("sales", "anna") {
		t.Error("a group PUT logged anna back in")
	}
	h.mustApply(setAvailability("ben", false))
	if !loggedOut("sales", "ben") || !loggedOut("support", "ben") {
		t.Error("an empty group list did not log ben out of all his groups")
	}
	h.mustApply(setAvailability("anna", true))
	if loggedOut("sales", "anna") {
		t.Error("anna still logged out after logging in to all groups")
	}
	// A member who leaves and comes back starts logged in.
	h.mustApply(putGroup(&dirpb.Group{Id: "support", Members: members()[:1]}), putGroup(&dirpb.Group{Id: "support", Members: members()}))
	if loggedOut("support", "ben") {
		t.Error("ben rejoined support still logged out")
	}
	var ce *CommandError
	if err := h.apply(setAvailability("anna", false, "nope"))[0]; !errors.As(err, &ce) || ce.Code != CodeNotFound {
		t.Errorf("unknown group: %v, want not found", err)
	}
	h.mustApply(putGroup(&dirpb.Group{Id: "other", Members: members()[1:]}))
	if err := h.apply(setAvailability("anna", false, "sales", "other"))[0]; !errors.As(err, &ce) || ce.Code != CodeNotFound {
		t.Errorf("group anna is not in: %v, want not found", err)
	}
	if loggedOut("sales", "anna") {
		t.Error("a rejected command changed sales")
	}
}

func TestSetMemberAvailability_SurvivesRestart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, n, putUser("anna"))
	mustApply(t, n, putGroup(&dirpb.Group{Id: "sales", Members: []*dirpb.Member{{User: "anna", Role: "user"}}}))
	mustApply(t, n, setAvailability("anna", false))
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := openNode(t, cfg)
	g, err := n2.Store().Group("sales")
	if err != nil || !g.Members[0].LoggedOut {
		t.Fatalf("after restart: %v, %v; want anna logged out", g, err)
	}
}

// Two changes of different forwards made from the same read (a phone's
// *67 and the console's no-answer form at the same moment) both land:
// each names the forwards it changes, and the FSM takes only those.
func TestSetLineForwarding_ChangesOfDifferentForwardsBothLand(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putLine(&dirpb.Line{Number: "100", Owner: "alice",
		Forwarding: &dirpb.Forwarding{Enabled: true, Destination: "500"}}))
	busy := &dirpb.Forwarding{Enabled: true, Destination: "500", OnBusy: "200"}                               // read, busy changed
	noAnswer := &dirpb.Forwarding{Enabled: true, Destination: "500", OnNoAnswer: "300", NoAnswerTimeoutS: 15} // same read, no answer changed
	h.mustApply(
		&dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{Number: "100", Forwarding: busy, Set: []string{"busy"}}}},
		&dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{Number: "100", Forwarding: noAnswer,
			Set: []string{"no_answer", "no_answer_s"}}}})
	l, err := h.s.Line("100")
	if err != nil {
		t.Fatal(err)
	}
	want := &dirpb.Forwarding{Enabled: true, Destination: "500", OnBusy: "200", OnNoAnswer: "300", NoAnswerTimeoutS: 15}
	if !proto.Equal(l.Forwarding, want) {
		t.Errorf("forwarding %v, want both changes %v", l.Forwarding, want)
	}
	// Turning the unconditional forward off leaves the others.
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{Number: "100",
		Forwarding: &dirpb.Forwarding{}, Set: []string{"unconditional"}}}})
	if l, _ = h.s.Line("100"); l.Forwarding.Enabled || l.Forwarding.Destination != "" || l.Forwarding.OnBusy != "200" {
		t.Errorf("after unconditional off: %v", l.Forwarding)
	}
	errs := h.apply(&dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{Number: "100",
		Forwarding: &dirpb.Forwarding{}, Set: []string{"everything"}}}})
	if len(errs) != 1 || !errors.Is(errs[0], ErrInvalid) {
		t.Errorf("an unknown forward's name: %v, want ErrInvalid", errs)
	}
}
