package actors

import (
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
)

// hubRef identifies a node's session hub.
type hubRef struct{ address, id string }

func hubRefOf(h *actorspb.Hub) hubRef { return hubRef{h.GetAddress(), h.GetId()} }

func (h hubRef) pb() *actorspb.Hub { return &actorspb.Hub{Address: h.address, Id: h.id} }

// watcher is one session watching a user's presence.
type watcher struct {
	viewer string
	// last is the view the session was last sent, so a change the viewer
	// cannot see sends nothing and a revoked right sends one "not visible".
	last presence.View
	seen bool // last is visible
	// held caches what viewer holds over the user, valid while gen equals
	// the grain's cache generation: a change to thousands of watchers then
	// costs no map lookup per watcher.
	held rights.Set
	gen  uint64
}

// watchers are a user's watchers grouped by the hub (node) holding their
// sessions: a change goes out as one batch per hub.
type watchers map[hubRef]map[string]*watcher

func (ws watchers) add(h hubRef, session, viewer string) *watcher {
	if ws[h] == nil {
		ws[h] = map[string]*watcher{}
	}
	w := &watcher{viewer: viewer}
	ws[h][session] = w
	return w
}

func (ws watchers) remove(h hubRef, session string) {
	delete(ws[h], session)
	if len(ws[h]) == 0 {
		delete(ws, h)
	}
}

func (ws watchers) len() int {
	n := 0
	for _, s := range ws {
		n += len(s)
	}
	return n
}

// viewPB turns a view into its message; ok=false gives "not visible".
func viewPB(v presence.View, ok bool) *actorspb.PresenceView {
	if !ok {
		return &actorspb.PresenceView{}
	}
	return &actorspb.PresenceView{Visible: true, State: v.State.String(), Note: v.Note, Idle: v.Idle}
}

// fanOut computes, for the current presence, what every watcher must be
// sent: per hub, the sessions whose view differs from what they were last
// sent, with their new view. It updates each watcher's last view. A viewer
// who lost see_presence is sent one "not visible" and nothing after.
func fanOut(ws watchers, p presence.Presence, idleDisplay bool, rightsOf func(w *watcher) rights.Set) map[hubRef]*actorspb.PresenceBatch {
	var out map[hubRef]*actorspb.PresenceBatch
	// A change shows to most watchers in one of very few ways (state only,
	// with the note, not at all): build each message once and share it
	// (receivers only read it).
	type sharedView struct {
		v  presence.View
		ok bool
		pb *actorspb.PresenceView
	}
	var shared []sharedView
	msg := func(v presence.View, ok bool) *actorspb.PresenceView {
		for _, s := range shared {
			if s.v == v && s.ok == ok {
				return s.pb
			}
		}
		pb := viewPB(v, ok)
		shared = append(shared, sharedView{v, ok, pb})
		return pb
	}
	for h, sessions := range ws {
		for session, w := range sessions {
			v, ok := presence.ViewFor(p, rightsOf(w), idleDisplay)
			if ok == w.seen && v == w.last {
				continue
			}
			w.last, w.seen = v, ok
			if out == nil {
				out = map[hubRef]*actorspb.PresenceBatch{}
			}
			b := out[h]
			if b == nil {
				b = &actorspb.PresenceBatch{Deliveries: make([]*actorspb.PresenceDelivery, 0, len(sessions))}
				out[h] = b
			}
			b.Deliveries = append(b.Deliveries, &actorspb.PresenceDelivery{Session: session, View: msg(v, ok)})
		}
	}
	return out
}
