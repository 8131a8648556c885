package api

import (
	"context"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/presence"
)

// PresenceService is the runtime presence the user grains hold, already
// filtered for a viewer: the seam through which /v1/users/{id}/presence is
// served. Line state, the monitor and the event stream come through the
// seams of the same kind in liveconfig.go and linestate.go.
//
// Concurrency contract: every method may be called from many goroutines at
// once (one per HTTP request); each blocks at most until ctx ends and then
// returns an error wrapping ctx's. minIndex is the directory index the
// answer must reflect (the request's consistency token; 0 = none).
// Refusals wrap ErrLiveForbidden, ErrLiveNotFound or ErrLiveInvalid.
type PresenceService interface {
	// Presence returns target's presence as viewer may see it; visible is
	// false when viewer may not see it at all.
	Presence(ctx context.Context, viewer, target string, minIndex uint64) (v presence.View, visible bool, err error)
	// SetPresence changes target's presence on behalf of actor (target
	// itself, or a holder of set_presence/set_note) and returns it as actor
	// now sees it.
	SetPresence(ctx context.Context, actor, target string, u presence.Update, minIndex uint64) (presence.View, error)
}

// Refusals of a PresenceService.
var (
	ErrLiveForbidden = actors.ErrForbidden
	ErrLiveNotFound  = actors.ErrNotFound
	ErrLiveInvalid   = actors.ErrInvalid
)
