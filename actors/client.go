package actors

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
)

// Client calls the user and line grains wherever in the cluster they
// live, in the pure types of the packages below (presence, linestate,
// rights): the messages are built and read here, once. Refusals are
// *GrainError, matched with errors.Is against ErrForbidden, ErrNotFound,
// ErrInvalid, …. The API's services are small interfaces that Client
// satisfies.
type Client struct {
	To Requester
}

// Presence is target's presence as viewer may see it; visible is false
// when viewer may not see it at all. The grain answers with rights at
// least as new as directory index minIndex.
func (c Client) Presence(ctx context.Context, viewer, target string, minIndex uint64) (v presence.View, visible bool, err error) {
	r, err := Ask[*actorspb.GetPresenceReply](ctx, c.To, target, KindUser, &actorspb.GetPresence{Viewer: viewer, MinIndex: minIndex})
	if err != nil {
		return presence.View{}, false, err
	}
	return PresenceViewOf(r.GetView())
}

// SetPresence changes target's presence on behalf of actor and returns it
// as actor now sees it.
func (c Client) SetPresence(ctx context.Context, actor, target string, u presence.Update, minIndex uint64) (presence.View, error) {
	m := &actorspb.SetPresence{Actor: actor, Note: u.Note, Idle: u.Idle, MinIndex: minIndex}
	if u.State != nil {
		st := u.State.String()
		m.State = &st
	}
	r, err := Ask[*actorspb.SetPresenceReply](ctx, c.To, target, KindUser, m)
	if err != nil {
		return presence.View{}, err
	}
	v, _, err := PresenceViewOf(r.GetView())
	return v, err
}

// LineState is the line as viewer may see it.
func (c Client) LineState(ctx context.Context, viewer, number string, minIndex uint64) (LineView, error) {
	r, err := Ask[*actorspb.GetLineStateReply](ctx, c.To, number, KindLine, &actorspb.GetLineState{Viewer: viewer, MinIndex: minIndex})
	if err != nil {
		return LineView{}, err
	}
	return LineViewOf(r.GetView()), nil
}

// Audience is who holds r over target: everyone (the global layer gives
// it), or the users listed.
func (c Client) Audience(ctx context.Context, target string, r rights.Right, minIndex uint64) (everyone bool, users []string, err error) {
	return c.users(ctx, target, &actorspb.Audience{Right: r.String(), MinIndex: minIndex})
}

// Reach is over whom viewer holds r: everyone, or the users listed.
func (c Client) Reach(ctx context.Context, viewer string, r rights.Right, minIndex uint64) (everyone bool, users []string, err error) {
	return c.users(ctx, viewer, &actorspb.Reach{Right: r.String(), MinIndex: minIndex})
}

func (c Client) users(ctx context.Context, user string, msg proto.Message) (bool, []string, error) {
	r, err := Ask[*actorspb.UsersReply](ctx, c.To, user, KindUser, msg)
	if err != nil {
		return false, nil, err
	}
	return r.GetEveryone(), r.GetUsers(), nil
}

// PresenceViewOf reads a presence view message; visible is false when the
// viewer may see nothing. A state this node does not know is an error.
func PresenceViewOf(pv *actorspb.PresenceView) (v presence.View, visible bool, err error) {
	if !pv.GetVisible() {
		return presence.View{}, false, nil
	}
	st, err := presence.ParseState(pv.GetState())
	if err != nil {
		return presence.View{}, false, fmt.Errorf("actors: grain answered %w", err)
	}
	return presence.View{State: st, Note: pv.GetNote(), Idle: pv.GetIdle()}, true, nil
}

// LineView is a line as one viewer sees it, and its owner.
type LineView struct {
	linestate.View
	Owner string
}

// ShowsNothing reports whether the viewer may see nothing of the line.
func (v LineView) ShowsNothing() bool {
	return !v.SeesState && !v.SeesForwarding && !v.CanPickup && !v.CanForward
}

// LineViewOf reads a line view message (lineViewPB's inverse). A state,
// direction or indicator this node does not know reads as its zero value
// (idle, hidden), shown to nobody as more than the message says.
func LineViewOf(pb *actorspb.LineView) LineView {
	v := LineView{Owner: pb.GetOwner(), View: linestate.View{Number: pb.GetNumber(), SeesState: pb.GetSeesState(),
		SeesForwarding: pb.GetSeesForwarding(), CanPickup: pb.GetCanPickup(), CanForward: pb.GetCanForward(),
		Forwarding: linestate.Forwarding{Enabled: pb.GetForwardingEnabled(), Destination: pb.GetForwardingDestination()}}}
	v.AV, _ = rights.ParseAVDisplay(pb.GetAv())
	if v.SeesState {
		v.State, _ = linestate.ParseState(pb.GetState())
		v.Calls = make([]linestate.CallView, len(pb.GetCalls()))
		for i, c := range pb.GetCalls() {
			d, _ := linestate.ParseDirection(c.GetDirection())
			v.Calls[i] = linestate.CallView{Direction: d, Remote: c.GetRemote(), Answered: c.GetAnswered()}
		}
	}
	return v
}
