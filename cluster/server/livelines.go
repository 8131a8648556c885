package server

import (
	"context"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/api"
)

// liveLines serves the API's line state from the line grains, wherever in
// the cluster they live.
type liveLines struct{ node actors.Requester }

var _ api.LineService = liveLines{}

func (l liveLines) LineState(ctx context.Context, viewer, number string, minIndex uint64) (api.LineState, error) {
	r, err := actors.Ask[*actorspb.GetLineStateReply](ctx, l.node, number, actors.KindLine, &actorspb.GetLineState{Viewer: viewer, MinIndex: minIndex})
	if err != nil {
		return api.LineState{}, refusal(err)
	}
	return lineStateOf(r.GetView()), nil
}

// lineStateOf turns a grain's line view into the API's.
func lineStateOf(v *actorspb.LineView) api.LineState {
	l := api.LineState{Number: v.GetNumber(), Owner: v.GetOwner(), SeesState: v.GetSeesState(), State: v.GetState(),
		SeesForwarding: v.GetSeesForwarding(), ForwardingEnabled: v.GetForwardingEnabled(),
		ForwardingDestination: v.GetForwardingDestination(), CanPickup: v.GetCanPickup(), CanForward: v.GetCanForward(),
		AV: v.GetAv()}
	for _, c := range v.GetCalls() {
		l.Calls = append(l.Calls, api.LineCall{Direction: c.GetDirection(), Remote: c.GetRemote(), Answered: c.GetAnswered()})
	}
	return l
}
