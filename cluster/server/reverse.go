package server

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/api"
)

// liveReverse answers the API's reverse rights lookups from the user
// grains (Audience, Reach).
type liveReverse struct{ node actors.Requester }

var _ api.ReverseService = liveReverse{}

func (l liveReverse) Audience(ctx context.Context, target string, r rights.Right, minIndex uint64) (bool, []string, error) {
	return l.ask(ctx, target, &actorspb.Audience{Right: r.String(), MinIndex: minIndex})
}

func (l liveReverse) Reach(ctx context.Context, viewer string, r rights.Right, minIndex uint64) (bool, []string, error) {
	return l.ask(ctx, viewer, &actorspb.Reach{Right: r.String(), MinIndex: minIndex})
}

func (l liveReverse) ask(ctx context.Context, user string, msg proto.Message) (bool, []string, error) {
	r, err := actors.Ask[*actorspb.UsersReply](ctx, l.node, user, actors.KindUser, msg)
	if err != nil {
		return false, nil, refusal(err)
	}
	return r.GetEveryone(), r.GetUsers(), nil
}
