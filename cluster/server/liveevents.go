package server

import (
	"context"
	"errors"
	"sync"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/api"
)

// liveEvents opens the API's event sessions on the node's session hub.
type liveEvents struct{ hub *actors.Hub }

var _ api.EventHub = liveEvents{}

func (l liveEvents) Open(viewer string, buffer int) api.EventSession {
	s := &eventSession{hub: l.hub, s: l.hub.Open(viewer, buffer), out: make(chan api.LiveEvent), done: make(chan struct{})}
	s.wg.Go(s.forward)
	return s
}

// eventSession adapts an actors.Session: one goroutine turns its events
// into the API's until the session closes (Close, lag, hub stop).
type eventSession struct {
	hub  *actors.Hub
	s    *actors.Session
	out  chan api.LiveEvent
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func (e *eventSession) forward() {
	defer close(e.out)
	for ev := range e.s.Events {
		le := api.LiveEvent{Target: ev.Target}
		switch {
		case ev.View != nil:
			p := presenceStateOf(ev.View)
			le.Presence = &p
		case ev.Line != nil:
			l := lineStateOf(ev.Line)
			le.Line = &l
		case ev.Chat != nil:
			le.Chat = ev.Chat
		default:
			continue
		}
		select {
		case e.out <- le:
		case <-e.done:
			return
		}
	}
}

func (e *eventSession) Events() <-chan api.LiveEvent { return e.out }

func (e *eventSession) Lagged() bool { return e.s.Lagged() }

func (e *eventSession) WatchUser(ctx context.Context, target string) (api.PresenceState, error) {
	v, err := e.hub.Watch(ctx, e.s, target)
	if err != nil {
		return api.PresenceState{}, refusal(err)
	}
	return presenceStateOf(v), nil
}

func (e *eventSession) WatchLine(ctx context.Context, number string) (api.LineState, error) {
	v, err := e.hub.WatchLine(ctx, e.s, number)
	if err != nil {
		return api.LineState{}, refusal(err)
	}
	return lineStateOf(v), nil
}

// Close unwatches every target and waits for the forwarding goroutine.
func (e *eventSession) Close(ctx context.Context) {
	e.once.Do(func() {
		close(e.done)
		e.hub.Close(ctx, e.s)
		e.wg.Wait()
	})
}

// refusal maps a grain's refusal to the API's.
func refusal(err error) error {
	var ge *actors.GrainError
	if errors.As(err, &ge) {
		return grainError(&actorspb.Error{Code: ge.Code, Message: ge.Message})
	}
	return err
}

// presenceStateOf turns a grain's presence view into the API's; a state
// the API does not know shows as not visible (the grains only send known
// ones).
func presenceStateOf(pv *actorspb.PresenceView) api.PresenceState {
	v, visible, err := viewOf(pv)
	if err != nil {
		return api.PresenceState{}
	}
	return api.PresenceState{Visible: visible, View: v}
}
