package actors

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence"
)

// Dispatch tells the grains active on this node about the directory
// changes that concern them, until changes is closed or ctx ends. It never
// activates a grain: an inactive one reads the directory when it starts.
func Dispatch(ctx context.Context, system *actor.ActorSystem, deps *Deps, changes <-chan persistence.Change) {
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				return
			}
			for _, pid := range affectedUsers(deps, c) {
				system.Root.Send(pid, &actorspb.DirectoryChanged{Index: c.Index, All: c.Reset})
			}
		}
	}
}

// affectedUsers are the local user grains whose cached rights, user record
// or presence view a change may alter.
func affectedUsers(deps *Deps, c persistence.Change) []*actor.PID {
	if c.Reset || c.Kind == persistence.KindGlobal {
		return deps.local.all(KindUser)
	}
	var pids []*actor.PID
	add := func(id string) {
		if pid := deps.local.get(KindUser, id); pid != nil {
			pids = append(pids, pid)
		}
	}
	switch c.Kind {
	case persistence.KindUser, persistence.KindGrant, persistence.KindPreset:
		add(c.ID)
	}
	for _, u := range c.Users {
		if u != c.ID {
			add(u)
		}
	}
	return pids
}
