package actors

import (
	"context"
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence"
)

// Dispatch tells the grains active on this node about the directory
// changes that concern them, until changes is closed or ctx ends. It never
// activates a grain: an inactive one reads the directory when it starts.
func Dispatch(ctx context.Context, system *actor.ActorSystem, deps *Deps, changes <-chan persistence.Change) {
	persistence.Follow(ctx, changes, func(c persistence.Change) {
		for _, pid := range affected(deps, c) {
			system.Root.Send(pid, &actorspb.DirectoryChanged{Index: c.Index, All: c.Reset})
		}
	})
}

// affected are the local grains whose cached rights, records or views a
// change may alter: the users it names, their lines, the line or group it
// concerns; every grain after a reset or a change of the global layer.
// Journal entries concern none: no grain keeps them, and reloading the
// owner's grains after every ended call leg would cost each next call.
func affected(deps *Deps, c persistence.Change) []*actor.PID {
	if c.Kind == persistence.KindJournal && !c.Reset {
		return nil
	}
	if c.Reset || c.Kind == persistence.KindGlobal {
		return slices.Concat(deps.local.all(KindUser), deps.local.all(KindLine), deps.local.all(KindGroup))
	}
	var pids []*actor.PID
	add := func(kind, id string) {
		if pid := deps.local.get(kind, id); pid != nil {
			pids = append(pids, pid)
		}
	}
	user := func(id string) {
		add(KindUser, id)
		pids = append(pids, deps.local.linesOwnedBy(id)...)
	}
	switch c.Kind {
	case persistence.KindUser, persistence.KindGrant, persistence.KindPreset:
		user(c.ID)
	case persistence.KindLine, persistence.KindRegistration:
		add(KindLine, c.ID)
	case persistence.KindGroup:
		add(KindGroup, c.ID)
	}
	for _, u := range c.Users {
		if u != c.ID {
			user(u)
		}
	}
	slices.SortFunc(pids, func(a, b *actor.PID) int { return strings.Compare(a.Id, b.Id) })
	return slices.CompactFunc(pids, func(a, b *actor.PID) bool { return a.Equal(b) })
}
