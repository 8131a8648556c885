package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// Call groups watch their members' user and primary-line grains instead
// of asking each of them on every call (docs/hunt-groups.md, "Members'
// live state"). The watched side is memberWatchers, held by user and line
// grains; the watching side is memberCache, held by group grains.
//
// What keeps the cache from showing stale availability:
//   - every change of a watched state is sent to the watchers at once, in
//     order (seq), before the grain answers whatever caused it;
//   - a watched activation that stops sends "gone", and the group asks
//     its successor at the next plan;
//   - any change of the cluster topology (a node joined, left or failed:
//     grains may have moved without saying so) empties every cache;
//   - an entry older than memberCacheMaxAge is asked again, so a lost
//     message cannot leave a member wrong for longer than that.

// memberCacheMaxAge bounds how long a group trusts a member state it
// has not been sent again: watched grains send every change, so this
// only matters when a message was lost; asking three members again every
// few seconds costs nothing next to asking them on every call. A variable
// so that tests counting asks can rule out expiry on a slow machine.
var memberCacheMaxAge = 5 * time.Second

// memberWatchers are the call groups watching a user or line grain: group
// id → the group grain's PID.
type memberWatchers struct {
	groups map[string]*actor.PID
	seq    uint64
	last   *actorspb.MemberState // the state the watchers were last sent
}

// add records a watch and returns the reply: the state now.
func (m *memberWatchers) add(w *actorspb.WatchMember, now *actorspb.MemberState) *actorspb.MemberState {
	if m.groups == nil {
		m.groups = map[string]*actor.PID{}
	}
	m.groups[w.GetGroup()] = actor.NewPID(w.GetWatcher().GetAddress(), w.GetWatcher().GetId())
	m.seq++
	now.Seq = m.seq
	m.last = now
	return now
}

// publish sends now to every watcher when it differs from what they were
// last sent.
func (m *memberWatchers) publish(ctx actor.Context, now *actorspb.MemberState) {
	if len(m.groups) == 0 || sameMemberState(m.last, now) {
		return
	}
	m.seq++
	now.Seq = m.seq
	m.last = now
	for _, pid := range m.groups {
		ctx.Send(pid, now)
	}
}

// stop tells every watcher the activation is gone.
func (m *memberWatchers) stop(ctx actor.Context, kind, id string) {
	if len(m.groups) == 0 {
		return
	}
	m.seq++
	gone := &actorspb.MemberState{Kind: kind, Id: id, Grain: pidHub(ctx.Self()), Seq: m.seq, Gone: true}
	for _, pid := range m.groups {
		ctx.Send(pid, gone)
	}
	clear(m.groups)
}

func sameMemberState(a, b *actorspb.MemberState) bool {
	return a != nil && b != nil && a.GetDnd() == b.GetDnd() && a.GetBusy() == b.GetBusy() && a.GetRingLine() == b.GetRingLine() &&
		(a.GetError() == nil) == (b.GetError() == nil) && sameBindings(a.GetBindings(), b.GetBindings())
}

func sameBindings(a, b []*actorspb.Binding) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true // the same slice (a line converts its bindings once per load)
	}
	for i, x := range a {
		if !proto.Equal(x, b[i]) {
			return false
		}
	}
	return true
}

func pidHub(pid *actor.PID) *actorspb.Hub {
	return &actorspb.Hub{Address: pid.GetAddress(), Id: pid.GetId()}
}

// memberCache is a group grain's copy of its members' user and line
// states, filled by asking (WatchMember) and kept by what the watched
// grains send.
type memberCache struct {
	users, lines map[string]cachedMember
	// topology is the cluster topology generation the entries were made
	// in; epoch counts invalidations, so that an ask started before one
	// does not fill the cache after it.
	topology uint64
	epoch    uint64
}

type cachedMember struct {
	grain *actor.PID
	state *actorspb.MemberState
	at    time.Time
}

func (c *memberCache) table(kind string) map[string]cachedMember {
	if c.users == nil {
		c.users, c.lines = map[string]cachedMember{}, map[string]cachedMember{}
	}
	if kind == KindLine {
		return c.lines
	}
	return c.users
}

// reset empties the cache.
func (c *memberCache) reset() {
	clear(c.users)
	clear(c.lines)
	c.epoch++
}

// sync empties the cache when the cluster topology changed since it was
// filled.
func (c *memberCache) sync(topology uint64) {
	if c.topology != topology {
		c.reset()
		c.topology = topology
	}
}

// get returns the state of kind id when the cache holds a fresh one.
func (c *memberCache) get(kind, id string, now time.Time) (*actorspb.MemberState, bool) {
	e, ok := c.table(kind)[id]
	if !ok || now.Sub(e.at) > memberCacheMaxAge {
		return nil, false
	}
	return e.state, true
}

// apply takes one state a watched grain sent or an ask returned. A state
// from another activation than the one cached, or a gone, drops the
// entry: the next plan asks. A sent state finding no entry is kept: it is
// the activation's whole state, newer than the ask's answer that may
// still be on its way (seq orders them).
func (c *memberCache) apply(s *actorspb.MemberState, now time.Time) {
	if s.GetKind() != KindUser && s.GetKind() != KindLine {
		return
	}
	t := c.table(s.GetKind())
	grain := actor.NewPID(s.GetGrain().GetAddress(), s.GetGrain().GetId())
	e, ok := t[s.GetId()]
	switch {
	case s.GetGone():
		// An ask its activation answered before it stopped may still be
		// on its way: it must not fill the cache.
		delete(t, s.GetId())
		c.epoch++
	case s.GetError() != nil || s.GetGrain() == nil || (ok && !e.grain.Equal(grain)):
		delete(t, s.GetId())
	case ok && s.GetSeq() <= e.state.GetSeq():
		// older than what the cache holds
	default:
		t[s.GetId()] = cachedMember{grain: grain, state: s, at: now}
	}
}

// fill takes the states an ask started at epoch returned, unless the
// cache was invalidated since.
func (c *memberCache) fill(epoch uint64, states []*actorspb.MemberState, now time.Time) {
	if epoch != c.epoch {
		return
	}
	for _, s := range states {
		c.apply(s, now)
	}
}

// unwatchAll tells every watched grain the group stops watching.
func (c *memberCache) unwatchAll(ctx actor.Context, group string) {
	for _, t := range []map[string]cachedMember{c.users, c.lines} {
		for _, e := range t {
			ctx.Send(e.grain, &actorspb.UnwatchMember{Group: group})
		}
	}
	c.reset()
}

// memberFill carries asked member states back into the group grain
// (local only: sent to itself).
type memberFill struct {
	epoch  uint64
	states []*actorspb.MemberState
}

// watchTopology counts the cluster topology changes of system into d, for
// the group grains' caches; the returned function stops it.
func (d *Deps) watchTopology(system *actor.ActorSystem) func() {
	sub := system.EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(*cluster.ClusterTopology); ok {
			d.topology.Add(1)
		}
	})
	return func() { system.EventStream.Unsubscribe(sub) }
}
