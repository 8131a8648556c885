package actors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// HubName is the actor name of every node's session hub.
const HubName = "ucgrid-hub"

// Event is one change as a session's viewer may see it: a user's presence
// (View set, Target the user id), a line's state (Line set, Target the
// line number) or a chat message to or from the viewer (Chat set, Target
// the other user; hubchat.go).
type Event struct {
	Target string
	View   *actorspb.PresenceView
	Line   *actorspb.LineView
	Chat   *dirpb.ChatMessage
	// Shared is common to every session that got this same event (an
	// equal view of the same change) from one batch; nil when the event
	// is this session's alone. Sessions that see the change differently
	// never share one.
	Shared *Shared
}

// Shared lets the consumers of one event delivered to many sessions
// derive what is the same for all of them (the API's conversion and wire
// encoding) once instead of once per session. It is safe for concurrent
// use: the sessions' consumers run on their own goroutines.
type Shared struct {
	mu   sync.Mutex
	vals []sharedValue
}

type sharedValue struct{ key, val any }

// Value returns what was derived under key, calling derive the first
// time. key identifies the kind of derivation (a consumer's own
// unexported type), so that two consumers never get each other's values.
func (s *Shared) Value(key any, derive func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vals {
		if v.key == key {
			return v.val
		}
	}
	val := derive()
	s.vals = append(s.vals, sharedValue{key, val})
	return val
}

// Sink takes a session's events in place of its Events channel
// (OpenSink), so the hub hands them straight to the consumer. The hub
// calls Deliver once per event, in order, with its lock held: Deliver
// must not block, and answers false when the sink has no room left (the
// hub then ends the session as lagged). End is called once, after the
// last Deliver, when the session is closed, lagged or the hub stops.
type Sink interface {
	Deliver(Event) bool
	End(lagged bool)
}

// Session is one client's stream of events (an SSE stream, a SIP
// subscription), held by the hub of the node the client is connected to.
type Session struct {
	ID     string
	Viewer string
	// Events delivers the session's events in order. It is closed when the
	// session is closed, or when the client fell so far behind that its
	// buffer overflowed (Lagged then reports true): the client must
	// resynchronise.
	Events <-chan Event

	events  chan Event
	sink    Sink // instead of events (OpenSink)
	mu      sync.Mutex
	targets map[watched]string // → actor address of the grain's node
	closed  bool
	lagged  bool
}

// Lagged reports whether the session was closed because its buffer
// overflowed.
func (s *Session) Lagged() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagged
}

// Hub is a node's session hub: sessions register here, the hub registers
// them as watchers with the target users' grains, and the grains send it
// one batch per change, which it hands to the local sessions. Its methods
// are safe for concurrent use.
type Hub struct {
	bound atomic.Pointer[hubBinding]

	mu       sync.Mutex
	sessions map[string]hubSession
	rewatch  sync.WaitGroup
}

// hubSession is a hub's entry for a session: its sink is kept beside the
// pointer so that handing an event to a sink session reads no more than
// the map's slot (a batch reaches thousands of sessions, each a cache
// miss to dereference).
type hubSession struct {
	s    *Session
	sink Sink
}

// hubBinding is the actor system a hub works on: it changes when the node
// restarts its actor layer (Rebind).
type hubBinding struct {
	system   *actor.ActorSystem
	deps     *Deps
	pid      *actor.PID
	topology *eventstream.Subscription
}

// StartHub spawns the hub actor of system under HubName.
func StartHub(system *actor.ActorSystem, deps *Deps) (*Hub, error) {
	h := &Hub{sessions: map[string]hubSession{}}
	if err := h.bind(system, deps); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Hub) bind(system *actor.ActorSystem, deps *Deps) error {
	pid, err := system.Root.SpawnNamed(actor.PropsFromFunc(h.receive), HubName)
	if err != nil {
		return fmt.Errorf("actors: start hub: %w", err)
	}
	sub := system.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*cluster.ClusterTopology); ok && len(t.Left) > 0 {
			left := map[string]bool{}
			for _, m := range t.Left {
				left[m.Address()] = true
			}
			h.rewatch.Go(func() { h.rewatchOn(left) })
		}
	})
	h.bound.Store(&hubBinding{system: system, deps: deps, pid: pid, topology: sub})
	return nil
}

