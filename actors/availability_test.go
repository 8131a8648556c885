//go:build !race

// Built without -race only: see harness_test.go.

package actors

import (
	"fmt"
	"testing"

	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A member who logs out through Client.SetMemberAvailability (the write
// of the API and of the phones' *44 codes) is skipped by the next ring
// plan of the real group grain, in every group or the one named, and
// rung again after logging in.
func TestGroupGrain_SkipsMemberAfterLogoutUntilLogin(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putGlobal("public"))
	for i, u := range []string{"anna", "ben"} {
		n.apply(t, putUser(u, false), putLine(fmt.Sprint(100+i), u, "primary", nil))
		n.register(t, fmt.Sprint(100+i))
	}
	for i, id := range []string{"sales", "support"} {
		n.apply(t, putGroup(&dirpb.Group{Id: id, Active: true, Members: []*dirpb.Member{{User: "anna"}, {User: "ben"}},
			CallGroup: &dirpb.CallGroup{Mode: "sip", Number: fmt.Sprint(700 + i), Strategy: "ring_all"}}))
	}
	c := Client{To: RequestFunc(n.cn.Request), Write: n.dir.Apply}
	if got, want := planString(n.ringPlan(t, "sales")), `[anna ben] -> ""/480`; got != want {
		t.Fatalf("before: %s, want %s", got, want)
	}
	if err := c.SetMemberAvailability(reqCtx(t), "ben", []string{"sales"}, false); err != nil {
		t.Fatal(err)
	}
	if got, want := planString(n.ringPlan(t, "sales")), `[anna] skip ben:logged_out -> ""/480`; got != want {
		t.Fatalf("ben logged out of sales: %s, want %s", got, want)
	}
	if got, want := targetsString(n.ringPlan(t, "sales")), `anna@100[sip:100@192.0.2.1:5060]`; got != want {
		t.Fatalf("targets: %s, want %s", got, want)
	}
	if got, want := planString(n.ringPlan(t, "support")), `[anna ben] -> ""/480`; got != want {
		t.Fatalf("support after ben left sales: %s, want %s", got, want)
	}
	if err := c.SetMemberAvailability(reqCtx(t), "ben", nil, false); err != nil {
		t.Fatal(err)
	}
	if got, want := planString(n.ringPlan(t, "support")), `[anna] skip ben:logged_out -> ""/480`; got != want {
		t.Fatalf("ben logged out of all: %s, want %s", got, want)
	}
	if err := c.SetMemberAvailability(reqCtx(t), "ben", nil, true); err != nil {
		t.Fatal(err)
	}
	if got, want := planString(n.ringPlan(t, "sales")), `[anna ben] -> ""/480`; got != want {
		t.Fatalf("ben logged in again: %s, want %s", got, want)
	}
}

// Forwarding written with Client.SetLineForwarding reaches the line's
// watchers as their rights allow: the owner sees busy and no-answer
// forwarding with numbers, a public viewer that they are on.
func TestLineGrain_ConditionalForwardingReachesWatchersPerRight(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putUser("carl", false), putGlobal("blocked"), putGrant("anna", "carl", "public"),
		putLine("100", "anna", "primary", nil))
	own, _ := n.watchLine(t, "anna", "100")
	carl, _ := n.watchLine(t, "carl", "100")
	c := Client{To: RequestFunc(n.cn.Request), Write: n.dir.Apply}
	if err := c.SetLineForwarding(reqCtx(t), "100", linestate.Forwarding{BusyDestination: "200", NoAnswerDestination: "+4930123", NoAnswerS: 15}); err != nil {
		t.Fatal(err)
	}
	if v := lineEvent(t, own, "100"); !v.GetForwardingOnBusy() || v.GetForwardingBusyDestination() != "200" ||
		v.GetForwardingNoAnswerDestination() != "+4930123" || v.GetForwardingNoAnswerS() != 15 || v.GetForwardingEnabled() {
		t.Fatalf("owner sees %v", v)
	}
	if v := lineEvent(t, carl, "100"); !v.GetForwardingOnBusy() || !v.GetForwardingOnNoAnswer() || v.GetForwardingBusyDestination() != "" || v.GetForwardingNoAnswerDestination() != "" {
		t.Fatalf("public sees %v", v)
	}
	lv, err := c.LineState(reqCtx(t), "carl", "100", 0)
	if err != nil || !lv.Forwarding.Busy || lv.Forwarding.BusyDestination != "" {
		t.Fatalf("carl's line state %+v, %v", lv, err)
	}
}
