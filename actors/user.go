package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// KindUser is the grain kind of users; the identity is the user id.
const KindUser = "user"

// passivateAfter is how long a user grain with nothing to keep stays
// active without messages. A grain holding presence or watchers never
// passivates: presence lives only in its memory.
const passivateAfter = 60 * time.Second

// freshTimeout bounds how long a grain waits for its node's directory to
// catch up with an index a caller read or wrote elsewhere: replication lag
// on a LAN is milliseconds.
const freshTimeout = 2 * time.Second

// handoverTimeout bounds the hand-over of a moving grain's runtime state:
// several request attempts while the topology settles (a node leaving
// waits for it at most this long).
const handoverTimeout = 8 * time.Second

// NewUserKind returns the cluster kind of user grains.
func NewUserKind() *cluster.Kind {
	return cluster.NewKind(KindUser, actor.PropsFromProducer(func() actor.Actor { return &userGrain{} }))
}

// userGrain owns one user's runtime state: presence (memory only), the
// watchers of that presence, and the rights every viewer holds over the
// user, cached and dropped on every directory change that concerns them.
type userGrain struct {
	grainBase

	user     *dirpb.User // nil when the directory has no such user
	dir      dirState
	rights   viewerRights
	presence presence.Presence
	set      bool // presence was set by someone since activation
	watchers watchers
	groups   memberWatchers // the call groups watching (memberwatch.go)
	ends     endWake        // re-evaluates the watchers when a right ends
}

func (g *userGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		g.activate(ctx, KindUser, m)
		g.watchers = watchers{}
	case *actor.ReceiveTimeout:
		if g.idle() {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopping:
		g.ends.stop()
		g.groups.stop(ctx, KindUser, g.id)
		g.handOver()
	case *actor.Stopped:
		g.stopped(KindUser)
	case *actorspb.SetPresence:
		g.respond(ctx, g.setPresence(ctx, m))
	case *actorspb.WatchMember:
		ctx.Respond(g.watchMember(m))
	case *actorspb.UnwatchMember:
		delete(g.groups.groups, m.GetGroup())
	case *actorspb.GetPresence:
		ctx.Respond(g.getPresence(m))
	case *actorspb.CheckRights:
		ctx.Respond(g.checkRights(m))
	case *actorspb.Watch:
		ctx.Respond(g.watch(m))
	case *actorspb.Unwatch:
		g.watchers.remove(hubRefOf(m.GetHub()), m.GetSession())
		ctx.Respond(&actorspb.UnwatchReply{})
	case *actorspb.Audience:
		ctx.Respond(g.audience(m))
	case *actorspb.Reach:
		ctx.Respond(g.reach(m))
	case *actorspb.DirectoryChanged:
		g.invalidate(ctx)
		g.tellGroups(ctx)
	case *actorspb.UserHandover:
		g.takeOver(ctx, m)
		g.respond(ctx, &actorspb.HandoverReply{})
	}
}

// respond tells the watching call groups what changed, then answers.
func (g *userGrain) respond(ctx actor.Context, reply any) {
	g.tellGroups(ctx)
	ctx.Respond(reply)
}

// tellGroups sends the watching call groups the user's state when it
// changed for them.
func (g *userGrain) tellGroups(ctx actor.Context) {
	if len(g.groups.groups) > 0 {
		g.groups.publish(ctx, g.memberState())
	}
}

// watchMember answers a call group's watch with the user's state now.
func (g *userGrain) watchMember(m *actorspb.WatchMember) *actorspb.MemberState {
	s := g.memberState()
	if s.GetError() != nil {
		return s
	}
	return g.groups.add(m, s)
}