func (h *Hub) unbind() {
	b := h.bound.Load()
	b.system.EventStream.Unsubscribe(b.topology)
	b.system.Root.Stop(b.pid)
}

// Rebind moves the hub to a new actor system: the node restarted its actor
// layer under a new identity (the cluster had blocked the old one). The
// sessions stay open; each is registered again with the grains it watches
// and sent their current state.
func (h *Hub) Rebind(system *actor.ActorSystem, deps *Deps) error {
	h.unbind()
	if err := h.bind(system, deps); err != nil {
		return err
	}
	h.rewatch.Go(func() { h.rewatchOn(nil) })
	return nil
}

func (h *Hub) deps() *Deps { return h.bound.Load().deps }

// rewatchConcurrency bounds the Watch requests a hub sends at once when it
// re-registers its sessions after a node failed.
const rewatchConcurrency = 16

// rewatchOn re-registers every session watching a grain that lived on one
// of the nodes that left (every session, when left is nil): the grain's
// next activation does not know them. Each such session is sent the target's state as its
// new grain has it: after a crash that is what the sources re-asserted.
func (h *Hub) rewatchOn(left map[string]bool) {
	type job struct {
		s *Session
		t watched
	}
	var jobs []job
	h.mu.Lock()
	for _, e := range h.sessions {
		s := e.s
		s.mu.Lock()
		for t, addr := range s.targets {
			if left == nil || left[addr] {
				jobs = append(jobs, job{s, t})
			}
		}
		s.mu.Unlock()
	}
	h.mu.Unlock()
	sem := make(chan struct{}, rewatchConcurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), handoverTimeout)
			defer cancel()
			var ev Event
			var err error
			switch j.t.kind {
			case KindUser:
				ev.View, err = h.Watch(ctx, j.s, j.t.id)
			case KindLine:
				ev.Line, err = h.WatchLine(ctx, j.s, j.t.id)
			}
			if err != nil {
				h.deps().Logger.Warn("actors: session not re-registered after a node left", "kind", j.t.kind, "target", j.t.id, "err", err)
				return
			}
			ev.Target = j.t.id
			h.mu.Lock()
			if e := h.sessions[j.s.ID]; e.s == j.s {
				h.deliver(e, ev)
			}
			h.mu.Unlock()
		})
	}
	wg.Wait()
}

// Stop stops the hub actor and closes every session.
func (h *Hub) Stop() {
	h.unbind()
	h.rewatch.Wait()
	h.mu.Lock()
	sessions := h.sessions
	h.sessions = map[string]hubSession{}
	h.mu.Unlock()
	for _, e := range sessions {
		h.closeSession(e.s, false)
	}
}

// applied is the directory index this node has applied (0 without a
// directory).
func (h *Hub) applied() uint64 {
	d := h.deps()
	if d.Applied == nil {
		return 0
	}
	return d.Applied()
}

func (h *Hub) ref() *actorspb.Hub {
	pid := h.bound.Load().pid
	return &actorspb.Hub{Address: pid.Address, Id: pid.Id}
}

// watched is a grain a session watches.
type watched struct{ kind, id string }

func (h *Hub) receive(ctx actor.Context) {
	switch b := ctx.Message().(type) {
	case *actorspb.PresenceBatch:
		h.mu.Lock()
		defer h.mu.Unlock()
		var share viewSharing
		for _, g := range b.GetGroups() {
			v, shared := share.presence(g.GetView())
			h.deliverGroup(g.GetSessions(), Event{Target: b.GetTarget(), View: v, Shared: shared})
		}
	case *actorspb.Rehomed:
		h.mu.Lock()
		defer h.mu.Unlock()
		t := watched{b.GetKind(), b.GetId()}
		for _, id := range b.GetSessions() {
			if s := h.sessions[id].s; s != nil {
				s.mu.Lock()
				if _, ok := s.targets[t]; ok {
					s.targets[t] = b.GetGrainAddress()
				}
				s.mu.Unlock()
			}
		}
	case *actorspb.LineBatch:
		h.mu.Lock()
		defer h.mu.Unlock()
		var share viewSharing
		for _, d := range b.GetDeliveries() {
			if e, ok := h.sessions[d.GetSession()]; ok {
				v, shared := share.line(d.GetView())
				h.deliver(e, Event{Target: b.GetLine(), Line: v, Shared: shared})
			}
		}
	}
}

