package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/api"
)

// livePresence serves the API's presence routes from the user grains,
// wherever in the cluster they live.
type livePresence struct{ node actors.Requester }

var _ api.PresenceService = livePresence{}

func (l livePresence) Presence(ctx context.Context, viewer, target string, minIndex uint64) (presence.View, bool, error) {
	r, err := actors.Ask[*actorspb.GetPresenceReply](ctx, l.node, target, actors.KindUser, &actorspb.GetPresence{Viewer: viewer, MinIndex: minIndex})
	if err != nil {
		return presence.View{}, false, refusal(err)
	}
	return viewOf(r.GetView())
}

func (l livePresence) SetPresence(ctx context.Context, actor, target string, u presence.Update, minIndex uint64) (presence.View, error) {
	m := &actorspb.SetPresence{Actor: actor, Note: u.Note, Idle: u.Idle, MinIndex: minIndex}
	if u.State != nil {
		st := u.State.String()
		m.State = &st
	}
	r, err := actors.Ask[*actorspb.SetPresenceReply](ctx, l.node, target, actors.KindUser, m)
	if err != nil {
		return presence.View{}, refusal(err)
	}
	v, _, err := viewOf(r.GetView())
	return v, err
}

func viewOf(pv *actorspb.PresenceView) (presence.View, bool, error) {
	if !pv.GetVisible() {
		return presence.View{}, false, nil
	}
	st, err := presence.ParseState(pv.GetState())
	if err != nil {
		return presence.View{}, false, fmt.Errorf("server: grain answered %w", err)
	}
	return presence.View{State: st, Note: pv.GetNote(), Idle: pv.GetIdle()}, true, nil
}

// grainError maps a reply's refusal to the API's.
func grainError(e *actorspb.Error) error {
	var ge *actors.GrainError
	if !errors.As(actors.ErrorOf(e), &ge) {
		return nil
	}
	return apiError(ge)
}

// apiError maps a grain's refusal to the API's.
func apiError(ge *actors.GrainError) error {
	var base error
	switch {
	case errors.Is(ge, actors.ErrForbidden):
		base = api.ErrLiveForbidden
	case errors.Is(ge, actors.ErrNotFound):
		base = api.ErrLiveNotFound
	case errors.Is(ge, actors.ErrInvalid):
		base = api.ErrLiveInvalid
	default:
		base = errors.New("server: grain failed")
	}
	return fmt.Errorf("%w: %s", base, ge.Message)
}