// memberState is the user as a ring plan needs it: DND or busy as the
// user sees their own presence (neither when the directory has no such
// user), and the line their group calls ring. A change of the user or of
// their lines reaches the grain as DirectoryChanged (their id is among
// the change's users), so the ring line is sent again when it changes.
func (g *userGrain) memberState() *actorspb.MemberState {
	s := &actorspb.MemberState{Kind: KindUser, Id: g.id, Grain: pidHub(g.self)}
	if e := g.prepare(0); e != nil {
		if e.GetCode() != CodeNotFound {
			s.Error = e
		}
		return s // no such user: no ring line either
	}
	if v, ok := presence.ViewFor(g.presence, g.rightsOf(g.id), true); ok {
		s.Dnd, s.Busy = v.State == presence.DND, v.State == presence.Busy
	}
	line, err := g.deps.Store.RingLine(g.id)
	if err != nil {
		s.Error = errDirectory()
	}
	s.RingLine = line
	return s
}

func (g *userGrain) idle() bool {
	return !g.set && g.watchers.len() == 0
}

// load reads the user and the rights inputs from the local directory once
// per directory change.
func (g *userGrain) load() error {
	if g.dir.current(g.now) {
		return nil
	}
	now := g.deps.Store.Now()
	at := g.deps.Applied()
	u, err := g.deps.Store.User(g.id)
	var t *dirrights.Target
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		u = nil
	case err != nil:
		return err
	default:
		if t, err = dirrights.LoadTarget(g.deps.Store, g.id); err != nil {
			return err
		}
	}
	g.user = u
	g.rights.reset(t)
	g.dir.markLoaded(at, targetUntil(t))
	g.ends.arm(&g.grainBase, targetUntil(t), now)
	return nil
}

// loadOrFailClosed loads the directory state; when the directory cannot be
// read, the grain holds no rights inputs: it fails closed.
func (g *userGrain) loadOrFailClosed() {
	if err := g.load(); err != nil {
		g.deps.Logger.Error("actors: load user", "user", g.id, "err", err)
		g.rights.reset(nil)
	}
}

// watcherRights is rightsOf for a watcher, from its own copy while the
// cache generation holds.
func (g *userGrain) watcherRights(w *watcher) rights.Set {
	g.loadOrFailClosed()
	return g.rights.forWatcher(w)
}

// rightsOf is what viewer holds over the user, from the cache.
func (g *userGrain) rightsOf(viewer string) rights.Set {
	g.loadOrFailClosed()
	return g.rights.of(viewer)
}

// prepare readies the grain to answer a request carrying consistency index
// min: its state reflects min (freshFor), and the directory has the user.
func (g *userGrain) hasRecord() bool { return g.user != nil }

func (g *userGrain) prepare(min uint64) *actorspb.Error {
	return g.dir.prepare(g.deps, min, g, "no such user")
}

func (g *userGrain) idleDisplay() bool { return g.user.GetIdleDisplay() }

func (g *userGrain) setPresence(ctx actor.Context, m *actorspb.SetPresence) *actorspb.SetPresenceReply {
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.SetPresenceReply{Error: e}
	}
	var u presence.Update
	if m.State != nil {
		st, err := presence.ParseState(m.GetState())
		if err != nil {
			return &actorspb.SetPresenceReply{Error: refusal(CodeInvalid, err.Error())}
		}
		u.State = &st
	}
	u.Note, u.Idle = m.Note, m.Idle
	next, err := presence.Apply(g.presence, u, g.rightsOf(m.GetActor()))
	if err != nil {
		code := CodeInvalid
		if errors.Is(err, presence.ErrForbidden) {
			code = CodeForbidden
		}
		return &actorspb.SetPresenceReply{Error: refusal(code, err.Error())}
	}
	g.presence, g.set = next, true
	g.publish(ctx)
	v, ok := presence.ViewFor(g.presence, g.rightsOf(m.GetActor()), g.idleDisplay() || m.GetActor() == g.id)
	return &actorspb.SetPresenceReply{View: viewPB(v, ok)}
}

