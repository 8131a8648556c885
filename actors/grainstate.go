package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
)

// grainBase is what every grain kind holds: its node's Deps, its identity
// and its PID, listed among the node's local grains while active.
type grainBase struct {
	deps *Deps
	id   string
	self *actor.PID
	sys  *actor.ActorSystem
}

// now is the directory's clock (persistence.Config.Now), which decides
// when grants, memberships and deputyships end.
func (b *grainBase) now() time.Time { return b.deps.Store.Now() }

// activate records the activation (on ClusterInit) and arms passivation.
func (b *grainBase) activate(ctx actor.Context, kind string, m *cluster.ClusterInit) {
	b.deps = depsOf(ctx.ActorSystem())
	b.id = m.Identity.GetIdentity()
	b.self = ctx.Self()
	b.sys = ctx.ActorSystem()
	fresh := b.deps.local.add(kind, b.id, b.self)
	b.deps.Metrics.activated(kind)
	if !fresh {
		// It replaced an activation that had not stopped yet: that one
		// ends now (its own Stopped finds nothing to remove).
		b.deps.Metrics.ended(kind)
	}
	ctx.SetReceiveTimeout(passivateAfter)
}

// stopped forgets the activation (on Stopped).
func (b *grainBase) stopped(kind string) {
	if b.deps != nil && b.deps.local.remove(kind, b.id, b.self) {
		b.deps.Metrics.ended(kind)
	}
}

// dirState tracks which directory state a grain's loaded records reflect.
type dirState struct {
	loaded   bool
	loadedAt uint64 // directory index the loaded state reflects at least
	// until is when something the state was loaded with ends (a grant, a
	// membership, a deputyship: unix seconds; 0: nothing ends). The store
	// left out what had ended; from until on the state must be read again.
	until int64
}

// current reports whether the loaded state still holds: loaded, and
// nothing it was loaded with has ended since. The clock is read only when
// something ends: every cached rights check passes here.
func (d *dirState) current(now func() time.Time) bool {
	return d.loaded && (d.until == 0 || now().Unix() < d.until)
}

// freshFor makes a grain's state reflect directory index min: it waits
// (bounded) until the node has applied it, and marks state loaded before
// as stale.
func (d *dirState) freshFor(deps *Deps, min uint64) *actorspb.Error {
	if min == 0 || (d.loaded && d.loadedAt >= min) {
		return nil
	}
	if deps.Applied() < min {
		ctx, cancel := context.WithTimeout(context.Background(), freshTimeout)
		defer cancel()
		if err := deps.WaitApplied(ctx, min); err != nil {
			return refusal(CodeUnavailable, "the directory has not caught up with the given index")
		}
	}
	d.loaded = false
	return nil
}

// recordGrain is a grain whose state comes from one directory record.
type recordGrain interface {
	load() error     // (re)loads the record and what depends on it when stale
	hasRecord() bool // the directory holds the record
}

// prepare is the first step of every grain request: make g's record
// reflect directory index min (freshFor), load it, and refuse with
// not-found, saying missing, when the directory has none. (g is an
// interface, not method values: no allocation on the call path.)
func (d *dirState) prepare(deps *Deps, min uint64, g recordGrain, missing string) *actorspb.Error {
	if e := d.freshFor(deps, min); e != nil {
		return e
	}
	if err := g.load(); err != nil {
		return errDirectory()
	}
	if !g.hasRecord() {
		return refusal(CodeNotFound, missing)
	}
	return nil
}

// markLoaded records that the grain loaded its records at index at, and
// that they hold until until (0: until the next directory change).
func (d *dirState) markLoaded(at uint64, until int64) {
	d.loaded, d.loadedAt, d.until = true, at, until
}

// endWake tells a grain, as a DirectoryChanged, when something its loaded
// state was read with ends: the watchers are told of a right that ended
// at that instant, before the leader's sweep deletes it.
type endWake struct {
	at    int64
	timer *time.Timer
}

// arm wakes self at until (unix seconds), measured on the store's clock
// now; 0 or the time already armed changes nothing.
func (e *endWake) arm(b *grainBase, until int64, now time.Time) {
	if until == 0 || until == e.at || b.sys == nil {
		return
	}
	e.stop()
	e.at = until
	sys, self := b.sys, b.self
	e.timer = time.AfterFunc(max(time.Unix(until, 0).Sub(now), 0), func() {
		sys.Root.Send(self, &actorspb.DirectoryChanged{})
	})
}

// stop disarms the wake (the grain stops).
func (e *endWake) stop() {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.at, e.timer = 0, nil
}

// targetUntil is Target.Until, 0 for no target.
func targetUntil(t *dirrights.Target) int64 {
	if t == nil {
		return 0
	}
	return t.Until
}

// viewerRights caches what every viewer holds over one user (a user
// grain's user, a line grain's owner).
type viewerRights struct {
	target *dirrights.Target // nil: no such user, nobody holds anything
	cache  map[string]rights.Set
	gen    uint64 // bumped whenever the cache is cleared
}

// reset drops the cache and sets the rights inputs.
func (v *viewerRights) reset(t *dirrights.Target) {
	v.target = t
	if v.cache == nil {
		v.cache = map[string]rights.Set{}
	}
	clear(v.cache)
	v.gen++
}

// of is what viewer holds, from the cache.
func (v *viewerRights) of(viewer string) rights.Set {
	if s, ok := v.cache[viewer]; ok {
		return s
	}
	if v.target == nil {
		return 0
	}
	s := rights.Effective(v.target.Pair(viewer))
	v.cache[viewer] = s
	return s
}

// forWatcher is of for a watcher, from the watcher's own copy while the
// cache generation holds: a change to thousands of watchers then costs no
// map lookup per watcher.
func (v *viewerRights) forWatcher(w *watcher) rights.Set {
	if w.gen == v.gen {
		return w.held
	}
	w.held = v.of(w.viewer)
	w.gen = v.gen
	return w.held
}
