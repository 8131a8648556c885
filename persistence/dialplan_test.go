package persistence

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putDialPlan(p *dirpb.DialPlan) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutDialPlan{PutDialPlan: &dirpb.PutDialPlan{Plan: p}}}
}

func putOutboundTrunk(id string, o *dirpb.TrunkOutbound) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: id, Outbound: o}}}}
}

func TestPutDialPlan_StoredAndCheckedAgainstTrunks(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	plan := &dirpb.DialPlan{Rules: []*dirpb.DialRule{{Pattern: "_0ZX.", Trunk: "carrier", CallClass: "national"}}}
	if _, err := n.Apply(ctx, putDialPlan(plan)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `rules[0].trunk: trunk "carrier" does not exist`) {
		t.Fatalf("plan naming a missing trunk: %v", err)
	}
	mustApply(t, n, putOutboundTrunk("carrier", nil))
	if _, err := n.Apply(ctx, putDialPlan(plan)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "has no outbound side") {
		t.Fatalf("plan naming an inbound-only trunk: %v", err)
	}
	mustApply(t, n, putOutboundTrunk("carrier", &dirpb.TrunkOutbound{Host: "carrier.example"}))
	mustApply(t, n, putDialPlan(plan))
	got, err := n.Store().DialPlan()
	if err != nil || !proto.Equal(got, plan) {
		t.Fatalf("DialPlan = %v, %v; want %v", got, err, plan)
	}
	if _, err := n.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_DeleteTrunk{DeleteTrunk: &dirpb.DeleteTrunk{Id: "carrier"}}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("deleting a trunk the plan uses: %v", err)
	}
	if _, err := n.Apply(ctx, putOutboundTrunk("carrier", nil)); !errors.Is(err, ErrConflict) {
		t.Fatalf("taking away the outbound side the plan uses: %v", err)
	}
}

func TestCheckOutbound_NamesTheField(t *testing.T) {
	cases := []struct {
		o    *dirpb.TrunkOutbound
		want string
	}{
		{&dirpb.TrunkOutbound{}, "outbound.host"},
		{&dirpb.TrunkOutbound{Host: "h", Port: 70000}, "outbound.port"},
		{&dirpb.TrunkOutbound{Host: "h", Transport: "sctp"}, "outbound.transport"},
		{&dirpb.TrunkOutbound{Host: "h", CallerId: "mine"}, "outbound.caller_id"},
		{&dirpb.TrunkOutbound{Host: "h", CallerId: "trunk"}, "outbound.main_number"},
		{&dirpb.TrunkOutbound{Host: "h", Register: true}, "outbound.username"},
	}
	for _, tc := range cases {
		if err := checkOutbound(tc.o); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkOutbound(%v) = %v, want one naming %s", tc.o, err, tc.want)
		}
	}
	if err := checkE164("e164", "4989"); err == nil {
		t.Error("e164 without + accepted")
	}
	if err := checkCallClass("call_class", "galactic"); err == nil {
		t.Error("unknown class accepted")
	}
}

func TestLineByE164_FollowsLineChanges(t *testing.T) {
	n := newNode(t)
	mustApply(t, n, putUser("ann"))
	mustApply(t, n, putLine(&dirpb.Line{Number: "200", Owner: "ann", E164: "+4989123200"}))
	for _, dialled := range []string{"+4989123200", "004989123200", "4989123200"} {
		if line, ok, err := n.Store().LineByE164(dialled); err != nil || !ok || line != "200" {
			t.Fatalf("LineByE164(%s) = %q %v %v", dialled, line, ok, err)
		}
	}
	mustApply(t, n, putLine(&dirpb.Line{Number: "200", Owner: "ann", E164: "+4989123201"}))
	if _, ok, _ := n.Store().LineByE164("+4989123200"); ok {
		t.Fatal("the old public number still reaches the line")
	}
	// A public number is one line's: another line asking for it is
	// refused by the FSM, whichever node proposed it, and nothing of it
	// is written.
	before := dump(t, n.Store())
	_, err := n.Apply(context.Background(), putLine(&dirpb.Line{Number: "201", Owner: "ann", Kind: "secondary", E164: "+4989123201"}))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("line 201 taking line 200's public number: %v, want ErrConflict", err)
	}
	if d := diffDumps(before, dump(t, n.Store())); d != "" {
		t.Errorf("a refused line changed the directory:\n%s", d)
	}
	// Freed by a change or a deletion, it can be taken.
	mustApply(t, n, putLine(&dirpb.Line{Number: "200", Owner: "ann"}))
	mustApply(t, n, putLine(&dirpb.Line{Number: "201", Owner: "ann", Kind: "secondary", E164: "+4989123201"}))
	mustApply(t, n, &dirpb.Command{Op: &dirpb.Command_DeleteLine{DeleteLine: &dirpb.DeleteLine{Number: "201"}}})
	if _, ok, _ := n.Store().LineByE164("+4989123201"); ok {
		t.Fatal("a deleted line's public number still reaches it")
	}
	mustApply(t, n, putLine(&dirpb.Line{Number: "200", Owner: "ann", E164: "+4989123201"}))
	if line, ok, _ := n.Store().LineByE164("+4989123201"); !ok || line != "200" {
		t.Fatalf("after the deletion: %q %v", line, ok)
	}
}