// publish sends every watcher what changed for them: one batch per hub.
func (g *userGrain) publish(ctx actor.Context) {
	if g.watchers.len() == 0 {
		return
	}
	g.loadOrFailClosed()
	for h, b := range fanOut(g.watchers, g.presence, g.idleDisplay(), g.rights.forWatcher) {
		b.Target = g.id
		ctx.Send(actor.NewPID(h.address, h.id), b)
	}
}

func (g *userGrain) getPresence(m *actorspb.GetPresence) *actorspb.GetPresenceReply {
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.GetPresenceReply{Error: e}
	}
	v, ok := presence.ViewFor(g.presence, g.rightsOf(m.GetViewer()), g.idleDisplay() || m.GetViewer() == g.id)
	return &actorspb.GetPresenceReply{View: viewPB(v, ok)}
}

func (g *userGrain) checkRights(m *actorspb.CheckRights) *actorspb.CheckRightsReply {
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.CheckRightsReply{Error: e}
	}
	return &actorspb.CheckRightsReply{Set: uint32(g.rightsOf(m.GetViewer()))}
}

func (g *userGrain) watch(m *actorspb.Watch) *actorspb.WatchReply {
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.WatchReply{Error: e}
	}
	w := g.watchers.add(hubRefOf(m.GetHub()), m.GetSession(), m.GetViewer())
	w.last, w.seen = presence.ViewFor(g.presence, g.rightsOf(m.GetViewer()), g.idleDisplay())
	return &actorspb.WatchReply{View: viewPB(w.last, w.seen), GrainAddress: g.self.GetAddress()}
}

// invalidate drops every cache derived from the directory and tells the
// watchers whose view changed: a revoked right stops the events at once.
func (g *userGrain) invalidate(ctx actor.Context) {
	g.dir.loaded = false
	g.publish(ctx)
}

// handOver gives the runtime state to the next activation when the grain
// stops while the cluster goes on (it moved to another node). Presence is
// handed over in memory, never through disk.
func (g *userGrain) handOver() {
	if g.deps == nil || g.deps.Request == nil || g.idle() {
		return
	}
	h := &actorspb.UserHandover{User: g.id, State: g.presence.State.String(), Note: g.presence.Note, Idle: g.presence.Idle}
	h.Watchers = handoverWatchers(g.watchers)
	g.deps.handOver(KindUser, g.id, h)
}

// takeOver merges state handed over by the previous activation. Presence
// set here since activation is newer and wins; watchers are merged.
func (g *userGrain) takeOver(ctx actor.Context, m *actorspb.UserHandover) {
	if !g.set && m.GetState() != "" {
		if st, err := presence.ParseState(m.GetState()); err == nil {
			g.presence = presence.Presence{State: st, Note: m.GetNote(), Idle: m.GetIdle()}
			g.set = true
		}
	}
	takeOverWatchers(ctx, KindUser, g.id, g.watchers, m.GetWatchers())
	g.publish(ctx)
}

// audience answers who holds a right over the user, from the loaded
// rights inputs.
func (g *userGrain) audience(m *actorspb.Audience) *actorspb.UsersReply {
	r, err := rights.ParseRight(m.GetRight())
	if err != nil {
		return &actorspb.UsersReply{Error: refusal(CodeInvalid, err.Error())}
	}
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.UsersReply{Error: e}
	}
	everyone, users := g.rights.target.Holders(r)
	return &actorspb.UsersReply{Everyone: everyone, Users: users}
}

// reach answers over whom the user holds a right, from the node's
// directory (the viewer's side of it: groups, leaderships, grants held).
func (g *userGrain) reach(m *actorspb.Reach) *actorspb.UsersReply {
	r, err := rights.ParseRight(m.GetRight())
	if err != nil {
		return &actorspb.UsersReply{Error: refusal(CodeInvalid, err.Error())}
	}
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.UsersReply{Error: e}
	}
	everyone, users, err := dirrights.Reach(g.deps.Store, g.id, r)
	if err != nil {
		return &actorspb.UsersReply{Error: errDirectory()}
	}
	return &actorspb.UsersReply{Everyone: everyone, Users: users}
}
