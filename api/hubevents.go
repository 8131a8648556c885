package api

import (
	"context"
	"sync"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// HubEvents is the EventHub of a node's session hub: each stream is an
// actors.Sink of the hub, whose events it converts once per shared batch.
func HubEvents(hub *actors.Hub) EventHub { return liveEvents{hub: hub} }

// liveEvents opens the event sessions on the node's session hub.
type liveEvents struct{ hub *actors.Hub }

func (l liveEvents) Open(viewer string, buffer int) EventSession {
	e := &eventSession{hub: l.hub, out: make(chan LiveEvent, buffer)}
	e.s = l.hub.OpenSink(viewer, e)
	return e
}

// eventSession adapts an actors.Session: the hub hands each event to
// Deliver, which converts it and queues it for the stream, so no
// goroutine sits between the hub and the stream.
type eventSession struct {
	hub  *actors.Hub
	s    *actors.Session
	out  chan LiveEvent
	once sync.Once
}

var _ actors.Sink = (*eventSession)(nil)

// Deliver queues ev for the stream; false when the stream's buffer is
// full (the hub then ends the session as lagged). Called by the hub, in
// order, never after End.
func (e *eventSession) Deliver(ev actors.Event) bool {
	le, ok := liveEventOf(ev)
	if !ok {
		return true
	}
	select {
	case e.out <- le:
		return true
	default:
		return false
	}
}

// End closes the stream's channel: the hub delivers nothing after it.
func (e *eventSession) End(bool) { close(e.out) }

// sharedLive is the key of an event's conversion in its actors.Shared.
type sharedLive struct{}

type convertedEvent struct {
	le LiveEvent
	ok bool
}

// liveEventOf turns a hub event into the API's. An event the hub shares
// among sessions is converted once for all of them and marked so that
// the streams encode it once too (LiveEvent.ShareEncoding).
func liveEventOf(ev actors.Event) (LiveEvent, bool) {
	if ev.Shared == nil {
		return convertEvent(ev)
	}
	c := ev.Shared.Value(sharedLive{}, func() any {
		le, ok := convertEvent(ev)
		return convertedEvent{le.ShareEncoding(), ok}
	}).(convertedEvent)
	return c.le, c.ok
}

func convertEvent(ev actors.Event) (LiveEvent, bool) {
	le := LiveEvent{Target: ev.Target}
	switch {
	case ev.View != nil:
		p := presenceStateOf(ev.View)
		le.Presence = &p
	case ev.Line != nil:
		l := actors.LineViewOf(ev.Line)
		le.Line = &l
	case ev.Chat != nil:
		le.Chat = ev.Chat
	default:
		return le, false
	}
	return le, true
}

func (e *eventSession) Events() <-chan LiveEvent { return e.out }

func (e *eventSession) Lagged() bool { return e.s.Lagged() }

func (e *eventSession) WatchUser(ctx context.Context, target string) (PresenceState, error) {
	v, err := e.hub.Watch(ctx, e.s, target)
	if err != nil {
		return PresenceState{}, err
	}
	return presenceStateOf(v), nil
}

func (e *eventSession) WatchLine(ctx context.Context, number string) (actors.LineView, error) {
	v, err := e.hub.WatchLine(ctx, e.s, number)
	if err != nil {
		return actors.LineView{}, err
	}
	return actors.LineViewOf(v), nil
}

// Close unwatches every target.
func (e *eventSession) Close(ctx context.Context) {
	e.once.Do(func() { e.hub.Close(ctx, e.s) })
}

// presenceStateOf turns a grain's presence view into the API's; a state
// the API does not know shows as not visible (the grains only send known
// ones).
func presenceStateOf(pv *actorspb.PresenceView) PresenceState {
	v, visible, err := actors.PresenceViewOf(pv)
	if err != nil {
		return PresenceState{}
	}
	return PresenceState{Visible: visible, View: v}
}
