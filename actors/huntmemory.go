package actors

import (
	"context"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A group grain whose strategy remembers calls (round_robin,
// longest_idle) keeps that memory durable as dirpb.HuntMemory through the
// directory, so that it survives the crash of the group's node, not only
// the graceful hand-over:
//
//   - every call event that changes the state is written through group
//     commit, aside from the grain's loop: a call never waits for it. At
//     most one write per group is in flight; changes meanwhile are
//     written, newest state only, when it ends (coalescing);
//   - on activation the grain first writes the group id alone (a write
//     that changes nothing: a read barrier, so its node has applied every
//     write committed before, wherever it was proposed), then reads the
//     stored memory. Bounded by huntMemoryLoadTimeout: without a Raft
//     leader the grain goes on with its node's copy;
//   - ring_all and sequential groups write nothing: their calls add no
//     Raft write.
//
// What remains: a crash between a call event reaching the grain and its
// write committing (group commit, a few milliseconds) loses that event;
// and events travel from the proxy to the grain asynchronously, so a crash
// of the node between the proxy forking a stage and the grain hearing of
// it loses the offer too. In both cases the next call starts with the
// member the lost event would have moved past. The next call reaches a new
// activation only after the cluster declares the node dead (about a second
// or more), long after both.
type huntMemory struct {
	loaded   bool // the stored memory was read since activation
	stepped  bool // a call event changed the state since activation
	inFlight bool // a write is under way
	pending  bool // the state changed while it was: write again when it ends
}

// huntWritten is the end of a hunt memory write (local only: the grain
// sends it to itself).
type huntWritten struct{ err error }

const (
	// huntMemoryWriteTimeout bounds one write of the memory: long enough
	// for a Raft leader election (about a second), after which a write
	// that did not make it is reported and the next change tries again.
	huntMemoryWriteTimeout = 5 * time.Second
	// huntMemoryLoadTimeout bounds the read barrier of an activation.
	// It holds the first call after a failover, so it stays within the
	// 2 s failover budget; a leader election normally ends well before.
	huntMemoryLoadTimeout = 1500 * time.Millisecond
)

// remembers reports whether the group's strategy keeps a memory between
// calls worth making durable.
func remembers(rec *dirpb.Group) bool {
	s := rec.GetCallGroup().GetStrategy()
	return s == hunt.RoundRobin.String() || s == hunt.LongestIdle.String()
}

// loadMemory merges the stored memory into the grain's state, once per
// activation, for the groups that remember.
func (g *groupGrain) loadMemory() {
	if g.mem.loaded || !remembers(g.record) {
		return
	}
	g.mem.loaded = true
	ctx, cancel := context.WithTimeout(context.Background(), huntMemoryLoadTimeout)
	defer cancel()
	barrier := &dirpb.Command{Op: &dirpb.Command_PutHuntMemory{PutHuntMemory: &dirpb.PutHuntMemory{Memory: &dirpb.HuntMemory{Group: g.id}}}}
	if _, err := g.deps.applyGrouped(ctx, barrier); err != nil {
		g.deps.Logger.Warn("actors: hunt memory read from this node's copy: the read barrier failed", "group", g.id, "err", err)
	}
	m, err := g.deps.Store.HuntMemory(g.id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return
	case err != nil:
		g.deps.Logger.Warn("actors: hunt memory not read", "group", g.id, "err", err)
		return
	}
	g.hunt = mergeHunt(g.hunt, stateOf(m.GetRoundRobinLast(), m.GetLastCallUnixMs()), !g.mem.stepped)
}

// persist writes the grain's memory through the directory aside, unless a
// write is in flight: then the newest state follows when it ends.
func (g *groupGrain) persist(ctx actor.Context) {
	if !remembers(g.record) {
		return
	}
	if g.mem.inFlight {
		g.mem.pending = true
		return
	}
	g.mem.inFlight, g.mem.pending = true, false
	cmd := &dirpb.Command{Op: &dirpb.Command_PutHuntMemory{PutHuntMemory: &dirpb.PutHuntMemory{Memory: memoryOf(g.id, g.hunt)}}}
	deps, root, self := g.deps, ctx.ActorSystem().Root, ctx.Self()
	deps.goAside(func() {
		wctx, cancel := context.WithTimeout(context.Background(), huntMemoryWriteTimeout)
		defer cancel()
		_, err := deps.applyGrouped(wctx, cmd)
		root.Send(self, &huntWritten{err: err})
	})
}

// written ends a write: the next one starts when the state changed
// meanwhile.
func (g *groupGrain) written(ctx actor.Context, m *huntWritten) {
	g.mem.inFlight = false
	if m.err != nil {
		g.deps.Logger.Warn("actors: hunt memory not stored", "group", g.id, "err", m.err)
	}
	if g.mem.pending {
		g.persist(ctx)
	}
}

// memoryOf is the durable form of st.
func memoryOf(group string, st hunt.State) *dirpb.HuntMemory {
	m := &dirpb.HuntMemory{Group: group, RoundRobinLast: st.RoundRobinLast, LastCallUnixMs: make(map[string]int64, len(st.LastCall))}
	for u, t := range st.LastCall {
		m.LastCallUnixMs[u] = t.UnixMilli()
	}
	return m
}

// stateOf is the hunt state of a stored or handed-over memory.
func stateOf(roundRobinLast string, lastCallUnixMs map[string]int64) hunt.State {
	st := hunt.State{RoundRobinLast: roundRobinLast}
	for u, ms := range lastCallUnixMs {
		st = hunt.Step(st, hunt.Event{Kind: hunt.Ended, User: u}, time.UnixMilli(ms))
	}
	return st
}

// mergeHunt merges other (a previous activation's memory) into st: each
// member's last call keeps the later time; the round-robin position is
// other's when takePosition (nothing happened here yet) or st has none.
func mergeHunt(st, other hunt.State, takePosition bool) hunt.State {
	if other.RoundRobinLast != "" && (takePosition || st.RoundRobinLast == "") {
		st.RoundRobinLast = other.RoundRobinLast
	}
	for u, at := range other.LastCall {
		if cur, ok := st.LastCall[u]; !ok || at.After(cur) {
			st = hunt.Step(st, hunt.Event{Kind: hunt.Ended, User: u}, at)
		}
	}
	return st
}