// deliverGroup hands ev to every session of a PresenceGroup's list that
// is still open. A malformed list is delivered up to the fault and
// reported. Called with h.mu held.
func (h *Hub) deliverGroup(list []byte, ev Event) {
	for len(list) > 0 {
		id, rest, err := nextSessionID(list)
		if err != nil {
			h.deps().Logger.Warn("actors: presence batch dropped in part", "target", ev.Target, "err", err)
			return
		}
		if e, ok := h.sessions[string(id)]; ok {
			h.deliver(e, ev)
		}
		list = rest
	}
}

// deliver hands ev to s without blocking the hub; a full buffer closes the
// session as lagged. Called with h.mu held.
func (h *Hub) deliver(e hubSession, ev Event) {
	if e.sink != nil {
		if e.sink.Deliver(ev) {
			return
		}
	} else {
		select {
		case e.s.events <- ev:
			return
		default:
		}
	}
	delete(h.sessions, e.s.ID)
	go h.closeSession(e.s, true)
}

// Open creates a session of viewer with room for buffer undelivered events.
func (h *Hub) Open(viewer string, buffer int) *Session {
	ch := make(chan Event, buffer)
	return h.open(&Session{Viewer: viewer, Events: ch, events: ch})
}

// OpenSink creates a session of viewer whose events go to sink; its
// Events channel is nil.
func (h *Hub) OpenSink(viewer string, sink Sink) *Session {
	return h.open(&Session{Viewer: viewer, sink: sink})
}

func (h *Hub) open(s *Session) *Session {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	s.ID, s.targets = hex.EncodeToString(b[:]), map[watched]string{}
	h.mu.Lock()
	h.sessions[s.ID] = hubSession{s, s.sink}
	h.mu.Unlock()
	return s
}

// Watch makes s receive target's presence changes and returns the presence
// as s's viewer sees it now. The grain answers with rights at least as new
// as this node's directory.
func (h *Hub) Watch(ctx context.Context, s *Session, target string) (*actorspb.PresenceView, error) {
	r, err := Ask[*actorspb.WatchReply](ctx, RequestFunc(h.deps().Request), target, KindUser,
		&actorspb.Watch{Viewer: s.Viewer, Session: s.ID, Hub: h.ref(), MinIndex: h.applied()})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.targets[watched{KindUser, target}] = r.GetGrainAddress()
	s.mu.Unlock()
	return r.GetView(), nil
}

// WatchLine makes s receive the state changes of line (a number) and
// returns the line as s's viewer sees it now.
func (h *Hub) WatchLine(ctx context.Context, s *Session, line string) (*actorspb.LineView, error) {
	r, err := Ask[*actorspb.WatchLineReply](ctx, RequestFunc(h.deps().Request), line, KindLine,
		&actorspb.WatchLine{Viewer: s.Viewer, Session: s.ID, Hub: h.ref(), MinIndex: h.applied()})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.targets[watched{KindLine, line}] = r.GetGrainAddress()
	s.mu.Unlock()
	return r.GetView(), nil
}

// Close ends s and unregisters it from the grains it watched.
func (h *Hub) Close(ctx context.Context, s *Session) {
	h.mu.Lock()
	delete(h.sessions, s.ID)
	h.mu.Unlock()
	h.closeSession(s, false)
	s.mu.Lock()
	targets := make([]watched, 0, len(s.targets))
	for t := range s.targets {
		targets = append(targets, t)
	}
	s.mu.Unlock()
	for _, t := range targets {
		if _, err := h.deps().Request(ctx, t.id, t.kind, &actorspb.Unwatch{Session: s.ID, Hub: h.ref()}); err != nil {
			// The grain drops the watcher anyway when it passivates or
			// moves; nothing is delivered to a closed session.
			h.deps().Logger.Debug("actors: unwatch", "kind", t.kind, "target", t.id, "err", err)
		}
	}
}

func (h *Hub) closeSession(s *Session, lagged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed, s.lagged = true, lagged
	if s.sink != nil {
		s.sink.End(lagged)
		return
	}
	close(s.events)
}
