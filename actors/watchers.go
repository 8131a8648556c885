package actors

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/linestate"
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
	// line is the line view the session was last sent (line watchers).
	line     linestate.View
	lineSent bool
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
// sent, grouped by their new view (each distinct view once per batch). It
// updates each watcher's last view. A viewer who lost see_presence is sent
// one "not visible" and nothing after.
func fanOut(ws watchers, p presence.Presence, idleDisplay bool, rightsOf func(w *watcher) rights.Set) map[hubRef]*actorspb.PresenceBatch {
	var out map[hubRef]*actorspb.PresenceBatch
	// A change shows to most watchers in one of very few ways (state only,
	// with the note, not at all): build each message once and share it
	// among the batches (receivers only read it).
	type sharedView struct {
		v  presence.View
		ok bool
		pb *actorspb.PresenceView
	}
	var shared []sharedView
	viewIndex := func(v presence.View, ok bool) int {
		for i, s := range shared {
			if s.v == v && s.ok == ok {
				return i
			}
		}
		shared = append(shared, sharedView{v, ok, viewPB(v, ok)})
		return len(shared) - 1
	}
	for h, sessions := range ws {
		var groups []*actorspb.PresenceGroup // by index into shared
		for session, w := range sessions {
			v, ok := presence.ViewFor(p, rightsOf(w), idleDisplay)
			if ok == w.seen && v == w.last {
				continue
			}
			w.last, w.seen = v, ok
			i := viewIndex(v, ok)
			for len(groups) <= i {
				groups = append(groups, nil)
			}
			if groups[i] == nil {
				// The change's first view is most sessions' one: room for all.
				groups[i] = &actorspb.PresenceGroup{View: shared[i].pb}
				if len(groups) == 1 {
					groups[i].Sessions = make([]byte, 0, len(sessions)*(len(session)+1))
				}
			}
			groups[i].Sessions = appendSessionID(groups[i].Sessions, session)
		}
		if groups = slices.DeleteFunc(groups, func(g *actorspb.PresenceGroup) bool { return g == nil }); len(groups) > 0 {
			if out == nil {
				out = map[hubRef]*actorspb.PresenceBatch{}
			}
			out[h] = &actorspb.PresenceBatch{Groups: groups}
		}
	}
	return out
}

// handoverWatchers lists watchers for a handover message.
func handoverWatchers(ws watchers) []*actorspb.HandoverWatcher {
	var out []*actorspb.HandoverWatcher
	for ref, sessions := range ws {
		for session, w := range sessions {
			out = append(out, &actorspb.HandoverWatcher{Viewer: w.viewer, Session: session, Hub: ref.pb()})
		}
	}
	return out
}

// takeOverWatchers adds handed-over watchers that are not registered yet
// and tells their hubs where the grain lives now. They start from "nothing
// sent": the next publish sends each what it may see now.
func takeOverWatchers(ctx actor.Context, kind, id string, ws watchers, in []*actorspb.HandoverWatcher) {
	rehomed := map[hubRef]*actorspb.Rehomed{}
	for _, w := range in {
		ref := hubRefOf(w.GetHub())
		if _, ok := ws[ref][w.GetSession()]; ok {
			continue
		}
		ws.add(ref, w.GetSession(), w.GetViewer())
		r := rehomed[ref]
		if r == nil {
			r = &actorspb.Rehomed{Kind: kind, Id: id, GrainAddress: ctx.Self().GetAddress()}
			rehomed[ref] = r
		}
		r.Sessions = append(r.Sessions, w.GetSession())
	}
	for ref, r := range rehomed {
		ctx.Send(actor.NewPID(ref.address, ref.id), r)
	}
}

// sameLineView reports whether two line views show the same.
func sameLineView(a, b linestate.View) bool {
	return a.Number == b.Number && a.SeesState == b.SeesState && a.State == b.State &&
		a.SeesForwarding == b.SeesForwarding && a.Forwarding == b.Forwarding &&
		a.CanPickup == b.CanPickup && a.CanForward == b.CanForward && a.AV == b.AV && slices.Equal(a.Calls, b.Calls)
}

// lineViewPB turns a line view into its message.
func lineViewPB(v linestate.View, owner string) *actorspb.LineView {
	pb := &actorspb.LineView{Number: v.Number, Owner: owner, SeesState: v.SeesState, SeesForwarding: v.SeesForwarding,
		CanPickup: v.CanPickup, CanForward: v.CanForward, Av: v.AV.String()}
	if v.SeesState {
		pb.State = v.State.String()
		pb.Calls = make([]*actorspb.CallView, len(v.Calls))
		for i, c := range v.Calls {
			pb.Calls[i] = &actorspb.CallView{Direction: c.Direction.String(), Remote: c.Remote, Answered: c.Answered}
		}
	}
	if v.SeesForwarding {
		f := v.Forwarding
		pb.ForwardingEnabled, pb.ForwardingDestination = f.Enabled, f.Destination
		pb.ForwardingOnBusy, pb.ForwardingBusyDestination = f.Busy, f.BusyDestination
		pb.ForwardingOnNoAnswer, pb.ForwardingNoAnswerDestination, pb.ForwardingNoAnswerS = f.NoAnswer, f.NoAnswerDestination, int32(f.NoAnswerS)
	}
	return pb
}

// lineFanOut is fanOut for a line: per hub, the sessions whose view of
// the line differs from what they were last sent. A viewer who lost the
// line rights is sent one view without state and nothing after.
func lineFanOut(ws watchers, l linestate.Line, owner string, rightsOf func(w *watcher) rights.Set) map[hubRef]*actorspb.LineBatch {
	var out map[hubRef]*actorspb.LineBatch
	// As in fanOut: one message per distinct view, shared.
	type sharedView struct {
		v  linestate.View
		pb *actorspb.LineView
	}
	var shared []sharedView
	msg := func(v linestate.View) *actorspb.LineView {
		for _, s := range shared {
			if sameLineView(s.v, v) {
				return s.pb
			}
		}
		pb := lineViewPB(v, owner)
		shared = append(shared, sharedView{v, pb})
		return pb
	}
	for h, sessions := range ws {
		for session, w := range sessions {
			v := linestate.ViewFor(l, rightsOf(w))
			if w.lineSent && sameLineView(v, w.line) {
				continue
			}
			w.line, w.lineSent = v, true
			if out == nil {
				out = map[hubRef]*actorspb.LineBatch{}
			}
			b := out[h]
			if b == nil {
				b = &actorspb.LineBatch{}
				out[h] = b
			}
			b.Deliveries = append(b.Deliveries, &actorspb.LineDelivery{Session: session, View: msg(v)})
		}
	}
	return out
}
