package actors

import (
	"reflect"
	"testing"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
)

// A line view read back from its message is the view the grain made,
// for every state, direction and indicator; what the viewer may not see
// stays zero on the way.
func TestLineViewOf_ReadsBackWhatTheGrainSent(t *testing.T) {
	views := []linestate.View{{Number: "201"}} // sees nothing
	for _, st := range []linestate.State{linestate.Idle, linestate.Ringing, linestate.Busy} {
		for _, av := range []rights.AVDisplay{rights.AVHidden, rights.AVAvailable, rights.AVUnavailable, rights.AVBusy} {
			views = append(views, linestate.View{Number: "202", SeesState: true, State: st, AV: av, CanPickup: st == linestate.Ringing,
				Calls:          []linestate.CallView{{Direction: linestate.Incoming, Remote: "+4930123"}, {Direction: linestate.Outgoing, Answered: true}},
				SeesForwarding: true, Forwarding: linestate.Forwarding{Enabled: true, Destination: "203"}, CanForward: true})
		}
	}
	for _, v := range views {
		got := LineViewOf(lineViewPB(v, "anna"))
		if v.SeesState && len(v.Calls) == 0 {
			v.Calls = []linestate.CallView{}
		}
		if want := (LineView{View: v, Owner: "anna"}); !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n%+v\nwant\n%+v", got, want)
		}
	}
	if !LineViewOf(lineViewPB(views[0], "anna")).ShowsNothing() || LineViewOf(lineViewPB(views[1], "anna")).ShowsNothing() {
		t.Error("ShowsNothing does not tell a hidden line from a shown one")
	}
}

// A presence view the viewer may not see reads as not visible; a state
// this node does not know is an error, not a guess.
func TestPresenceViewOf(t *testing.T) {
	if _, visible, err := PresenceViewOf(&actorspb.PresenceView{State: "busy"}); visible || err != nil {
		t.Errorf("hidden view: visible=%v err=%v", visible, err)
	}
	v, visible, err := PresenceViewOf(&actorspb.PresenceView{Visible: true, State: "dnd", Note: "n", Idle: true})
	if !visible || err != nil || v != (presence.View{State: presence.DND, Note: "n", Idle: true}) {
		t.Errorf("got %+v %v %v", v, visible, err)
	}
	if _, _, err := PresenceViewOf(&actorspb.PresenceView{Visible: true, State: "on-the-moon"}); err == nil {
		t.Error("an unknown state was read")
	}
}
