package api

import (
	"context"

	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
)

// LiveState is the runtime state the actor grains hold: presence and line
// state, already filtered for a viewer. It is the seam through which the
// routes that need the grains (/v1/users/{id}/presence,
// /v1/lines/{number}/state, /v1/monitor, /v1/events) will be served; until
// an implementation is passed in HandlerConfig.Live, those routes are not
// served (see docs/api.md).
//
// Concurrency contract: every method may be called from many goroutines at
// once (one per HTTP request); each blocks at most until ctx ends and then
// returns ctx's error. Values returned are copies the caller owns. Watch's
// channel is closed when ctx ends or the implementation stops; the
// implementation never blocks on a slow reader: it drops to a reset event
// instead, after which the reader must re-read what it shows.
type LiveState interface {
	// Presence returns target's presence as viewer may see it.
	Presence(ctx context.Context, viewer, target string) (presence.View, error)
	// SetPresence changes target's presence on behalf of actor (target
	// itself, or a holder of set_presence/set_note).
	SetPresence(ctx context.Context, actor, target string, u presence.Update) error
	// LineState returns the line's state as viewer may see it.
	LineState(ctx context.Context, viewer, number string) (linestate.View, error)
	// Watch streams the presence and line-state changes viewer may see,
	// from after the event id resume ("" = from now).
	Watch(ctx context.Context, viewer, resume string) (<-chan LiveEvent, error)
}

// LiveEvent is one change delivered by LiveState.Watch.
type LiveEvent struct {
	// ID orders events for Last-Event-ID resume.
	ID string
	// Reset tells the reader that events were dropped: re-read everything.
	Reset bool
	// Presence or Line is set, per the kind of change.
	User     string
	Presence *presence.View
	Line     *linestate.View
}
