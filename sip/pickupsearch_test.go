package sip

import (
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestRingingElsewhere_IncomingRingingCallsOfOtherNodesOldestFirst(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	const self, n2, n3 = "sip:10.0.0.1:5060", "sip:10.0.0.2:5060", "sip:10.0.0.3:5060"
	reports := []lineCalls{
		{line: "2001", calls: []actors.LineCallInfo{
			{CallID: "newer", Started: t0.Add(2 * time.Second), Node: n2},
			{CallID: "answered", Answered: true, Started: t0, Node: n2},
			{CallID: "outgoing", Outgoing: true, Started: t0, Node: n2},
			{CallID: "here", Started: t0, Node: self},
			{CallID: "unknown-node", Started: t0},
			{CallID: "mine", Started: t0, Node: n3},
		}},
		{line: "3001", calls: []actors.LineCallInfo{
			{CallID: "oldest", Started: t0.Add(time.Second), Node: n3},
			{CallID: "newer", Started: t0.Add(2 * time.Second), Node: n2}, // the same group call on another line
		}},
		{line: "4001"}, // a line whose grain did not answer
	}
	got := ringingElsewhere(reports, "", self, "mine")
	want := []remoteRinging{
		{callID: "oldest", line: "3001", node: n3, started: t0.Add(time.Second)},
		{callID: "newer", line: "2001", node: n2, started: t0.Add(2 * time.Second)},
		{callID: "newer", line: "3001", node: n2, started: t0.Add(2 * time.Second)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := ringingElsewhere(reports, "oldest", self, ""); len(got) != 1 || got[0].callID != "oldest" {
		t.Fatalf("by call id: %+v", got)
	}
	if got := ringingElsewhere(reports, "answered", self, ""); len(got) != 0 {
		t.Fatalf("an answered call counts as ringing: %+v", got)
	}
}

// The lines a group pickup searches on other nodes are exactly those the
// rights engine lets the picker pick up: line1_pickup (team level) for
// primary lines, line2_pickup (personal level) for the others, the
// picker's own lines always; and every line when the global layer gives
// the right.
func TestPickupLines_FollowTheLinePickupRights(t *testing.T) {
	e := newEnv(t)
	e.user("tim", "5001", "pw")
	e.user("bob", "2001", "pw")
	e.line("bob", "2002", "secondary", "pw")
	e.user("carl", "3001", "pw")
	e.line("carl", "3002", "secondary", "pw")
	e.user("eve", "4001", "pw")
	grant := func(target, level string) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: target, Viewer: "tim", Grant: &dirpb.Grant{Level: level}}}}
	}
	e.apply(grant("bob", "team"), grant("carl", "personal"), grant("eve", "business"))
	got, err := e.srv.pickupLines("tim")
	if want := []string{"2001", "3001", "3002", "5001"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("tim's pickup lines %v %v, want %v", got, err, want)
	}
	// Cross-check each line against the rights engine, as mayPickUp decides.
	for _, l := range []string{"2001", "2002", "3001", "3002", "4001", "5001"} {
		if may := e.srv.mayPickUp("tim", l); may != slices.Contains(got, l) {
			t.Errorf("line %s: mayPickUp %v, searched %v", l, may, !may)
		}
	}
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{Grant: &dirpb.Grant{Level: "team"}}}}})
	got, err = e.srv.pickupLines("eve")
	if want := []string{"2001", "3001", "4001", "5001"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("with team for everyone, eve's pickup lines %v %v, want %v", got, err, want)
	}
}
