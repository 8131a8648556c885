package cluster

import (
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	actorcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// HomeSiteFunc returns the home site of the grain kind/identity: the site
// whose nodes should host it, or "" when it has none (any node). It is
// called on every grain lookup and placement check, from several
// goroutines: it must be fast (cache) and safe for concurrent use. Every
// node must give the same answer for the same directory, so that all
// compute the same owner.
type HomeSiteFunc func(kind, identity string) string

// Candidate is a member as placement sees it: its actor address (the
// rendezvous key), its site and the kinds it hosts.
type Candidate struct {
	Addr  string
	Site  string
	Kinds []string
}

// PlaceOwner returns the address of the member that hosts kind/identity:
// rendezvous hashing over the members that host kind and run in homeSite;
// when homeSite is "" or none of its members is present, over every member
// that hosts kind. "" when no member hosts kind. It is a pure function of
// its inputs, so every node with the same view computes the same owner,
// and when the home site's members return the grain moves back to them.
func PlaceOwner(members []Candidate, kind, identity, homeSite string) string {
	best, found := placeAmong(members, kind, identity, homeSite)
	if !found && homeSite != "" {
		best, _ = placeAmong(members, kind, identity, "")
	}
	return best
}

// placeAmong runs rendezvous hashing over the members hosting kind in
// site ("" = every site). Ties (one in 2^32) go to the smaller address.
func placeAmong(members []Candidate, kind, identity, site string) (string, bool) {
	var best string
	var bestScore uint32
	found := false
	for _, m := range members {
		if (site != "" && m.Site != site) || !hosts(m.Kinds, kind) {
			continue
		}
		s := rendezvousScore(identity, m.Addr)
		if !found || s > bestScore || (s == bestScore && m.Addr < best) {
			best, bestScore, found = m.Addr, s, true
		}
	}
	return best, found
}

func hosts(kinds []string, kind string) bool {
	for _, k := range kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// rendezvousScore is protoactor-go's rendezvous hash (FNV-1a 32 over the
// identity, then the member address), so that a cluster without sites
// places grains where identitylookup/disthash did.
func rendezvousScore(identity, addr string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(identity)) // hash.Hash.Write never fails
	h.Write([]byte(addr))
	return h.Sum32()
}

// placementActorName is the name of the activator actor on every member;
// the same as identitylookup/disthash's, so the activation messages of
// both meet during a rolling upgrade.
const placementActorName = "partition-activator"

// siteLookup is an actorcluster.IdentityLookup like identitylookup/
// disthash, but site-aware: the owner of a grain is PlaceOwner over the
// topology's members, with each member's site from the provider and the
// grain's home site from HomeSiteFunc. Each member's placement actor
// activates the grains it owns and stops the ones it no longer owns at
// every topology change and at Recheck (a home site changed); a stopping
// grain hands its runtime state over to its new owner as it does at any
// topology change.
type siteLookup struct {
	homeSite HomeSiteFunc
	siteOf   func(actorID string) string

	c       *actorcluster.Cluster
	sub     *eventstream.Subscription
	placer  *actor.PID
	members atomic.Pointer[[]Candidate]
	mu      sync.Mutex // orders topology updates
}

var _ actorcluster.IdentityLookup = (*siteLookup)(nil)

func newSiteLookup(homeSite HomeSiteFunc, siteOf func(actorID string) string) *siteLookup {
	if homeSite == nil {
		homeSite = func(string, string) string { return "" }
	}
	l := &siteLookup{homeSite: homeSite, siteOf: siteOf}
	l.members.Store(&[]Candidate{})
	return l
}

// owner is the address of the member that hosts ci in the current view.
func (l *siteLookup) owner(ci *actorcluster.ClusterIdentity) string {
	return PlaceOwner(*l.members.Load(), ci.Kind, ci.Identity, l.homeSite(ci.Kind, ci.Identity))
}

// Get implements actorcluster.IdentityLookup: it asks the owner's placement
// actor for the grain's PID, activating it there if needed.
func (l *siteLookup) Get(ci *actorcluster.ClusterIdentity) *actor.PID {
	addr := l.owner(ci)
	if addr == "" {
		return nil
	}
	req := &actorcluster.ActivationRequest{ClusterIdentity: ci}
	res, err := l.c.ActorSystem.Root.RequestFuture(actor.NewPID(addr, placementActorName), req, 5*time.Second).Result()
	if err != nil {
		return nil
	}
	if r, ok := res.(*actorcluster.ActivationResponse); ok {
		return r.Pid
	}
	return nil
}

// RemovePid implements actorcluster.IdentityLookup.
func (l *siteLookup) RemovePid(ci *actorcluster.ClusterIdentity, pid *actor.PID) {
	l.c.MemberList.BroadcastEvent(&actorcluster.ActivationTerminated{Pid: pid, ClusterIdentity: ci}, true)
}

// Setup implements actorcluster.IdentityLookup.
func (l *siteLookup) Setup(c *actorcluster.Cluster, _ []string, _ bool) {
	l.c = c
	props := actor.PropsFromProducer(func() actor.Actor { return &placer{l: l, grains: map[string]placed{}} })
	l.placer, _ = c.ActorSystem.Root.SpawnNamed(props, placementActorName) // a fresh system: the name is free
	l.sub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*actorcluster.ClusterTopology); ok {
			l.onTopology(t)
		}
	})
}

// Shutdown implements actorcluster.IdentityLookup: it stops every grain
// activated here and waits for them.
func (l *siteLookup) Shutdown() {
	l.c.ActorSystem.EventStream.Unsubscribe(l.sub)
	if err := l.c.ActorSystem.Root.PoisonFuture(l.placer).Wait(); err != nil {
		l.c.Logger().Error("cluster: stop placement actor", slog.Any("error", err))
	}
}

func (l *siteLookup) onTopology(t *actorcluster.ClusterTopology) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := make([]Candidate, 0, len(t.Members))
	for _, m := range t.Members {
		ms = append(ms, Candidate{Addr: m.Address(), Site: l.siteOf(m.Id), Kinds: m.Kinds})
	}
	l.members.Store(&ms)
	l.c.ActorSystem.Root.Send(l.placer, recheck{})
}

// Recheck makes the placement actor stop the local grains this node no
// longer owns, e.g. after a home site changed.
func (l *siteLookup) Recheck() {
	if l.placer != nil {
		l.c.ActorSystem.Root.Send(l.placer, recheck{})
	}
}

// recheck is a local message to the placement actor: stop what moved.
type recheck struct{}

type placed struct {
	id  *actorcluster.ClusterIdentity
	pid *actor.PID
}

// placer is the placement actor: it activates the grains this node owns
// and stops those that moved away.
type placer struct {
	l      *siteLookup
	grains map[string]placed // by ClusterIdentity.AsKey
}

func (p *placer) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Stopping:
		p.stopAll(ctx)
	case *actor.Terminated:
		p.terminated(msg.Who)
	case *actorcluster.ActivationRequest:
		p.activate(ctx, msg.ClusterIdentity)
	case recheck:
		p.recheck(ctx)
	}
}

func (p *placer) activate(ctx actor.Context, ci *actorcluster.ClusterIdentity) {
	if g, ok := p.grains[ci.AsKey()]; ok {
		ctx.Respond(&actorcluster.ActivationResponse{Pid: g.pid})
		return
	}
	kind := p.l.c.GetClusterKind(ci.Kind)
	if kind == nil {
		ctx.Logger().Error("cluster: activation of an unknown kind", slog.String("kind", ci.Kind))
		ctx.Respond(&actorcluster.ActivationResponse{Failed: true})
		return
	}
	pid := ctx.SpawnPrefix(actorcluster.WithClusterIdentity(kind.Props, ci), ci.Identity)
	kind.Inc()
	p.grains[ci.AsKey()] = placed{id: ci, pid: pid}
	ctx.Respond(&actorcluster.ActivationResponse{Pid: pid})
}

func (p *placer) terminated(who *actor.PID) {
	for k, g := range p.grains {
		if g.pid.Equal(who) {
			p.l.c.GetClusterKind(g.id.Kind).Dec()
			p.l.c.MemberList.BroadcastEvent(&actorcluster.ActivationTerminated{Pid: who, ClusterIdentity: g.id}, true)
			delete(p.grains, k)
			return
		}
	}
}

func (p *placer) recheck(ctx actor.Context) {
	me := p.l.c.ActorSystem.Address()
	for _, g := range p.grains {
		if p.l.owner(g.id) != me {
			ctx.Poison(g.pid)
		}
	}
}

func (p *placer) stopAll(ctx actor.Context) {
	futures := make([]*actor.Future, 0, len(p.grains))
	for _, g := range p.grains {
		futures = append(futures, ctx.PoisonFuture(g.pid))
	}
	for _, f := range futures {
		if err := f.Wait(); err != nil {
			ctx.Logger().Error("cluster: stop grain", slog.Any("error", err))
		}
	}
}
